package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/lens-go/lens/harness/finetune"
)

func init() {
	commands["eval"] = command{summary: "re-evaluate a finetuned classification checkpoint on its task's test flows", run: runEval}
}

func runEval(args []string) error {
	fs := newFlagSet("eval", "--task N --corpus CORPUS --tokenizer DIR [--json FILE] RUN", `
Evaluates the classification checkpoint RUN (a checkpoint file, or the run
folder 'lens finetune --out' wrote, holding one) on task N's test flows of
CORPUS, without training, and prints accuracy, macro-F1 and per-class
precision, recall and F1. The labels and whether the inputs carry the task
context are the checkpoint's. Give the same --seed and --max-test as the
finetuning run to score the same test flows.`)
	task := fs.Int("task", 0, "classification task number, 1-12 (required)")
	noCtx := fs.Bool("no-context", false, "leave the task context out of the inputs (implied when the checkpoint was finetuned without it)")
	jsonOut := fs.String("json", "", "also write the results (same fields as eval.json of 'lens finetune') to FILE")
	df := addDataFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *task == 0 || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("need --task and one RUN")
	}
	ckpt, err := resolveCheckpoint(fs.Arg(0))
	if err != nil {
		return err
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
	res, err := finetune.Evaluate(ctx, d, finetune.ClassifyConfig{Config: cfg, Task: *task, WithoutContext: *noCtx}, ckpt)
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, classifyJSON(res)); err != nil {
			return err
		}
	}
	title := fmt.Sprintf("task %d, %s", res.Task, ckpt)
	if res.Variant != "" {
		title += ", " + res.Variant
	}
	return printClassification(os.Stdout, title, res.Metrics)
}
