package trainer

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	// LR is the peak learning rate, Epochs the passes over the data and
	// Batch the batch size; 0 means the preset's FinetuneDefaults (the
	// paper's 5e-5, 20 and 32 for "base"). With Init, the preset is the
	// checkpoint's.
	LR     float64
	Epochs int
	Batch  int
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
	// Patience, when positive, stops training once the mean training loss
	// of an epoch has not improved on the best by MinDelta (relative; 0
	// means 1%) for Patience epochs: Epochs is then the maximum (Table 17:
	// "total max epochs"), as for "finetune until convergence".
	Patience int
	MinDelta float64
	// Reducer is handed to the trainer (data-parallel workers).
	Reducer GradientReducer
}

// FinetuneResult reports a finetuning run.
type FinetuneResult struct {
	Examples    int       `json:"examples"`
	Steps       int       `json:"steps"`
	EpochLoss   []float64 `json:"epoch_loss"` // mean training loss per epoch
	Truncated   int       `json:"truncated"`  // targets cut to DecLen
	Converged   bool      `json:"converged"`  // stopped early by Patience
	Backend     string    `json:"backend"`
	WallSeconds float64   `json:"wall_seconds"`
	Checkpoint  string    `json:"checkpoint,omitempty"`
	Config      Config    `json:"config"`
}

// FinetuneDefaults are the finetuning learning rate, epochs and batch size
// of a preset: the paper's 5e-5, 20 epochs and batch 32 for "base" (Section
// 4 and Table 17); larger rates and fewer epochs for the small presets,
// which train from far fewer examples on a CPU.
func FinetuneDefaults(preset string) (lr float64, epochs, batch int) {
	switch preset {
	case "smoke":
		return 1e-3, 3, 8
	case "tiny":
		return 5e-4, 10, 8
	case "small":
		return 1e-4, 20, 16
	}
	return 5e-5, 20, 32
}

