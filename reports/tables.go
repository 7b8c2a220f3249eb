package reports

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/lens-go/lens/harness/result"
)

// Stat is a value over seeds.
type Stat struct {
	Mean, Std float64
	N         int
}

// Cell is one cell: our value (nil when no run filled it, with NA saying
// why), the paper's, and whether ours is the best or second best in its
// column.
type Cell struct {
	Ours         *Stat
	Paper        *float64
	NA           string
	Best, Second bool
}

// Diff is ours minus the paper's, when both exist.
func (c Cell) Diff() (float64, bool) {
	if c.Ours == nil || c.Paper == nil {
		return 0, false
	}
	return c.Ours.Mean - *c.Paper, true
}

// Row is one row of a table (a method, or a method on a dataset).
type Row struct {
	Label string
	Cells []Cell
}

// Table is a table in the paper's layout with our numbers and the paper's.
type Table struct {
	ID, Title string
	Columns   [][2]string // (group, metric)
	Rows      []Row
	Lower     bool   // lower is better (JSD, TVD)
	Counts    bool   // cells are counts (printed as integers)
	Caption   string // data source, preset, backend, seeds, code version
	Notes     []string
}

// methodSpec maps our method name to its row label in the paper.
type methodSpec struct{ ours, paper, label string }

var classificationMethods = []methodSpec{
	{"FS-Net", "FS-Net", "FS-Net"},
	{"BiLSTM_Att", "BiLSTM_Att", "BiLSTM_Att"},
	{"Datanet", "Datanet", "Datanet"},
	{"DeepPacket", "DeepPacket", "DeepPacket"},
	{"TSCRNN", "TSCRNN", "TSCRNN"},
	{"YaTC", "YaTC", "YaTC"},
	{"TrafficLLM", "TrafficLLM", "TrafficLLM (stand-in)"},
	{"ET-BERT", "ET-Bert", "ET-BERT"},
	{"Lens", "Lens (Ours)", "Lens (ours)"},
}

// stat aggregates a metric over the runs (one per seed).
func stat(runs []result.Run, metric string) *Stat {
	var v []float64
	for _, r := range runs {
		if x, ok := r.Metrics[metric]; ok && !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return nil
	}
	var s Stat
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	for _, x := range v {
		s.Std += (x - s.Mean) * (x - s.Mean)
	}
	if len(v) > 1 {
		s.Std = math.Sqrt(s.Std / float64(len(v)-1))
	}
	s.N = len(v)
	return &s
}

