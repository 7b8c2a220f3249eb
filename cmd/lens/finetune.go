package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/lens-go/lens/harness/finetune"
)

func init() {
	commands["finetune"] = command{summary: "finetune a pretrained checkpoint for one classification task and evaluate it", run: runFinetune}
}

func runFinetune(args []string) error {
	fs := newFlagSet("finetune", "--task N --corpus CORPUS --tokenizer DIR --from PRETRAINED --out RUN [flags]", `
Finetunes the Lens model for classification task N (1-12, Table 11) on the
task's training flows of CORPUS and evaluates it on its test flows with the
trie-constrained decoder (Section 3.3): every input is the flow's packet
lines, <sep> and the task's context listing the labels (leave it out with
--no-context, Table 8's ablation), and every prediction is one label.
Writes the finetuned checkpoint to RUN/taskN-seedS.ckpt and RUN/eval.json
(accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, true
and predicted labels), and prints the metrics. 'lens eval' re-evaluates the
checkpoint.`)
	task := fs.Int("task", 0, "classification task number, 1-12 (required)")
	noCtx := fs.Bool("no-context", false, "leave the task context out of the inputs (the w/o FT-Context ablation)")
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
	res, err := finetune.Classify(ctx, d, finetune.ClassifyConfig{Config: cfg, Task: *task, WithoutContext: *noCtx})
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(cfg.Out, "eval.json"), classifyJSON(res)); err != nil {
		return err
	}
	title := fmt.Sprintf("task %d (%d training flows)", res.Task, res.TrainFlows)
	if res.Variant != "" {
		title += ", " + res.Variant
	}
	if err := printClassification(os.Stdout, title, res.Metrics); err != nil {
		return err
	}
	fmt.Printf("checkpoint %s, results %s\n", res.Checkpoint, filepath.Join(cfg.Out, "eval.json"))
	return nil
}
