package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/lens-go/lens/harness"
	"github.com/lens-go/lens/reports"
)

func init() {
	commands["reproduce"] = command{summary: "run everything behind Tables 2-16 and Figure 3 and print them beside the paper's", run: runReproduce}
}

func runReproduce(args []string) error {
	fs := newFlagSet("reproduce", "[--preset smoke|tiny|small|base] [--out DIR] [--tables 2,12] [--data CORPUS]", `
Generates synthetic NetBench (unless --data names a corpus made by 'lens
ingest'), ingests and splits it, audits the splits, trains the tokenizer,
then pretrains, finetunes and evaluates what the requested tables need, and
prints every table with the paper's numbers beside ours. Every stage is
cached by a content hash of its inputs in --out: rerunning skips what is
done and a killed run resumes where it stopped. Results go to
OUT/results.json and the tables to OUT/report.md, report.csv and report.json
('lens report OUT' prints them again without training).`)
	preset := fs.String("preset", "tiny", "scale: smoke (CI, minutes), tiny (the default: about 52 minutes on a 2-core machine), small, base (the paper's T5-v1.1-base)")
	out := fs.String("out", "out", "output folder")
	tables := fs.String("tables", "", "comma-separated table ids to produce (default all: "+strings.Join(reports.TableIDs, ",")+")")
	data := fs.String("data", "", "a corpus folder made by 'lens ingest' (default: synthetic NetBench)")
	seeds := fs.Int("seeds", 1, "finetuning seeds per cell; with several, cells show mean ± std")
	seed := fs.Uint64("seed", 1, "seed of the synthetic data and of the splits")
	backend := fs.String("backend", "", "compute backend: go, xla, xla:cuda (default: XLA when a PJRT plugin is installed, else go)")
	format := fs.String("format", "terminal", "how the tables are printed: terminal, markdown, csv, json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ids []string
	if *tables != "" {
		ids = strings.Split(*tables, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	h, err := harness.New(harness.Config{Out: *out, Preset: *preset, Seeds: *seeds, Tables: ids, DataDir: *data,
		SynthSeed: *seed, CodeVersion: codeVersion(), Backend: *backend, Log: os.Stderr})
	if err != nil {
		return err
	}
	set, err := h.Run(ctx)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = reports.TableIDs
	}
	if err := writeReports(set, ids, reports.Format(*format), *out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "reproduce (%s) finished in %s; report in %s/report.md\n", *preset, time.Since(start).Round(time.Second), *out)
	return nil
}
