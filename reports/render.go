package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format names an output format.
type Format string

// The formats Write supports.
const (
	Terminal Format = "terminal"
	Markdown Format = "markdown"
	CSV      Format = "csv"
	JSON     Format = "json"
)

func fmtNum(v float64) string { return fmtVal(v, false) }

// fmtVal prints a count as an integer and anything else with 4 decimals.
func fmtVal(v float64, count bool) string {
	if count || v == math.Trunc(v) && math.Abs(v) >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// ours renders our value: mean, ± std with several seeds, NA with a reason.
func (c Cell) ours(md, count bool) string {
	if c.Ours == nil {
		if md {
			return "NA¹"
		}
		return "NA"
	}
	s := fmtVal(c.Ours.Mean, count)
	if c.Ours.N > 1 {
		s += "±" + fmt.Sprintf("%.4f", c.Ours.Std)
	}
	switch {
	case c.Best && md:
		s = "**" + s + "**"
	case c.Second && md:
		s = "<u>" + s + "</u>"
	case c.Best:
		s += " *"
	case c.Second:
		s += " ·"
	}
	return s
}

func (c Cell) paper(count bool) string {
	if c.Paper == nil {
		return "NA"
	}
	return fmtVal(*c.Paper, count)
}

func (c Cell) diff(count bool) string {
	d, ok := c.Diff()
	if !ok {
		return ""
	}
	if count {
		return fmt.Sprintf("%+.0f", d)
	}
	return fmt.Sprintf("%+.4f", d)
}

func (t *Table) header() []string {
	h := []string{""}
	for _, c := range t.Columns {
		h = append(h, strings.TrimSpace(c[0]+" "+c[1]))
	}
	return h
}

// lines returns the body: for each row, ours, the paper's and the difference.
func (t *Table) lines(md bool) [][]string {
	var out [][]string
	for _, r := range t.Rows {
		ours, paper, diff := []string{r.Label}, []string{"  paper"}, []string{"  Δ ours−paper"}
		for ci, c := range r.Cells {
			count := t.Counts || t.Columns[ci][1] == "n (test)"
			ours = append(ours, c.ours(md, count))
			paper = append(paper, c.paper(count))
			diff = append(diff, c.diff(count))
		}
		out = append(out, ours, paper, diff)
	}
	return out
}

func (t *Table) naReasons() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range t.Rows {
		for _, c := range r.Cells {
			if c.Ours == nil && c.NA != "" && !seen[c.NA] {
				seen[c.NA] = true
				out = append(out, c.NA)
			}
		}
	}
	return out
}

func (t *Table) titleLine() string {
	name := "Table " + t.ID
	if t.ID == "fig3" {
		name = "Figure 3"
	}
	return name + ": " + t.Title
}

// Write renders t in format f.
func (t *Table) Write(w io.Writer, f Format) error {
	switch f {
	case Terminal, Markdown:
		md := f == Markdown
		if md {
			fmt.Fprintf(w, "### %s\n\n", t.titleLine())
		} else {
			fmt.Fprintf(w, "%s\n", t.titleLine())
		}
		opts := []tablewriter.Option{tablewriter.WithHeaderAutoFormat(tw.Off)}
		if md {
			opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
		}
		tb := tablewriter.NewTable(w, opts...)
		tb.Header(toAny(t.header())...)
		for _, l := range t.lines(md) {
			if err := tb.Append(toAny(l)...); err != nil {
				return err
			}
		}
		if err := tb.Render(); err != nil {
			return err
		}
		sep := "\n"
		if md {
			sep = "\n\n"
		}
		fmt.Fprintf(w, "%s%s", t.Caption, sep)
		best := "* best, · second best of ours in each column"
		if md {
			best = "**bold** best, <u>underlined</u> second best of ours in each column"
		}
		fmt.Fprintf(w, "%s%s", best, sep)
		for _, n := range t.Notes {
			fmt.Fprintf(w, "%s%s", n, sep)
		}
		if r := t.naReasons(); len(r) > 0 {
			mark := "NA (ours):"
			if md {
				mark = "¹ NA (ours):"
			}
			fmt.Fprintf(w, "%s %s%s", mark, strings.Join(r, "; "), sep)
		}
		fmt.Fprintln(w)
		return nil
	case CSV:
		cw := csv.NewWriter(w)
		cw.Write([]string{"table", "row", "group", "metric", "ours_mean", "ours_std", "seeds", "paper", "diff", "na_reason"})
		for _, r := range t.Rows {
			for ci, c := range r.Cells {
				rec := []string{t.ID, r.Label, t.Columns[ci][0], t.Columns[ci][1], "", "", "", "", "", c.NA}
				if c.Ours != nil {
					rec[4], rec[5], rec[6] = fmt.Sprint(c.Ours.Mean), fmt.Sprint(c.Ours.Std), fmt.Sprint(c.Ours.N)
				}
				if c.Paper != nil {
					rec[7] = fmt.Sprint(*c.Paper)
				}
				rec[8] = strings.TrimPrefix(c.diff(false), "+")
				cw.Write(rec)
			}
		}
		cw.Flush()
		return cw.Error()
	case JSON:
		e := json.NewEncoder(w)
		e.SetIndent("", " ")
		return e.Encode(t)
	}
	return fmt.Errorf("unknown format %q (terminal, markdown, csv, json)", f)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