// ModelConfig resolves the model configuration of a finetuning run of the
// given number of optimizer steps: the architecture from Init's checkpoint
// (or the preset), the optimisation and shapes from fc, with the preset's
// FinetuneDefaults where fc leaves them zero. It also returns Init's
// parameters (nil without Init) and the number of epochs.
func (fc *FinetuneConfig) ModelConfig(steps int) (Config, [][]float32, int, error) {
	var cfg Config
	var params [][]float32
	if fc.Init != "" {
		st, err := ReadCheckpoint(fc.Init)
		if err != nil {
			return Config{}, nil, 0, err
		}
		cfg, params = st.Meta.Config, st.Params
	} else {
		name := fc.Preset
		if name == "" {
			name = "smoke"
		}
		var err error
		if cfg, err = Preset(name, fc.VocabSize); err != nil {
			return Config{}, nil, 0, err
		}
	}
	lr, epochs, batch := FinetuneDefaults(cfg.Preset)
	cfg.FinetuneSettings(max(steps, 1))
	cfg.LearningRate, cfg.BatchSize = lr, batch
	if fc.LR > 0 {
		cfg.LearningRate = fc.LR
	}
	if fc.Batch > 0 {
		cfg.BatchSize = fc.Batch
	}
	if fc.Epochs > 0 {
		epochs = fc.Epochs
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
	fc.setSteps(&cfg, steps)
	cfg.Seed = fc.Seed
	cfg.CheckpointEvery, cfg.LogEvery = 0, 0
	cfg.MatmulDType = ""
	return cfg, params, epochs, nil
}

func (fc *FinetuneConfig) setSteps(cfg *Config, steps int) {
	ratio := fc.WarmupRatio
	if ratio <= 0 {
		ratio = 0.1
	}
	cfg.Steps = max(steps, 1)
	cfg.WarmupSteps = int(ratio * float64(cfg.Steps))
}

// NewFinetuneTrainer builds the model of fc for a run of the given number
// of optimizer steps, with Init's weights loaded and a fresh optimizer.
func NewFinetuneTrainer(fc FinetuneConfig, steps int) (*Trainer, error) {
	cfg, params, _, err := fc.ModelConfig(steps)
	if err != nil {
		return nil, err
	}
	return newFinetuneTrainer(fc, cfg, params)
}

func newFinetuneTrainer(fc FinetuneConfig, cfg Config, params [][]float32) (*Trainer, error) {
	backend, name, err := NewBackend(fc.Backend)
	if err != nil {
		return nil, err
	}
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
	cfg, params, epochs, err := fc.ModelConfig(1)
	if err != nil {
		return nil, nil, err
	}
	batch := cfg.BatchSize
	perEpoch := (len(data) + batch - 1) / batch
	fc.setSteps(&cfg, perEpoch*epochs)
	tr, err := newFinetuneTrainer(fc, cfg, params)
	if err != nil {
		return nil, nil, err
	}
	tr.Reducer = fc.Reducer
	res := &FinetuneResult{Examples: len(data), Backend: tr.BackendName, Config: tr.Cfg}
	best, stale := math.Inf(1), 0
	minDelta := fc.MinDelta
	if minDelta <= 0 {
		minDelta = 0.01
	}
	for epoch := range epochs {
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
		logf(fc.Progress, "finetune epoch %d/%d  loss %.4f  step %d  backend %s\n", epoch+1, epochs, sum/float64(perEpoch), tr.Step, tr.BackendName)
		if loss := sum / float64(perEpoch); loss < best*(1-minDelta) {
			best, stale = loss, 0
		} else if stale++; fc.Patience > 0 && stale >= fc.Patience {
			res.Converged = true
			break
		}
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

// LoadTrainer restores a model, with its optimizer state, step and
// configuration, from a checkpoint (for inference or further training).
func LoadTrainer(path, backendName string) (*Trainer, error) {
	meta, err := ReadCheckpointMeta(path)
	if err != nil {
		return nil, err
	}
	backend, name, err := NewBackend(backendName)
	if err != nil {
		return nil, err
	}
	cfg := meta.Config
	cfg.MatmulDType = ""
	tr, err := New(cfg, backend, name)
	if err != nil {
		return nil, err
	}
	if _, err := tr.LoadCheckpoint(path); err != nil {
		return nil, err
	}
	return tr, nil
}

// ReadCheckpointMeta reads only the JSON header of a checkpoint (no
// tensors, no integrity check): its configuration, step and extra fields.
func ReadCheckpointMeta(path string) (CheckpointMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return CheckpointMeta{}, err
	}
	defer f.Close()
	head := make([]byte, len(ckptMagic)+4+8)
	if _, err := io.ReadFull(f, head); err != nil || string(head[:len(ckptMagic)]) != ckptMagic {
		return CheckpointMeta{}, fmt.Errorf("trainer: %s is not a Lens checkpoint", path)
	}
	n := binary.LittleEndian.Uint64(head[len(ckptMagic)+4:])
	if n > 1<<26 {
		return CheckpointMeta{}, fmt.Errorf("trainer: checkpoint %s is corrupt: metadata length %d", path, n)
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(f, raw); err != nil {
		return CheckpointMeta{}, fmt.Errorf("trainer: checkpoint %s is corrupt: %w", path, err)
	}
	var meta CheckpointMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return CheckpointMeta{}, fmt.Errorf("trainer: checkpoint %s is corrupt: metadata: %w", path, err)
	}
	return meta, nil
}

// Lengths returns the encoder and decoder lengths a run of fc will use
// (to build examples), reading only Init's metadata.
func (fc *FinetuneConfig) Lengths() (encLen, decLen int, err error) {
	var cfg Config
	if fc.Init != "" {
		meta, err := ReadCheckpointMeta(fc.Init)
		if err != nil {
			return 0, 0, err
		}
		cfg = meta.Config
	} else {
		name := fc.Preset
		if name == "" {
			name = "smoke"
		}
		if cfg, err = Preset(name, max(fc.VocabSize, 1)); err != nil {
			return 0, 0, err
		}
	}
	encLen, decLen = cfg.EncLen, cfg.DecLen
	if fc.EncLen > 0 {
		encLen = fc.EncLen
	}
	if fc.DecLen > 0 {
		decLen = fc.DecLen
	}
	return encLen, decLen, nil
}
