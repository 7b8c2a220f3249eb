package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/reports"
)

func init() {
	commands["report"] = command{summary: "print the paper's tables from stored results, ours beside the paper's", run: runReport}
}

func runReport(args []string) error {
	fs := newFlagSet("report", "[--tables 2,12] [--format terminal|markdown|csv|json] [--out DIR] RESULTS", `
Re-renders the paper's tables (2 to 16) and Figure 3 from a results file
written by 'lens reproduce' (RESULTS, or a folder holding results.json),
without training anything. Each cell shows our value (mean ± std over
seeds), the paper's published value and the difference; cells without a
run say NA and why. With --out it writes report.md, report.csv,
report.json and Figure 3 (figure3-AC/F1 .png and .svg) there too.`)
	tables := fs.String("tables", "", "comma-separated table ids (2,3,4,5,6,7,8,12,13a,13b,14,15,16,fig3; default all)")
	format := fs.String("format", "terminal", "terminal, markdown, csv or json")
	out := fs.String("out", "", "also write report.md, report.csv and report.json into this folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one RESULTS file or folder")
	}
	path := fs.Arg(0)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	set, err := result.Load(path)
	if err != nil {
		return err
	}
	ids := reports.TableIDs
	if *tables != "" {
		ids = strings.Split(*tables, ",")
	}
	return writeReports(set, ids, reports.Format(*format), *out)
}

// writeReports prints the tables to stdout in format f and, when dir is
// set, writes report.md, report.csv and report.json there.
func writeReports(set *result.Set, ids []string, f reports.Format, dir string) error {
	paper, err := reports.LoadPaper()
	if err != nil {
		return err
	}
	var built []*reports.Table
	for _, id := range ids {
		t, err := reports.Build(strings.TrimSpace(id), set, paper)
		if err != nil {
			return err
		}
		built = append(built, t)
		if err := t.Write(os.Stdout, f); err != nil {
			return err
		}
	}
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	figures, err := reports.WriteFigure3(set, dir)
	if err != nil {
		return err
	}
	for _, ff := range []struct {
		name string
		f    reports.Format
	}{{"report.md", reports.Markdown}, {"report.csv", reports.CSV}, {"report.json", reports.JSON}} {
		fh, err := os.Create(filepath.Join(dir, ff.name))
		if err != nil {
			return err
		}
		if ff.f == reports.Markdown {
			fmt.Fprintf(fh, "# Lens reproduction report\n\n")
			for _, f := range figures {
				if strings.HasSuffix(f, ".png") {
					fmt.Fprintf(fh, "![Figure 3](%s)\n", filepath.Base(f))
				}
			}
			fmt.Fprintln(fh)
		}
		for _, t := range built {
			if err := t.Write(fh, ff.f); err != nil {
				fh.Close()
				return err
			}
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	return nil
}
