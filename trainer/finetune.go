package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// FinetuneConfig is one supervised finetuning run (classification or
// generation): the paper's context-aware finetuning (Section 3.3) with
// Table 17's optimisation: AdamW, warmup-linear schedule, dropout 0.1,
// clipping 1.0.
type FinetuneConfig struct {
	// Preset names the architecture when Init is empty (training from
	// scratch, for tests); with Init the architecture is the checkpoint's.
	Preset string
	// VocabSize is the tokenizer's vocabulary (needed without Init).
	VocabSize int
	// Init is a trainer checkpoint (pretrained or finetuned) whose weights
	// start the run; the optimizer state starts fresh. Empty: from scratch.
	Init string
	// Seed drives initialisation (from scratch), shuffling and dropout.
	Seed uint64
	// LR is the peak learning rate; 0 means 5e-5 (the paper).
	LR float64
	// Epochs over the data; 0 means 20 (the paper).
	Epochs int
	// Batch is the batch size; 0 means 32 (the paper).
	Batch int
	// EncLen and DecLen are the padded lengths; 0 means the preset's.
	EncLen, DecLen int
	// Dropout rate; 0 means 0.1 (the paper), negative means none.
	Dropout float64
	// WarmupRatio is the share of steps of linear warmup; 0 means 0.1.
	WarmupRatio float64
	// Backend is passed to NewBackend ("" means $LENS_BACKEND, then auto).
	Backend string
	// Out, when set, is the path the finetuned checkpoint is written to.
	Out string
	// Progress receives one line per epoch (nil: silent).
	Progress io.Writer
	// Extra is stored in the checkpoint's metadata (labels, task, ...).
	Extra json.RawMessage
}

// FinetuneResult reports a finetuning run.
type FinetuneResult struct {
	Examples    int       `json:"examples"`
	Steps       int       `json:"steps"`
	EpochLoss   []float64 `json:"epoch_loss"` // mean training loss per epoch
	Truncated   int       `json:"truncated"`  // targets cut to DecLen
	Backend     string    `json:"backend"`
	WallSeconds float64   `json:"wall_seconds"`
	Checkpoint  string    `json:"checkpoint,omitempty"`
	Config      Config    `json:"config"`
}

// ModelConfig resolves the model configuration of a finetuning run: the
// architecture from Init's checkpoint (or the preset), the optimisation and
// shapes from fc.
func (fc *FinetuneConfig) ModelConfig(steps int) (Config, [][]float32, error) {
	var cfg Config
	var params [][]float32
	if fc.Init != "" {
		st, err := ReadCheckpoint(fc.Init)
		if err != nil {
			return Config{}, nil, err
		}
		cfg, params = st.Meta.Config, st.Params
	} else {
		name := fc.Preset
		if name == "" {
			name = "smoke"
		}
		var err error
		if cfg, err = Preset(name, fc.VocabSize); err != nil {
			return Config{}, nil, err
		}
	}
	cfg.FinetuneSettings(max(steps, 1))
	if fc.LR > 0 {
		cfg.LearningRate = fc.LR
	}
	if fc.Batch > 0 {
		cfg.BatchSize = fc.Batch
	}
	if fc.EncLen > 0 {
		cfg.EncLen = fc.EncLen
	}
	if fc.DecLen > 0 {
		cfg.DecLen = fc.DecLen
	}
	switch {
	case fc.Dropout < 0:
		cfg.Dropout = 0
	case fc.Dropout > 0:
		cfg.Dropout = fc.Dropout
	}
	ratio := fc.WarmupRatio
	if ratio <= 0 {
		ratio = 0.1
	}
	cfg.WarmupSteps = int(ratio * float64(cfg.Steps))
	cfg.Seed = fc.Seed
	cfg.CheckpointEvery, cfg.LogEvery = 0, 0
	return cfg, params, nil
}

func (fc *FinetuneConfig) epochs() int {
	if fc.Epochs > 0 {
		return fc.Epochs
	}
	return 20
}

func (fc *FinetuneConfig) batch() int {
	if fc.Batch > 0 {
		return fc.Batch
	}
	return 32
}

