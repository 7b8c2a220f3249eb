// Package reports prints the paper's tables (2 to 16) and Figure 3 with our
// numbers beside the paper's published ones and the difference, in the
// paper's layout, as terminal tables, Markdown, CSV and JSON. It reads run
// results (package harness/result) and never trains anything.
package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed paper.json
var paperJSON []byte

// PaperRow is one row of a published table.
type PaperRow struct {
	Dataset     string     `json:"dataset,omitempty"`
	Description string     `json:"description,omitempty"`
	Method      string     `json:"method"`
	Values      []*float64 `json:"values"` // nil where the paper prints NA or –
	Raw         []string   `json:"raw"`    // the cell text as printed
}

// PaperBlock is one sub-table (Tables 14-16 have one per task).
type PaperBlock struct {
	Task    string      `json:"task"`
	Columns [][2]string `json:"columns"`
	Rows    []PaperRow  `json:"rows"`
}

// PaperTable is a published table: columns as (group, metric) pairs.
type PaperTable struct {
	Title   string             `json:"title"`
	Columns [][2]string        `json:"columns"`
	Rows    []PaperRow         `json:"rows"`
	Blocks  []PaperBlock       `json:"blocks"`
	Note    string             `json:"note"`
	Gain    map[string]float64 `json:"relative_gain_over_trafficllm"`
}

// Paper holds every published table, by id ("2" ... "16", "13a", "fig3").
type Paper struct {
	Source string                 `json:"source"`
	Tables map[string]*PaperTable `json:"tables"`
}

// LoadPaper returns the transcribed published values (reports/paper.json,
// written by tools/gen_paper_values.py from the paper's text).
func LoadPaper() (*Paper, error) {
	var p Paper
	if err := json.Unmarshal(paperJSON, &p); err != nil {
		return nil, fmt.Errorf("paper.json: %w", err)
	}
	return &p, nil
}

// Value returns the published value of table id at (row method, column
// group and metric), and whether the paper prints a number there.
func (p *Paper) Value(id, dataset, method, group, metric string) (float64, bool) {
	t := p.Tables[id]
	if t == nil {
		return 0, false
	}
	look := func(cols [][2]string, rows []PaperRow, dataset string) (float64, bool) {
		for ci, c := range cols {
			if c[0] != group || c[1] != metric {
				continue
			}
			for _, r := range rows {
				if r.Method == method && (dataset == "" || r.Dataset == dataset) && ci < len(r.Values) && r.Values[ci] != nil {
					return *r.Values[ci], true
				}
			}
		}
		return 0, false
	}
	if v, ok := look(t.Columns, t.Rows, dataset); ok {
		return v, true
	}
	for _, b := range t.Blocks {
		if b.Task == dataset || dataset == "" {
			if v, ok := look(b.Columns, b.Rows, ""); ok {
				return v, true
			}
		}
	}
	return 0, false
}
