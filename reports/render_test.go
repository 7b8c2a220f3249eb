package reports

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/lens-go/lens/harness/result"
)

func TestBuildEveryTableWithAndWithoutRuns(t *testing.T) {
	p, err := LoadPaper()
	if err != nil {
		t.Fatal(err)
	}
	prov := result.Provenance{DataSource: "synthetic NetBench (seed 1)", Synthetic: true, DataHash: "abcdef0123456789", Preset: "smoke", Backend: "go", CodeVersion: "test"}
	set := &result.Set{Notes: map[string]string{"FS-Net": "baseline not built yet"}}
	for _, seed := range []uint64{1, 2} {
		set.Put(result.Run{ID: "a" + string(rune('0'+seed)), Kind: result.KindClassify, Method: "Lens", Task: 1, Seed: seed,
			Metrics: result.Metrics{"AC": 0.9 + float64(seed)/100, "F1": 0.8}, Prov: prov})
	}
	set.Put(result.Run{ID: "b", Kind: result.KindClassify, Method: "ET-BERT", Task: 1, Seed: 1, Metrics: result.Metrics{"AC": 0.95, "F1": 0.7}, Prov: prov})
	for _, id := range TableIDs {
		tb, err := Build(id, set, p)
		if err != nil {
			t.Fatalf("table %s: %v", id, err)
		}
		if len(tb.Rows) == 0 || len(tb.Columns) == 0 {
			t.Fatalf("table %s is empty", id)
		}
		for _, f := range []Format{Terminal, Markdown, CSV, JSON} {
			var buf bytes.Buffer
			if err := tb.Write(&buf, f); err != nil {
				t.Fatalf("table %s as %s: %v", id, f, err)
			}
		}
	}
	tb, _ := Build("2", set, p)
	var lens, et *Row
	for i := range tb.Rows {
		switch tb.Rows[i].Label {
		case "Lens (ours)":
			lens = &tb.Rows[i]
		case "ET-BERT":
			et = &tb.Rows[i]
		}
	}
	c := lens.Cells[0] // Task 1 AC
	if c.Ours == nil || c.Ours.N != 2 || c.Ours.Mean < 0.9149 || c.Ours.Mean > 0.9151 || *c.Paper != 0.9942 {
		t.Fatalf("Lens task 1 AC cell %+v", c)
	}
	if !et.Cells[0].Best || !lens.Cells[0].Second || !lens.Cells[1].Best {
		t.Errorf("best/second marks wrong: ET-BERT AC best=%v, Lens AC second=%v, Lens F1 best=%v", et.Cells[0].Best, lens.Cells[0].Second, lens.Cells[1].Best)
	}
	if tb.Rows[0].Cells[0].NA != "baseline not built yet" {
		t.Errorf("FS-Net NA reason %q", tb.Rows[0].Cells[0].NA)
	}
	var md bytes.Buffer
	tb.Write(&md, Markdown)
	for _, want := range []string{"SYNTHETIC DATA", "0.9150±0.0071", "**0.9500**", "0.9942", "-0.0792", "baseline not built yet"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestWriteFigure3(t *testing.T) {
	set := &result.Set{}
	for i, m := range []string{"NetShare", "TrafficLLM", "Lens"} {
		for _, d := range []string{"DT", "SVM", "MLP"} {
			set.Put(result.Run{ID: m + d, Kind: result.KindFuzz, Method: m, Task: 11, Detector: d,
				Metrics: result.Metrics{"AC": 0.5 + 0.1*float64(i), "F1": 0.4 + 0.1*float64(i)}, Prov: result.Provenance{Synthetic: true}})
		}
	}
	dir := t.TempDir()
	files, err := WriteFigure3(set, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("files %v, want PNG and SVG for AC and F1", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) < 500 {
			t.Fatalf("%s: %d bytes (%v)", f, len(b), err)
		}
		if strings.HasSuffix(f, ".svg") && !strings.Contains(string(b), "SYNTHETIC DATA") {
			t.Errorf("%s does not say the data are synthetic", f)
		}
		if strings.HasSuffix(f, ".png") && string(b[1:4]) != "PNG" {
			t.Errorf("%s is not a PNG", f)
		}
	}
}
