package harness

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/reports"
)

// TestSmokeReproduction runs the micro reproduction (every stage on tiny
// data; CI also runs the smoke preset for its report) end to end and checks
// that every table is there with every method row, and that every cell of
// ours is a number or an NA that says why. A rerun is served from the cache.
func TestSmokeReproduction(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the smoke reproduction takes minutes")
	}
	out := t.TempDir()
	var log bytes.Buffer
	h, err := New(Config{Out: out, Preset: "micro", CodeVersion: "test", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	set, err := h.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "FAILED") {
		t.Errorf("a run failed:\n%s", log.String())
	}
	// Every kind of run made numbers: Lens and a baseline on Task 1, the
	// extension, generation for Lens, NetShare and TrafficLLM, the fuzzing
	// test and pretraining's validation accuracy.
	for _, sel := range []result.Run{
		{Kind: result.KindClassify, Method: "Lens", Task: 1},
		{Kind: result.KindClassify, Method: "ET-BERT", Task: 1},
		{Kind: result.KindClassify, Method: "Lens", Variant: "w/o FT-Context", Task: 4},
		{Kind: result.KindExtend, Method: "Lens", Task: 6, Scenario: 3},
		{Kind: result.KindExtend, Method: "ET-BERT-LwF", Task: 8, Scenario: 5},
		{Kind: result.KindGenerate, Method: "Lens", Dataset: "ISCX-VPN", Field: "dst_port"},
		{Kind: result.KindGenerate, Method: "NetShare", Dataset: "CIC-IoT-2023", Field: "src_ip"},
		{Kind: result.KindGenerate, Method: "TrafficLLM", Dataset: "ISCX-Tor", Field: "length"},
		{Kind: result.KindFuzz, Method: "Lens", Detector: "MLP"},
		{Kind: result.KindPretrain, Method: "Lens", Variant: "theta=0.30"},
	} {
		if len(set.Find(sel)) == 0 {
			t.Errorf("no run for %+v", sel)
		}
	}
	paper, err := reports.LoadPaper()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range reports.TableIDs {
		tb, err := reports.Build(id, set, paper)
		if err != nil {
			t.Fatalf("table %s: %v", id, err)
		}
		if len(tb.Rows) == 0 {
			t.Errorf("table %s has no rows", id)
		}
		for _, r := range tb.Rows {
			if len(r.Cells) != len(tb.Columns) {
				t.Errorf("table %s row %s: %d cells for %d columns", id, r.Label, len(r.Cells), len(tb.Columns))
			}
			for ci, c := range r.Cells {
				if c.Ours == nil && strings.TrimSpace(c.NA) == "" {
					t.Errorf("table %s row %s column %v: NA without a reason", id, r.Label, tb.Columns[ci])
				}
			}
		}
		if !strings.Contains(tb.Caption, "SYNTHETIC") && tb.Caption != "no runs yet: every cell of ours is NA" {
			t.Errorf("table %s caption does not say the data are synthetic: %q", id, tb.Caption)
		}
	}
	// Tables 2 and 3 have all nine methods.
	for _, id := range []string{"2", "3"} {
		tb, _ := reports.Build(id, set, paper)
		if len(tb.Rows) != 9 {
			t.Errorf("table %s has %d method rows, want 9", id, len(tb.Rows))
		}
	}
	if set.Data == nil || set.Data.TaskClasses[6] != 209 || set.Data.PacketsPerFlow[4] == 0 {
		t.Errorf("data tables missing: %+v", set.Data)
	}
	saved, err := result.Load(filepath.Join(out, "results.json"))
	if err != nil || saved.Data == nil {
		t.Fatalf("results.json: %v", err)
	}
	// A second run is served from the cache.
	log.Reset()
	h2, _ := New(Config{Out: out, Preset: "micro", CodeVersion: "test", Log: &log})
	if _, err := h2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{"synth", "corpus", "tokenizer"} {
		if !strings.Contains(log.String(), st) || !strings.Contains(log.String(), "cached") {
			t.Errorf("stage %s not cached on rerun:\n%s", st, log.String())
		}
	}
	if strings.Contains(log.String(), "running") || strings.Contains(log.String(), "done in") {
		t.Errorf("a stage ran again:\n%s", log.String())
	}
}

func TestUnknownPresetRefused(t *testing.T) {
	if _, err := New(Config{Out: t.TempDir(), Preset: "huge"}); err == nil || !strings.Contains(err.Error(), "smoke") {
		t.Fatalf("want an error listing the presets, got %v", err)
	}
}