func ptr(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

// builder collects what a table needs.
type builder struct {
	set   *result.Set
	paper *Paper
	used  []result.Run
}

func (b *builder) cell(sel result.Run, metric string, paper *float64, naPaperOnly bool) Cell {
	runs := b.set.Find(sel)
	b.used = append(b.used, runs...)
	c := Cell{Ours: stat(runs, metric), Paper: paper}
	if c.Ours == nil {
		c.NA = b.whyNA(sel)
	}
	return c
}

func (b *builder) whyNA(sel result.Run) string {
	if n, ok := b.set.Notes[sel.Method+" "+sel.Kind]; ok {
		return n
	}
	if n, ok := b.set.Notes[sel.Method]; ok {
		return n
	}
	if n, ok := b.set.Notes[sel.Kind]; ok {
		return n
	}
	return "not run"
}

// Build returns table id ("2" ... "16", "13a", "13b", "fig3") from the runs
// in set, with the paper's values beside ours.
func Build(id string, set *result.Set, paper *Paper) (*Table, error) {
	b := &builder{set: set, paper: paper}
	pt := paper.Tables[id]
	if pt == nil {
		return nil, fmt.Errorf("unknown table %q (have %s)", id, strings.Join(TableIDs, ", "))
	}
	t := &Table{ID: id, Title: pt.Title}
	switch id {
	case "2", "3":
		tasks := []int{1, 2, 3, 4, 5, 6}
		if id == "3" {
			tasks = []int{7, 8, 9, 10, 11, 12}
		}
		for _, task := range tasks {
			for _, m := range []string{"AC", "F1"} {
				t.Columns = append(t.Columns, [2]string{fmt.Sprintf("Task %d", task), m})
			}
		}
		if id == "3" {
			t.Columns = append(t.Columns, [2]string{"Avg.", "AC"})
		}
		for _, ms := range classificationMethods {
			row := Row{Label: ms.label}
			for _, col := range t.Columns {
				pv := ptr(paper.Value(id, "", ms.paper, col[0], col[1]))
				if col[0] == "Avg." {
					row.Cells = append(row.Cells, b.average(ms.ours, pv))
					continue
				}
				var task int
				fmt.Sscanf(col[0], "Task %d", &task)
				row.Cells = append(row.Cells, b.cell(result.Run{Kind: result.KindClassify, Method: ms.ours, Task: task}, col[1], pv, false))
			}
			t.Rows = append(t.Rows, row)
		}
	case "4":
		methods := []methodSpec{{"ET-BERT", "ET-BERT", "ET-BERT"}, {"YaTC", "YaTC", "YaTC"}, {"Lens", "Lens (Ours)", "Lens (ours)"}}
		t.Columns = [][2]string{{"", "n (test)"}}
		for _, m := range methods {
			t.Columns = append(t.Columns, [2]string{m.label, "F1"})
		}
		for _, pr := range pt.Rows {
			cls := pr.Method
			row := Row{Label: cls}
			lens := b.cell(result.Run{Kind: result.KindClassify, Method: "Lens", Task: 12}, "N:"+cls, ptr(paper.Value("4", "", cls, "", "Sample Size (n)")), false)
			row.Cells = append(row.Cells, lens)
			for _, m := range methods {
				row.Cells = append(row.Cells, b.cell(result.Run{Kind: result.KindClassify, Method: m.ours, Task: 12}, "F1:"+cls, ptr(paper.Value("4", "", cls, "", m.paper)), false))
			}
			t.Rows = append(t.Rows, row)
		}
	case "5":
		methods := []methodSpec{{"ET-BERT", "ET-BERT", "ET-BERT"}, {"ET-BERT-LwF", "ET-BERT-LwF", "ET-BERT-LwF"}, {"Lens", "Lens(Ours)", "Lens (ours)"}}
		for _, c := range pt.Columns {
			t.Columns = append(t.Columns, c)
		}
		for _, m := range methods {
			row := Row{Label: m.label}
			for _, col := range t.Columns {
				var task, n int
				fmt.Sscanf(col[0], "Task %d", &task)
				fmt.Sscanf(col[0][strings.Index(col[0], "/ ")+2:], "%d new", &n)
				row.Cells = append(row.Cells, b.cell(result.Run{Kind: result.KindExtend, Method: m.ours, Task: task, Scenario: n}, col[1], ptr(paper.Value("5", "", m.paper, col[0], col[1])), false))
			}
			t.Rows = append(t.Rows, row)
		}
	case "6":
		t.Lower = true
		t.Columns = pt.Columns
		fieldKey := map[string]string{"Src IP": "src_ip", "Dst IP": "dst_ip", "Src Port": "src_port", "Dst Port": "dst_port", "Len": "length"}
		dsName := map[string]string{"ISCX-VPN": "ISCX-VPN", "ISCXTor": "ISCX-Tor", "USTC-TFC": "USTC-TFC2016", "Cross Platform (IOS)": "CrossPlatform-iOS",
			"Cross Platform (AN)": "CrossPlatform-Android", "CIRA-CIC-DoHBrw": "CIC-DoHBrw-2020", "CIC-IoT-2023": "CIC-IoT-2023"}
		methods := map[string]methodSpec{"NetShare": {"NetShare", "NetShare", "NetShare"}, "TrafficLLM": {"TrafficLLM", "TrafficLLM", "TrafficLLM (stand-in)"}, "Lens (Ours)": {"Lens", "Lens (Ours)", "Lens (ours)"}}
		for _, pr := range pt.Rows {
			m := methods[pr.Method]
			row := Row{Label: pr.Dataset + " · " + m.label}
			for _, col := range t.Columns {
				row.Cells = append(row.Cells, b.cell(result.Run{Kind: result.KindGenerate, Method: m.ours, Dataset: dsName[pr.Dataset], Field: fieldKey[col[1]]},
					col[0], ptr(paper.Value("6", pr.Dataset, pr.Method, col[0], col[1])), false))
			}
			t.Rows = append(t.Rows, row)
		}
	case "7":
		t.Lower = true
		t.Columns = [][2]string{{"", "JSD"}, {"", "TVD"}}
		for _, v := range [][2]string{{"", "Lens (Full model)"}, {"w/o FT-Context", "w/o FT-Context"}, {"w/o KG-MSP", "w/o KG-MSP"}} {
			row := Row{Label: v[1]}
			for _, col := range t.Columns {
				row.Cells = append(row.Cells, b.cell(result.Run{Kind: result.KindGenerate, Method: "Lens", Variant: v[0], Dataset: "ISCX-VPN", Field: "dst_port"},
					col[1], ptr(paper.Value("7", "", v[1], "", col[1])), false))
			}
			t.Rows = append(t.Rows, row)
		}
	case "8", "12":
		t.Columns = pt.Columns
		variants := [][2]string{{"", "Lens (Full model)"}, {"w/o FT-Context", "w/o FT-Context"}, {"w/o KG-MSP", "w/o KG-MSP"}}
		taskOf := map[string]int{"Tor Service Detection": 4, "VPN App. Classification": 3, "Task 2": 2, "Task 3": 3}
		if id == "12" {
			variants = [][2]string{{"random-masking", "Random Masking"}, {"", "KG-MSP(Ours)"}}
		}
		t.Notes = append(t.Notes, b.bootstrapNotes(variants, taskOf, pt.Columns)...)
		for _, v := range variants {
			row := Row{Label: v[1]}
			for _, col := range t.Columns {
				sel := result.Run{Kind: result.KindClassify, Method: "Lens", Variant: v[0], Task: taskOf[col[0]]}
				row.Cells = append(row.Cells, b.cell(sel, col[1], ptr(paper.Value(id, "", v[1], col[0], col[1])), false))
			}
			t.Rows = append(t.Rows, row)
		}
	case "13a", "13b":
		t.Columns = pt.Columns
		name := "theta"
		if id == "13b" {
			name = "k"
		}
		row := Row{Label: "Lens (ours)"}
		for _, col := range t.Columns {
			var pct int
			fmt.Sscanf(col[1], "%d%%", &pct)
			sel := result.Run{Kind: result.KindPretrain, Method: "Lens", Variant: fmt.Sprintf("%s=%.2f", name, float64(pct)/100)}
			row.Cells = append(row.Cells, b.cell(sel, "AC", ptr(paper.Value(id, "", "Lens (Ours)", "", col[1])), false))
		}
		t.Rows = append(t.Rows, row)
		t.Notes = append(t.Notes, "AC is the masked-span token accuracy on held-out pretraining data (the paper's 'validation performance').")
	case "14", "15", "16":
		n := map[string]int{"14": 1, "15": 3, "16": 5}[id]
		for _, blk := range pt.Blocks {
			var task int
			fmt.Sscanf(blk.Task, "Task %d", &task)
			for _, c := range blk.Columns {
				t.Columns = append(t.Columns, [2]string{blk.Task + " " + c[0], c[1]})
			}
		}
		for _, m := range []methodSpec{{"ET-BERT", "ET-BERT", "ET-BERT"}, {"ET-BERT-LwF", "", "ET-BERT-LwF"}, {"Lens", "Lens", "Lens (ours)"}} {
			row := Row{Label: m.label}
			for _, blk := range pt.Blocks {
				var task int
				fmt.Sscanf(blk.Task, "Task %d", &task)
				for _, c := range blk.Columns {
					sel := result.Run{Kind: result.KindExtend, Method: m.ours, Task: task, Scenario: n}
					row.Cells = append(row.Cells, b.cell(sel, c[1]+":"+c[0], ptr(paper.Value(id, blk.Task, m.paper, c[0], c[1])), false))
				}
			}
			t.Rows = append(t.Rows, row)
		}
	case "9", "10", "11":
		t.Columns = pt.Columns
		t.Counts = id != "10"
		d := set.Data
		for _, pr := range pt.Rows {
			row := Row{Label: pr.Method}
			for ci := range t.Columns {
				c := Cell{Paper: pr.Values[ci], NA: "no data statistics in these results"}
				if d != nil {
					c.NA = ""
					switch id {
					case "9":
						v := d.PacketsPerFlow
						if ci < 5 && strings.Contains(pr.Method, "tokenized") {
							v = d.TokensPerFlow
						}
						c.Ours = &Stat{Mean: v[ci], N: 1}
					case "10":
						if sh, ok := d.Shares[table10Dataset[pr.Method]]; ok && !(ci == 0 && sh[0] == 0) {
							c.Ours = &Stat{Mean: sh[ci], N: 1}
						} else {
							c.NA = "not in this corpus, or NA by design"
						}
					case "11":
						var task int
						fmt.Sscanf(pr.Method, "Task %d", &task)
						if n, ok := d.TaskClasses[task]; ok {
							c.Ours = &Stat{Mean: float64(n), N: 1}
						}
					}
				}
				row.Cells = append(row.Cells, c)
			}
			t.Rows = append(t.Rows, row)
		}
		if d != nil {
			t.Caption = caption([]result.Run{{Prov: d.Prov}})
			if id == "9" {
				t.Notes = append(t.Notes, "Tokenized lengths use "+d.Tokenizer+".")
			}
		}
		return t, nil
	case "fig3":
		t.Columns = [][2]string{{"Decision tree", "AC"}, {"Decision tree", "F1"}, {"SVM", "AC"}, {"SVM", "F1"}, {"MLP", "AC"}, {"MLP", "F1"}}
		det := map[string]string{"Decision tree": "DT", "SVM": "SVM", "MLP": "MLP"}
		for _, m := range []methodSpec{{"NetShare", "", "NetShare"}, {"TrafficLLM", "", "TrafficLLM (stand-in)"}, {"Lens", "", "Lens (ours)"}} {
			row := Row{Label: m.label}
			for _, col := range t.Columns {
				row.Cells = append(row.Cells, b.cell(result.Run{Kind: result.KindFuzz, Method: m.ours, Task: 11, Detector: det[col[0]]}, col[1], nil, false))
			}
			t.Rows = append(t.Rows, row)
		}
		t.Notes = append(t.Notes, pt.Note)
	}
	t.mark()
	t.Caption = caption(b.used)
	return t, nil
}

// bootstrapNotes prints the paired bootstrap intervals the harness
// computed for the ablation variants of this table (the paper reports single
// runs; these say whether a difference is real).
func (b *builder) bootstrapNotes(variants [][2]string, taskOf map[string]int, cols [][2]string) []string {
	var notes []string
	seen := map[int]bool{}
	for _, c := range cols {
		task := taskOf[c[0]]
		if seen[task] {
			continue
		}
		seen[task] = true
		for _, v := range variants {
			for _, iv := range b.set.Intervals {
				if iv.Method != "Lens" || iv.Task != task || iv.Variant != v[0] || v[0] == "" {
					continue
				}
				verdict := "not significant"
				if iv.Lo > 0 || iv.Hi < 0 {
					verdict = "significant"
				}
				notes = append(notes, fmt.Sprintf("Task %d %s, %s minus full model: %+.4f, %.0f%% paired-bootstrap CI [%+.4f, %+.4f] over %d test flows (%s).",
					task, iv.Metric, v[1], iv.Diff, 100*iv.Level, iv.Lo, iv.Hi, iv.Examples, verdict))
			}
		}
	}
	return notes
}

// TableIDs lists the tables in report order.
var TableIDs = []string{"2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13a", "13b", "14", "15", "16", "fig3"}

// table10Dataset maps Table 10's dataset names to the registry's.
var table10Dataset = map[string]string{
	"ISCX-VPN": "ISCX-VPN", "ISCX-Tor": "ISCX-Tor", "USTC-TFC-2016": "USTC-TFC2016",
	"Cross Platform (Android)": "CrossPlatform-Android", "Cross Platform (IOS)": "CrossPlatform-iOS",
	"CIC-DoHBrw-2020": "CIC-DoHBrw-2020", "CIC-IoT-2023": "CIC-IoT-2023",
}

// average is Table 3's "Avg.": the mean accuracy over the 12 tasks, only
// when all 12 have a number.
func (b *builder) average(method string, paper *float64) Cell {
	var sum float64
	n := 0
	for task := 1; task <= 12; task++ {
		if s := stat(b.set.Find(result.Run{Kind: result.KindClassify, Method: method, Task: task}), "AC"); s != nil {
			sum += s.Mean
			n++
		}
	}
	c := Cell{Paper: paper}
	if n == 12 {
		c.Ours = &Stat{Mean: sum / 12, N: 1}
	} else {
		c.NA = fmt.Sprintf("%d of 12 tasks run", n)
	}
	return c
}

// mark flags the best and second best of our values in each column.
func (t *Table) mark() {
	for ci := range t.Columns {
		type iv struct {
			i int
			v float64
		}
		var vals []iv
		for ri, r := range t.Rows {
			if ci < len(r.Cells) && r.Cells[ci].Ours != nil {
				vals = append(vals, iv{ri, r.Cells[ci].Ours.Mean})
			}
		}
		if len(vals) < 2 || t.Columns[ci][1] == "n (test)" {
			continue
		}
		sort.SliceStable(vals, func(a, b int) bool {
			if t.Lower {
				return vals[a].v < vals[b].v
			}
			return vals[a].v > vals[b].v
		})
		t.Rows[vals[0].i].Cells[ci].Best = true
		t.Rows[vals[1].i].Cells[ci].Second = true
	}
}

// caption names what the numbers came from.
func caption(runs []result.Run) string {
	if len(runs) == 0 {
		return "no runs yet: every cell of ours is NA"
	}
	set := func(f func(result.Run) string) string {
		m := map[string]bool{}
		for _, r := range runs {
			m[f(r)] = true
		}
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return strings.Join(s, ", ")
	}
	seeds := map[uint64]bool{}
	for _, r := range runs {
		seeds[r.Seed] = true
	}
	syn := ""
	for _, r := range runs {
		if r.Prov.Synthetic {
			syn = "SYNTHETIC DATA — "
			break
		}
	}
	return fmt.Sprintf("%sdata: %s (hash %s); preset %s; backend %s; %d seed(s); code %s",
		syn, set(func(r result.Run) string { return r.Prov.DataSource }),
		set(func(r result.Run) string { return short(r.Prov.DataHash) }),
		set(func(r result.Run) string { return r.Prov.Preset }),
		set(func(r result.Run) string { return r.Prov.Backend }), len(seeds),
		set(func(r result.Run) string { return r.Prov.CodeVersion }))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
