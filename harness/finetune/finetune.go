// Package finetune runs Lens's finetuning experiments as library calls the
// harness stores: context-aware classification (Tables 2-4, 8), extension
// to new classes (Tables 5, 14-16), header-field generation scored by JSD
// and TVD (Table 6) and the fuzzing test with simple detectors trained on
// generated headers (Figure 3). The model work is package trainer's; this
// package picks the data, builds the examples, and computes the metrics.
package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/trainer"
)

// Data is what every run reads: a corpus, its splits, the registry and the
// tokenizer.
type Data struct {
	Corpus *netbench.Corpus
	Splits *netbench.Splits
	Reg    *registry.Registry
	Tok    *bbpe.Tokenizer
}

// Config holds the settings shared by every run.
type Config struct {
	// Preset is the model preset when Init is empty (from scratch).
	Preset string `json:"preset"`
	// Init is the pretrained checkpoint the run starts from ("" = scratch).
	Init string `json:"init,omitempty"`
	Seed uint64 `json:"seed"`
	// LR, Epochs, Batch: 0 means the preset's trainer.FinetuneDefaults (the
	// paper's 5e-5, 20, 32 for "base"). Dropout: 0 means 0.1, negative none.
	LR      float64 `json:"lr"`
	Epochs  int     `json:"epochs"`
	Batch   int     `json:"batch"`
	Dropout float64 `json:"dropout"`
	// EncLen: 0 means the checkpoint's (or preset's) length. DecLen: 0
	// means the longest training target rounded up to a multiple of 8
	// (labels and field values are short; the parameters do not depend on
	// it).
	EncLen int `json:"enc_len"`
	DecLen int `json:"dec_len"`
	// EvalBatch is the rows per decoding call; 0 means Batch (or the
	// model's batch size).
	EvalBatch int    `json:"eval_batch"`
	Backend   string `json:"backend"`
	// Out is the folder finetuned checkpoints are written to ("" = none).
	Out string `json:"out"`
	// MaxTrain and MaxTest cap the examples (0 = all), for quick runs.
	MaxTrain int `json:"max_train,omitempty"`
	MaxTest  int `json:"max_test,omitempty"`
	// Packet picks the packet of a flow (by corpus index) used for
	// generation and fuzzing; nil means trainer.PickPacket(f, Seed). The
	// harness passes its own so that every method sees the same packets.
	Packet func(index int, f *netbench.Flow) int `json:"-"`
	// Patience stops finetuning early once the training loss stops
	// improving (see trainer.FinetuneConfig); 0 trains all Epochs.
	Patience int       `json:"patience,omitempty"`
	Progress io.Writer `json:"-"`
}

func (c *Config) finetune(d *Data, out string) trainer.FinetuneConfig {
	fc := trainer.FinetuneConfig{Preset: c.Preset, VocabSize: d.Tok.VocabSize(), Init: c.Init, Seed: c.Seed,
		LR: c.LR, Epochs: c.Epochs, Batch: c.Batch, EncLen: c.EncLen, DecLen: c.DecLen, Dropout: c.Dropout,
		Backend: c.Backend, Progress: c.Progress, Patience: c.Patience}
	if out != "" && c.Out != "" {
		fc.Out = filepath.Join(c.Out, out)
	}
	return fc
}

// encLen resolves the encoder length examples are built for.
func (c *Config) encLen(d *Data) (int, error) {
	fc := c.finetune(d, "")
	enc, _, err := fc.Lengths()
	return enc, err
}

func (c *Config) decoder(tr *trainer.Trainer) (*trainer.Decoder, error) {
	dec, err := trainer.NewDecoder(tr)
	if err != nil {
		return nil, err
	}
	switch {
	case c.EvalBatch > 0:
		dec.Rows = c.EvalBatch
	case c.Batch > 0:
		dec.Rows = c.Batch
	}
	return dec, nil
}

// flows returns the flows of dataset in split, in corpus order.
func (d *Data) flows(dataset, split string) ([]*netbench.Flow, error) {
	out, _, err := d.indexedFlows(dataset, split)
	return out, err
}

