package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/lens-go/lens/baselines"
	"github.com/lens-go/lens/harness"
	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/netbench"
)

func init() {
	commands["baseline"] = command{summary: "train and evaluate one baseline (Datanet, FS-Net, ET-BERT, ...) on one task", run: runBaseline}
}

func runBaseline(args []string) error {
	fs := newFlagSet("baseline", "NAME --task N --corpus CORPUS [flags]", `
Trains the baseline NAME on classification task N's training flows of
CORPUS and evaluates it on the task's test flows, as the harness does for
Tables 2-4: each flow becomes the baseline's input (its first packets'
bytes from the IP header on, and its packets' sizes and directions). The
self-supervised baselines (YaTC, ET-BERT, TrafficLLM) first pretrain on up
to --pretrain unlabelled flows of the pretraining split. With --extend K
(tasks 6 and 8, NAME ET-BERT or ET-BERT-LwF) it runs the extension
scenario instead (Table 5): train on the old classes, add the first K
extension classes and train on their flows only, test on all. Prints
accuracy, macro-F1 and the per-class table.

Baselines: `+strings.Join(baselines.Names(), ", "))
	task := fs.Int("task", 0, "classification task number, 1-12 (required)")
	corpus := fs.String("corpus", "", "corpus folder made by 'lens ingest' (required)")
	regPath := fs.String("registry", "", "dataset and task registry JSON (default: the corpus's own registry.json, else the built-in one)")
	preset := fs.String("preset", "smoke", "model size: smoke, tiny, small, base (see docs/baselines.md)")
	epochs := fs.Int("epochs", 5, "supervised training epochs")
	preEpochs := fs.Int("pretrain-epochs", 0, "self-supervised pretraining epochs (0: --epochs)")
	batch := fs.Int("batch", 32, "training batch size")
	lr := fs.Float64("lr", 0, "peak learning rate (0: the model's default)")
	seed := fs.Uint64("seed", 1, "split seed of the corpus, model seed and seed of the flow sample under --max-train/--max-test")
	backend := fs.String("backend", "", "GoMLX backend (default: $LENS_BACKEND, else go)")
	maxTrain := fs.Int("max-train", 0, "train on at most that many flows, stratified by class (0: all)")
	maxTest := fs.Int("max-test", 0, "test on at most that many flows, stratified by class (0: all)")
	nPre := fs.Int("pretrain", 256, "unlabelled pretraining-split flows for YaTC, ET-BERT and TrafficLLM (0: none)")
	extend := fs.Int("extend", 0, "run the extension scenario with that many new classes (1, 3 or 5; tasks 6 and 8; NAME ET-BERT or ET-BERT-LwF)")
	jsonOut := fs.String("json", "", "also write accuracy, macro-F1, per-class metrics, confusion matrix, truth and predictions to FILE")
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if name == "" || *task == 0 || *corpus == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("need NAME, --task and --corpus")
	}
	c, reg, s, err := openSplits(*corpus, *regPath, *seed)
	if err != nil {
		return err
	}
	t, err := reg.Task(*task)
	if err != nil {
		return err
	}
	bf := harness.BaselineData{Corpus: c, Splits: s, Reg: reg}
	cfg := baselines.Config{Preset: *preset, Epochs: *epochs, PretrainEpochs: *preEpochs, Batch: *batch, LR: *lr, Seed: *seed, Backend: *backend}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var pre []baselines.Example
	if *nPre > 0 { // only the self-supervised baselines use them
		if pre, err = bf.PretrainExamples(*nPre); err != nil {
			return err
		}
	}
	pretrainName := name
	if *extend > 0 {
		pretrainName = baselines.ExtensionModel
	}
	pt, err := baselines.Pretrain(ctx, pretrainName, cfg, pre)
	if err != nil {
		return err
	}
	order := t.Labels
	var oldL, newL []string
	if *extend > 0 {
		if *extend > len(t.Extension) {
			return fmt.Errorf("task %d has %d extension classes, asked for %d", t.ID, len(t.Extension), *extend)
		}
		newL = t.Extension[:*extend]
		for _, l := range t.Labels {
			if !slices.Contains(newL, l) {
				oldL = append(oldL, l)
			}
		}
		order = append(append([]string(nil), oldL...), newL...)
	}
	idx := map[string]int{}
	for i, l := range order {
		idx[l] = i
	}
	conv := func(split string, limit int, allowed []string) ([]baselines.Example, []string, error) {
		fl, ls, err := bf.TaskFlows(t.ID, split, limit, allowed, *seed)
		var out []baselines.Example
		for i, f := range fl {
			out = append(out, harness.BaselineExample(f, idx[ls[i]]))
		}
		return out, ls, err
	}
	test, truth, err := conv(netbench.SplitTest, *maxTest, nil)
	if err != nil {
		return err
	}
	var r *baselines.Result
	var trainN int
	if *extend > 0 {
		oldTr, _, err := conv(netbench.SplitTrain, *maxTrain, oldL)
		if err != nil {
			return err
		}
		newTr, _, err := conv(netbench.SplitTrain, *maxTrain, newL)
		if err != nil {
			return err
		}
		trainN = len(oldTr) + len(newTr)
		if len(oldTr) == 0 || len(newTr) == 0 || len(test) == 0 {
			return fmt.Errorf("task %d: %d old-class, %d new-class training and %d test flows", t.ID, len(oldTr), len(newTr), len(test))
		}
		r, err = baselines.ExtendScenario(ctx, name, cfg, pt, oldTr, newTr, test, len(oldL), len(newL))
		if err != nil {
			return err
		}
	} else {
		train, _, err := conv(netbench.SplitTrain, *maxTrain, nil)
		if err != nil {
			return err
		}
		trainN = len(train)
		if len(train) == 0 || len(test) == 0 {
			return fmt.Errorf("task %d: %d training and %d test flows", t.ID, len(train), len(test))
		}
		if r, err = baselines.Train(ctx, name, cfg, pt, train, test, len(t.Labels)); err != nil {
			return err
		}
	}
	pred := make([]string, len(r.Pred))
	for i, p := range r.Pred {
		if p >= 0 && p < len(order) {
			pred[i] = order[p]
		}
	}
	m := metrics.Classify(order, truth, pred)
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, classificationJSON{Task: t.ID, Method: name, Accuracy: m.Accuracy, MacroF1: m.MacroF1,
			Labels: order, PerClass: m.PerClass, Confusion: m.Confusion, Truth: truth, Pred: pred, TrainFlows: trainN, TestFlows: len(test)}); err != nil {
			return err
		}
	}
	title := fmt.Sprintf("%s, task %d (%d training flows", name, t.ID, trainN)
	if *extend > 0 {
		title += fmt.Sprintf(", extended by %v", newL)
	}
	title += fmt.Sprintf("; %s backend, pretrain %s, train %s)", r.Backend, r.PretrainTime.Round(1e6), r.TrainTime.Round(1e6))
	return printClassification(os.Stdout, title, m)
}
