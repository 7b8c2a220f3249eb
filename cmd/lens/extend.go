package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"

	"github.com/lens-go/lens/harness/finetune"
	"github.com/lens-go/lens/harness/metrics"
)

func init() {
	commands["extend"] = command{summary: "extend a finetuned classifier to new classes (tasks 6 and 8, Table 5)", run: runExtend}
}

func runExtend(args []string) error {
	fs := newFlagSet("extend", "--task 6|8 --new 1|3|5 --corpus CORPUS --tokenizer DIR --from PRETRAINED --out RUN [flags]", `
Runs one extension scenario (Section 4.2, Appendix C.1): finetunes the
pretrained model on the task's old classes (its labels minus the first
--new extension classes), saves it, then adds the new classes to the
context and finetunes only on new-class training flows at --new-lr, and
tests the extended model on old and new test flows. Prints the metrics
on old-class and on new-class test flows and the per-class table, and
writes RUN/extend.json.`)
	task := fs.Int("task", 0, "task with extension classes: 6 (CrossPlatform-Android apps) or 8 (CrossPlatform-iOS apps) (required)")
	n := fs.Int("new", 1, "number of new classes: 1, 3 or 5 (the task's first extension classes)")
	newLR := fs.Float64("new-lr", 0, "learning rate of the new-class phase (0: 5e-6, the paper's)")
	newEpochs := fs.Int("new-epochs", 0, "epochs of the new-class phase (0: --epochs)")
	old := fs.String("old", "", "an existing old-class checkpoint: skip the first phase")
	df := addDataFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *task == 0 || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("need --task and no arguments")
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
	res, err := finetune.Extend(ctx, d, finetune.ExtendConfig{Config: cfg, Task: *task, NewClasses: *n,
		NewLR: *newLR, NewEpochs: *newEpochs, OldCheckpoint: *old})
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(cfg.Out, "extend.json"), res); err != nil {
		return err
	}
	if res.OldPhase != nil {
		if err := printClassification(os.Stdout, fmt.Sprintf("task %d, old-class model on old classes", res.Task), res.OldPhase.Metrics); err != nil {
			return err
		}
	}
	ext := res.Extended
	for _, part := range []struct {
		name   string
		labels []string
	}{{"old", res.Old}, {"new", res.New}} {
		var truth, pred []string
		for i, l := range ext.Truth {
			if slices.Contains(part.labels, l) && i < len(ext.Pred) {
				truth, pred = append(truth, l), append(pred, ext.Pred[i])
			}
		}
		c := metrics.Classify(ext.Labels, truth, pred)
		fmt.Printf("extended model on %s-class test flows: accuracy %.4f over %d flows\n", part.name, c.Accuracy, c.N)
	}
	if err := printClassification(os.Stdout, fmt.Sprintf("task %d, extended by %d new classes %v", res.Task, len(res.New), res.New), ext.Metrics); err != nil {
		return err
	}
	fmt.Printf("checkpoints %s (old, unchanged) and %s; results %s\n", res.OldCheckpoint, ext.Checkpoint, filepath.Join(cfg.Out, "extend.json"))
	return nil
}