// NewFinetuneTrainer builds the model of fc for a run of the given number
// of optimizer steps, with Init's weights loaded and a fresh optimizer.
func NewFinetuneTrainer(fc FinetuneConfig, steps int) (*Trainer, error) {
	cfg, params, err := fc.ModelConfig(steps)
	if err != nil {
		return nil, err
	}
	backend, name, err := NewBackend(fc.Backend)
	if err != nil {
		return nil, err
	}
	cfg.MatmulDType = ""
	tr, err := New(cfg, backend, name)
	if err != nil {
		return nil, err
	}
	if params != nil {
		if err := tr.SetParams(params); err != nil {
			return nil, fmt.Errorf("trainer: loading %s: %w", fc.Init, err)
		}
	}
	return tr, nil
}

// Finetune trains a model on data for fc's epochs (reshuffled each epoch
// from the seed; the last batch of an epoch is filled from its start so
// that every step has the same shape) and saves it to fc.Out when set.
func Finetune(ctx context.Context, fc FinetuneConfig, data []Seq2Seq) (*Trainer, *FinetuneResult, error) {
	start := time.Now()
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("trainer: no finetuning examples")
	}
	batch := fc.batch()
	perEpoch := (len(data) + batch - 1) / batch
	steps := perEpoch * fc.epochs()
	tr, err := NewFinetuneTrainer(fc, steps)
	if err != nil {
		return nil, nil, err
	}
	res := &FinetuneResult{Examples: len(data), Backend: tr.BackendName, Config: tr.Cfg}
	for epoch := range fc.epochs() {
		order := shuffled(len(data), fc.Seed, epoch)
		var sum float64
		for s := range perEpoch {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			rows := make([]Seq2Seq, batch)
			for r := range rows {
				rows[r] = data[order[(s*batch+r)%len(order)]]
			}
			b, cut, err := PackBatch(&tr.Cfg, rows)
			if err != nil {
				return nil, nil, err
			}
			res.Truncated += cut
			st, err := tr.TrainStep([]Batch{b})
			if err != nil {
				return nil, nil, err
			}
			sum += st.Loss
		}
		res.EpochLoss = append(res.EpochLoss, sum/float64(perEpoch))
		logf(fc.Progress, "finetune epoch %d/%d  loss %.4f  step %d  backend %s\n", epoch+1, fc.epochs(), sum/float64(perEpoch), tr.Step, tr.BackendName)
	}
	res.Steps = tr.Step
	if fc.Out != "" {
		if err := os.MkdirAll(filepath.Dir(fc.Out), 0o755); err != nil {
			return nil, nil, err
		}
		if err := tr.SaveCheckpoint(fc.Out, DataPosition{}, fc.Extra); err != nil {
			return nil, nil, err
		}
		res.Checkpoint = fc.Out
	}
	res.WallSeconds = time.Since(start).Seconds()
	return tr, res, nil
}

func shuffled(n int, seed uint64, epoch int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(seed, uint64(epoch)+0x9e3779b9))
	r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

// PackBatch pads examples to [rows, EncLen] and [rows, DecLen]. An input
// longer than EncLen is an error (build examples for the model's EncLen); a
// target longer than DecLen is cut, keeping its start, and counted.
func PackBatch(cfg *Config, rows []Seq2Seq) (Batch, int, error) {
	b := Batch{Rows: len(rows), Enc: make([]int32, len(rows)*cfg.EncLen), Targets: make([]int32, len(rows)*cfg.DecLen)}
	for i := range b.Enc {
		b.Enc[i] = cfg.PadID
	}
	for i := range b.Targets {
		b.Targets[i] = cfg.PadID
	}
	cut := 0
	for r, ex := range rows {
		if len(ex.Enc) > cfg.EncLen {
			return Batch{}, 0, fmt.Errorf("trainer: example input has %d tokens, the model's encoder length is %d", len(ex.Enc), cfg.EncLen)
		}
		copy(b.Enc[r*cfg.EncLen:], ex.Enc)
		tgt := ex.Target
		if len(tgt) > cfg.DecLen {
			tgt, cut = tgt[:cfg.DecLen], cut+1
		}
		copy(b.Targets[r*cfg.DecLen:], tgt)
	}
	return b, cut, nil
}

// LoadTrainer restores a finetuned model from a checkpoint for inference
// (weights only; the optimizer starts fresh if it is trained further).
func LoadTrainer(path, backendName string) (*Trainer, error) {
	return NewFinetuneTrainer(FinetuneConfig{Init: path, Backend: backendName, Epochs: 1, Batch: 1}, 1)
}
