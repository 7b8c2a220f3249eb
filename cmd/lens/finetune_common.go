package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lens-go/lens/harness/finetune"
	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/lens-go/lens/trainer"
)

// dataFlags are the flags every finetuning command shares: where the data
// is and how the model is finetuned.
type dataFlags struct {
	corpus, tok, reg, preset, from, out, backend *string
	seed                                         *uint64
	epochs, batch, encLen, maxTrain, maxTest     *int
	lr                                           *float64
}

// addDataFlags registers the shared flags; withTraining adds those that
// only matter when the command trains.
func addDataFlags(fs *flag.FlagSet, withTraining bool) *dataFlags {
	f := &dataFlags{
		corpus:  fs.String("corpus", "", "corpus folder made by 'lens ingest' (required)"),
		tok:     fs.String("tokenizer", "", "tokenizer folder made by 'lens tokenizer train' (required)"),
		reg:     fs.String("registry", "", "dataset and task registry JSON (default: the corpus's own registry.json, else the built-in one)"),
		seed:    fs.Uint64("seed", 1, "split seed of the corpus, finetuning seed and seed of the flow sample under --max-train/--max-test"),
		maxTest: fs.Int("max-test", 0, "evaluate on at most that many test flows, stratified by class (0: all)"),
		backend: fs.String("backend", "", "compute backend: go, xla, xla:cuda (default: XLA when a PJRT plugin is installed, else go)"),
		batch:   fs.Int("batch", 0, "rows per training step and per decoding call (0: the preset's finetuning default)"),
	}
	if withTraining {
		f.from = fs.String("from", "", "pretrained checkpoint to start from, a file or a run folder (its newest checkpoint); empty trains from scratch")
		f.out = fs.String("out", "", "run folder for the finetuned checkpoint and the results (required)")
		f.preset = fs.String("preset", "tiny", "model preset when training from scratch (--from overrides it): "+strings.Join(trainer.Presets(), ", "))
		f.epochs = fs.Int("epochs", 0, "finetuning epochs (0: the preset's default, 20 for base as in the paper)")
		f.lr = fs.Float64("lr", 0, "finetuning learning rate (0: the preset's default, 5e-5 for base as in the paper)")
		f.encLen = fs.Int("enc-len", 0, "encoder input length in tokens (0: the pretrained checkpoint's or preset's)")
		f.maxTrain = fs.Int("max-train", 0, "finetune on at most that many training flows, stratified by class (0: all)")
	}
	return f
}

// data opens the corpus, its registry and splits (openSplits), and the tokenizer.
func (f *dataFlags) data() (*finetune.Data, error) {
	if *f.corpus == "" || *f.tok == "" {
		return nil, errors.New("need --corpus and --tokenizer")
	}
	c, reg, s, err := openSplits(*f.corpus, *f.reg, *f.seed)
	if err != nil {
		return nil, err
	}
	tok, err := bbpe.Load(*f.tok)
	if err != nil {
		return nil, err
	}
	return &finetune.Data{Corpus: c, Splits: s, Reg: reg, Tok: tok}, nil
}

// config is the finetune.Config the flags describe.
func (f *dataFlags) config() (finetune.Config, error) {
	c := finetune.Config{Seed: *f.seed, MaxTest: *f.maxTest, Backend: *f.backend, Batch: *f.batch, Progress: os.Stderr}
	if f.out == nil {
		return c, nil
	}
	if *f.out == "" {
		return c, errors.New("need --out")
	}
	init, err := resolveCheckpoint(*f.from)
	if err != nil {
		return c, err
	}
	c.Preset, c.Init, c.Out = *f.preset, init, *f.out
	c.Epochs, c.LR, c.EncLen, c.MaxTrain = *f.epochs, *f.lr, *f.encLen, *f.maxTrain
	return c, os.MkdirAll(*f.out, 0o755)
}

// resolveCheckpoint turns a checkpoint file or a run folder into a
// checkpoint file (a folder's newest step-*.ckpt, else its only *.ckpt).
func resolveCheckpoint(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return path, nil
	}
	if ck, err := trainer.LatestCheckpoint(path); err == nil && ck != "" {
		return ck, nil
	}
	all, _ := filepath.Glob(filepath.Join(path, "*.ckpt"))
	switch len(all) {
	case 1:
		return all[0], nil
	case 0:
		return "", fmt.Errorf("%s: no checkpoint", path)
	}
	return "", fmt.Errorf("%s: %d checkpoints, name one: %v", path, len(all), all)
}

// classificationJSON is what eval.json holds.
type classificationJSON struct {
	Task       int                     `json:"task"`
	Method     string                  `json:"method,omitempty"`
	Variant    string                  `json:"variant,omitempty"`
	Checkpoint string                  `json:"checkpoint,omitempty"`
	Accuracy   float64                 `json:"accuracy"`
	MacroF1    float64                 `json:"macro_f1"`
	Labels     []string                `json:"labels"`
	PerClass   map[string]metrics.PRF  `json:"per_class"`
	Confusion  [][]int                 `json:"confusion"`
	Truth      []string                `json:"truth"`
	Pred       []string                `json:"pred"`
	TrainFlows int                     `json:"train_flows,omitempty"`
	TestFlows  int                     `json:"test_flows"`
	Train      *trainer.FinetuneResult `json:"train,omitempty"`
}

func classifyJSON(r *finetune.ClassifyResult) classificationJSON {
	return classificationJSON{Task: r.Task, Method: "Lens", Variant: r.Variant, Checkpoint: r.Checkpoint,
		Accuracy: r.Metrics.Accuracy, MacroF1: r.Metrics.MacroF1, Labels: r.Labels, PerClass: r.Metrics.PerClass,
		Confusion: r.Metrics.Confusion, Truth: r.Truth, Pred: r.Pred, TrainFlows: r.TrainFlows, TestFlows: r.TestFlows, Train: r.Train}
}

// writeJSON writes v, indented, to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printClassification prints accuracy, macro-F1 and per-class
// precision, recall, F1 and support (of the classes with test flows or
// predictions: Tasks 6-8 list hundreds).
func printClassification(w io.Writer, title string, c metrics.Classification) error {
	fmt.Fprintf(w, "%s: accuracy %.4f, macro-F1 %.4f over %d flows\n", title, c.Accuracy, c.MacroF1, c.N)
	tb := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
	tb.Header("class", "precision", "recall", "F1", "support")
	hidden := 0
	for j, l := range c.Labels {
		p := c.PerClass[l]
		predicted := 0
		for i := range c.Confusion {
			if j < len(c.Confusion[i]) {
				predicted += c.Confusion[i][j]
			}
		}
		if p.Support == 0 && predicted == 0 {
			hidden++
			continue
		}
		if err := tb.Append(l, f4(p.Precision), f4(p.Recall), f4(p.F1), fmt.Sprint(p.Support)); err != nil {
			return err
		}
	}
	if err := tb.Append("accuracy", "", "", f4(c.Accuracy), fmt.Sprint(c.N)); err != nil {
		return err
	}
	if err := tb.Append("macro", "", "", f4(c.MacroF1), ""); err != nil {
		return err
	}
	if err := tb.Render(); err != nil {
		return err
	}
	if hidden > 0 {
		fmt.Fprintf(w, "(%d classes without test flows or predictions not shown)\n", hidden)
	}
	return nil
}

func f4(x float64) string { return fmt.Sprintf("%.4f", x) }
