package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/lens-go/lens/harness/finetune"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

func init() {
	commands["fuzz"] = command{summary: "fuzzing test: detectors trained on generated headers, tested on real ones (Figure 3)", run: runFuzz}
}

func runFuzz(args []string) error {
	fs := newFlagSet("fuzz", "--corpus CORPUS --tokenizer DIR --from PRETRAINED --out RUN [flags]", `
The fuzzing test (Section 4.3, Figure 3): finetunes a header-field
generator on the dataset of the detection task (Task 11, IoT attack
detection, by default), generates the five header fields of the task's
training flows, trains decision-tree, SVM and MLP detectors on them to tell
benign from malicious, and tests the detectors on the real headers of the
test flows. Prints accuracy and F1 per detector (with --with-real, also of
the same detectors trained on the real headers) and writes RUN/fuzz.json.`)
	task := fs.Int("task", 11, "detection task")
	positive := fs.String("positive", "malicious", "the task label counted as positive")
	withReal := fs.Bool("with-real", true, "also train the detectors on the real training headers, as a reference")
	detSeed := fs.Uint64("detector-seed", 1, "seed of the SVM and MLP detectors")
	gen := fs.String("generator", "", "an already finetuned generation checkpoint to sample from: skip training")
	df := addDataFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errors.New("takes no arguments")
	}
	d, err := df.data()
	if err != nil {
		return err
	}
	cfg, err := df.config()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := finetune.Fuzz(ctx, d, finetune.FuzzConfig{Generate: finetune.GenerateConfig{Config: cfg, Generator: *gen},
		Task: *task, Positive: *positive, DetectorSeed: *detSeed, WithReal: *withReal})
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(cfg.Out, "fuzz.json"), res); err != nil {
		return err
	}
	fmt.Printf("task %d: detectors trained on %d training flows' headers, tested on %d test flows (%d invalid generated values)\n",
		res.Task, res.TrainFlows, res.TestFlows, res.Invalid)
	tb := tablewriter.NewTable(os.Stdout, tablewriter.WithHeaderAutoFormat(tw.Off))
	tb.Header("detector", "trained on", "accuracy", "macro-F1", "F1 ("+*positive+")")
	for _, set := range []struct {
		on  string
		dts []finetune.DetectorResult
	}{{"generated", res.Detectors}, {"real", res.Real}} {
		for _, r := range set.dts {
			if err := tb.Append(r.Detector, set.on, f4(r.Accuracy), f4(r.F1), f4(r.F1Positive)); err != nil {
				return err
			}
		}
	}
	if err := tb.Render(); err != nil {
		return err
	}
	fmt.Printf("checkpoint %s, results %s\n", res.Checkpoint, filepath.Join(cfg.Out, "fuzz.json"))
	return nil
}