// indexedFlows is flows with each flow's corpus index.
func (d *Data) indexedFlows(dataset, split string) ([]*netbench.Flow, []int, error) {
	var out []*netbench.Flow
	var index []int
	i := 0
	err := d.Corpus.Flows(func(f *netbench.Flow) error {
		idx := i
		i++
		if idx < len(d.Splits.Assign) && d.Splits.Assign[idx] == split && d.Splits.Dataset[idx] == dataset {
			out = append(out, f)
			index = append(index, idx)
		}
		return nil
	})
	return out, index, err
}

// packet is the packet of flow f (corpus index idx) used for generation.
func (c *Config) packet(idx int, f *netbench.Flow) int {
	if len(f.Lines) == 0 || len(f.Headers) == 0 {
		return -1
	}
	if c.Packet != nil {
		return c.Packet(idx, f)
	}
	return trainer.PickPacket(f, c.Seed)
}

// ClassifyConfig is one classification run: finetune on the task's
// training flows, evaluate on its test flows.
type ClassifyConfig struct {
	Config
	Task int `json:"task"`
	// Labels are the options listed in the context and decoded; empty means
	// the task's labels.
	Labels []string `json:"labels,omitempty"`
	// TrainLabels and TestLabels restrict the flows trained and tested on
	// (empty: all of Labels). Extension trains on the new labels only.
	TrainLabels []string `json:"train_labels,omitempty"`
	TestLabels  []string `json:"test_labels,omitempty"`
	// WithoutContext is the `w/o FT-Context` ablation (Table 8).
	WithoutContext bool `json:"without_context,omitempty"`
	// Scores asks for every label's probability per test flow.
	Scores bool `json:"scores,omitempty"`
	// Checkpoint names the finetuned checkpoint file under Out.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// ClassifyResult is what a classification run measured.
type ClassifyResult struct {
	Task    int      `json:"task"`
	Variant string   `json:"variant,omitempty"`
	Labels  []string `json:"labels"`
	Truth   []string `json:"truth"`
	Pred    []string `json:"pred"`
	// Scores[i][j] is the probability of Labels[j] for test flow i.
	Scores     [][]float64             `json:"scores,omitempty"`
	Metrics    metrics.Classification  `json:"metrics"`
	Train      *trainer.FinetuneResult `json:"train"`
	TrainFlows int                     `json:"train_flows"`
	TestFlows  int                     `json:"test_flows"`
	// DroppedPackets counts packets left out of inputs for length.
	DroppedPackets int     `json:"dropped_packets"`
	Checkpoint     string  `json:"checkpoint,omitempty"`
	Backend        string  `json:"backend"`
	WallSeconds    float64 `json:"wall_seconds"`
}

// Classify finetunes on a task and evaluates with the trie-constrained
// decoder: every prediction is one of the labels.
func Classify(ctx context.Context, d *Data, cfg ClassifyConfig) (*ClassifyResult, error) {
	start := time.Now()
	task, err := d.Reg.Task(cfg.Task)
	if err != nil {
		return nil, err
	}
	labels := cfg.Labels
	if len(labels) == 0 {
		labels = task.Labels
	}
	for _, l := range labels {
		if !slices.Contains(task.Labels, l) {
			return nil, fmt.Errorf("finetune: %q is not a label of task %d", l, task.ID)
		}
	}
	encLen, err := cfg.encLen(d)
	if err != nil {
		return nil, err
	}
	b, err := trainer.NewExampleBuilder(d.Tok, d.Reg, encLen)
	if err != nil {
		return nil, err
	}
	res := &ClassifyResult{Task: task.ID, Labels: labels}
	if cfg.WithoutContext {
		res.Variant = "w/o FT-Context"
	}
	build := func(split string, allowed []string, limit int) ([]trainer.Seq2Seq, []string, error) {
		if len(allowed) == 0 {
			allowed = labels
		}
		flows, err := d.flows(task.Dataset, split)
		if err != nil {
			return nil, nil, err
		}
		var eligible []*netbench.Flow
		var eligibleLabels []string
		for _, f := range flows {
			l, ok := b.FlowLabel(f, task)
			if ok && slices.Contains(allowed, l) {
				eligible = append(eligible, f)
				eligibleLabels = append(eligibleLabels, l)
			}
		}
		var exs []trainer.Seq2Seq
		var truth []string
		for _, k := range Stratified(eligibleLabels, limit, cfg.Seed) {
			f, l := eligible[k], eligibleLabels[k]
			ex, _, dropped, err := b.ClassificationExample(f, task, labels, !cfg.WithoutContext)
			if err != nil {
				return nil, nil, err
			}
			res.DroppedPackets += dropped
			exs = append(exs, ex)
			truth = append(truth, l)
		}
		return exs, truth, nil
	}
	train, _, err := build(netbench.SplitTrain, cfg.TrainLabels, cfg.MaxTrain)
	if err != nil {
		return nil, err
	}
	test, truth, err := build(netbench.SplitTest, cfg.TestLabels, cfg.MaxTest)
	if err != nil {
		return nil, err
	}
	res.TrainFlows, res.TestFlows, res.Truth = len(train), len(test), truth
	if len(train) == 0 {
		return nil, fmt.Errorf("finetune: task %d has no training flows with labels %v", task.ID, labels)
	}
	if cfg.DecLen == 0 {
		longest := 0
		for _, l := range labels {
			longest = max(longest, len(b.LabelTokens(l))+1)
		}
		cfg.DecLen = targetLen(train, longest+1) // the decoder needs a position past the longest label
	}
	name := cfg.Checkpoint
	if name == "" {
		name = fmt.Sprintf("task%d-seed%d.ckpt", task.ID, cfg.Seed)
	}
	fc := cfg.finetune(d, name)
	fc.Extra = extraJSON(map[string]any{"task": task.ID, "labels": labels, "without_context": cfg.WithoutContext})
	tr, ftRes, err := trainer.Finetune(ctx, fc, train)
	if err != nil {
		return nil, err
	}
	res.Train, res.Checkpoint, res.Backend = ftRes, ftRes.Checkpoint, ftRes.Backend
	if len(test) > 0 {
		pred, scores, err := classifyWith(&cfg.Config, tr, b, test, labels, cfg.Scores)
		if err != nil {
			return nil, err
		}
		res.Pred, res.Scores = pred, scores
	}
	res.Metrics = metrics.Classify(labels, res.Truth, res.Pred)
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// classifyWith decodes test inputs into labels with the constrained decoder.
func classifyWith(c *Config, tr *trainer.Trainer, b *trainer.ExampleBuilder, test []trainer.Seq2Seq, labels []string, withScores bool) ([]string, [][]float64, error) {
	dec, err := c.decoder(tr)
	if err != nil {
		return nil, nil, err
	}
	seqs := make([][]int32, len(labels))
	for i, l := range labels {
		seqs[i] = b.LabelTokens(l)
	}
	enc := make([][]int32, len(test))
	for i, ex := range test {
		enc[i] = ex.Enc
	}
	idx, logScores, err := dec.Classify(enc, seqs, withScores)
	if err != nil {
		return nil, nil, err
	}
	pred := make([]string, len(idx))
	for i, k := range idx {
		pred[i] = labels[k]
	}
	var scores [][]float64
	for _, row := range logScores {
		p := make([]float64, len(row))
		for j, s := range row {
			p[j] = expf(s)
		}
		scores = append(scores, p)
	}
	return pred, scores, nil
}

// MetricMap returns the result's numbers under the result package's names
// ("AC", "F1", "P:<label>", ...), ready for result.Run.Metrics.
func (r *ClassifyResult) MetricMap() map[string]float64 {
	m := map[string]float64{"AC": r.Metrics.Accuracy, "F1": r.Metrics.MacroF1}
	for l, prf := range r.Metrics.PerClass {
		m["P:"+l], m["R:"+l], m["F1:"+l], m["N:"+l] = prf.Precision, prf.Recall, prf.F1, float64(prf.Support)
	}
	return m
}

// targetLen is the decoder length for examples: their longest target (and
// at least least), rounded up to a multiple of 8.
func targetLen(exs []trainer.Seq2Seq, least int) int {
	n := least
	for _, ex := range exs {
		n = max(n, len(ex.Target))
	}
	return (n + 7) / 8 * 8
}

func extraJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func expf(x float64) float64 { return math.Exp(x) }
