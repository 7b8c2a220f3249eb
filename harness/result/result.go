// Package result defines the records that experiments write and reports
// read: one Run per trained and evaluated configuration, with the metrics it
// measured and the provenance that names it (data hash, split, config, seed,
// backend, code version). It holds types and their file format only.
package result

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Kinds of run.
const (
	KindPretrain = "pretrain" // masked-span pretraining (validation accuracy: Table 13)
	KindClassify = "classify" // finetune + evaluate a classification task (Tables 2-4, 8, 12)
	KindExtend   = "extend"   // extension to new classes (Tables 5, 14-16)
	KindGenerate = "generate" // header-field generation (Tables 6, 7)
	KindFuzz     = "fuzz"     // detectors trained on generated headers (Figure 3)
)

// Provenance names exactly what a number came from.
type Provenance struct {
	DataSource  string  `json:"data_source"` // "synthetic NetBench (seed 1)" or a corpus path
	Synthetic   bool    `json:"synthetic"`
	DataHash    string  `json:"data_hash"`
	SplitHash   string  `json:"split_hash,omitempty"`
	ConfigHash  string  `json:"config_hash"`
	Preset      string  `json:"preset"`
	Backend     string  `json:"backend"`
	CodeVersion string  `json:"code_version"`
	WallSeconds float64 `json:"wall_seconds"`
}

// Run is one experiment's outcome.
type Run struct {
	ID       string  `json:"id"` // content hash of (data, config, code version, seed)
	Kind     string  `json:"kind"`
	Method   string  `json:"method"`            // "Lens", "ET-BERT", "FS-Net", ...
	Variant  string  `json:"variant,omitempty"` // "", "w/o FT-Context", "w/o KG-MSP", "random-masking", "theta=0.3", "k=0.5"
	Task     int     `json:"task,omitempty"`
	Dataset  string  `json:"dataset,omitempty"`
	Field    string  `json:"field,omitempty"`    // generation: "src_ip", "dst_port", ...
	Scenario int     `json:"scenario,omitempty"` // extension: number of new classes
	Detector string  `json:"detector,omitempty"` // fuzzing: "DT", "SVM", "MLP"
	Seed     uint64  `json:"seed"`
	Metrics  Metrics `json:"metrics"`
	// PerExample holds each test example's outcome (1 correct, 0 wrong), in
	// test order, for paired bootstrap intervals between runs.
	PerExample []float64  `json:"per_example,omitempty"`
	Prov       Provenance `json:"provenance"`
}

// Metrics maps a metric name to its value. Names: "AC", "F1" (macro), "JSD",
// "TVD", "JSD_rank"; per class "P:<label>", "R:<label>", "F1:<label>",
// "N:<label>" (test support).
type Metrics map[string]float64

// Set is a results file: every run of a reproduction plus notes that explain
// cells that have no run (a baseline not built, a table not asked for).
type Set struct {
	Runs  []Run             `json:"runs"`
	Notes map[string]string `json:"notes,omitempty"` // method or table -> why it has no numbers
	Data  *Data             `json:"data,omitempty"`  // Tables 9-11
	// Intervals compare ablation variants with the full model (Tables 8, 12).
	Intervals []Interval `json:"intervals,omitempty"`
}

// Interval is a paired bootstrap confidence interval for the difference of
// a metric between a variant and the full model on the same test flows.
type Interval struct {
	Kind     string  `json:"kind"`
	Method   string  `json:"method"`
	Task     int     `json:"task"`
	Variant  string  `json:"variant"`
	Metric   string  `json:"metric"`
	Diff     float64 `json:"diff"` // variant minus full
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	Level    float64 `json:"level"`
	Examples int     `json:"examples"`
}

// Data describes the corpus a reproduction used (Tables 9, 10 and 11).
type Data struct {
	PacketsPerFlow [5]float64            `json:"packets_per_flow"` // 0/25/50/75/100th percentiles
	TokensPerFlow  [5]float64            `json:"tokens_per_flow"`
	Tokenizer      string                `json:"tokenizer"`
	Shares         map[string][3]float64 `json:"shares"` // dataset -> pretraining, finetuning, test shares
	TaskClasses    map[int]int           `json:"task_classes"`
	Prov           Provenance            `json:"provenance"`
}

// Load reads a results file.
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Set
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Save writes the set to path atomically.
func (s *Set) Save(path string) error {
	sort.SliceStable(s.Runs, func(i, j int) bool { return s.Runs[i].ID < s.Runs[j].ID })
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Put adds or replaces the run with r's ID.
func (s *Set) Put(r Run) {
	for i := range s.Runs {
		if s.Runs[i].ID == r.ID {
			s.Runs[i] = r
			return
		}
	}
	s.Runs = append(s.Runs, r)
}

// Find returns the runs that match sel (zero fields of sel match anything
// except Variant, which must equal).
func (s *Set) Find(sel Run) []Run {
	var out []Run
	for _, r := range s.Runs {
		if sel.Kind != "" && r.Kind != sel.Kind ||
			sel.Method != "" && r.Method != sel.Method ||
			r.Variant != sel.Variant ||
			sel.Task != 0 && r.Task != sel.Task ||
			sel.Dataset != "" && r.Dataset != sel.Dataset ||
			sel.Field != "" && r.Field != sel.Field ||
			sel.Scenario != 0 && r.Scenario != sel.Scenario ||
			sel.Detector != "" && r.Detector != sel.Detector {
			continue
		}
		out = append(out, r)
	}
	return out
}
