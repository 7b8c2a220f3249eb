package trainer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
)

// Config describes the model and its optimisation. Presets fill every field;
// callers override what they need. The vocabulary size comes from the
// tokenizer and must be set before a model is built.
type Config struct {
	Preset string `json:"preset"`

	// Architecture (T5 v1.1).
	VocabSize    int `json:"vocab_size"`
	DModel       int `json:"d_model"`
	NumHeads     int `json:"num_heads"`
	DKV          int `json:"d_kv"`
	DFF          int `json:"d_ff"`
	EncoderLayer int `json:"encoder_layers"`
	DecoderLayer int `json:"decoder_layers"`
	RelBuckets   int `json:"relative_attention_num_buckets"`
	RelMaxDist   int `json:"relative_attention_max_distance"`
	// NormEpsilon is the RMSNorm epsilon (T5LayerNorm: 1e-6).
	NormEpsilon float64 `json:"norm_epsilon"`
	Dropout     float64 `json:"dropout"`
	// MatmulDType is the dtype of matmul operands: "float32" or "bfloat16"
	// (parameters, optimizer state, norms, softmax and the loss are always
	// float32). New and BenchTrain set it from the backend when empty:
	// bfloat16 on XLA accelerators, float32 elsewhere (the go backend).
	MatmulDType string `json:"matmul_dtype"`

	// Special token ids (T5 convention: pad 0, </s> 1). The decoder starts
	// from PadID.
	PadID int32 `json:"pad_id"`
	EOSID int32 `json:"eos_id"`

	// Shapes of one micro-batch.
	EncLen    int `json:"enc_len"`
	DecLen    int `json:"dec_len"`
	BatchSize int `json:"batch_size"`
	// GradAccum micro-batches are averaged into one optimizer step.
	GradAccum int `json:"grad_accum"`

	// Optimisation (AdamW).
	LearningRate float64 `json:"learning_rate"`
	Schedule     string  `json:"schedule"` // "cosine" (pretraining) or "linear" (finetuning)
	WarmupSteps  int     `json:"warmup_steps"`
	Steps        int     `json:"steps"`
	// MinLRRatio is the floor of the cosine schedule as a fraction of LearningRate.
	MinLRRatio  float64 `json:"min_lr_ratio"`
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	AdamEpsilon float64 `json:"adam_epsilon"`
	ClipNorm    float64 `json:"clip_norm"`

	// Bookkeeping.
	Seed            uint64 `json:"seed"`
	CheckpointEvery int    `json:"checkpoint_every"`
	LogEvery        int    `json:"log_every"`
}

// Presets returns the names of the known presets.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns the named preset with vocabSize filled in.
//
// "base" is Table 17 of the paper (T5 v1.1 base: 12+12 layers, 12 heads of
// 64, d_model 768, gated-GELU MLP 2048) with the paper's pretraining
// settings: batch 48 with 6 accumulation steps, learning rate 5e-4,
// warmup-cosine over 130k optimizer steps (780k micro-steps, Table 17's
// "total gradient steps") with 13k warmup steps (10%), dropout 0.1, gradient
// clipping at 1.0, inputs up to 1,500 tokens. The paper does not state the
// weight decay or the target length: we use 0.01 and 512.
func Preset(name string, vocabSize int) (Config, error) {
	f, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("trainer: unknown preset %q (known: %s)", name, strings.Join(Presets(), ", "))
	}
	c := defaults()
	c.Preset = name
	f(&c)
	c.VocabSize = vocabSize
	return c, nil
}

// FinetuneSettings switches c to the paper's finetuning optimisation
// (Table 17 and Section 4: batch 32, learning rate 5e-5, AdamW, dropout 0.1,
// clipping 1.0, warmup-linear).
func (c *Config) FinetuneSettings(steps int) {
	c.BatchSize = 32
	c.GradAccum = 1
	c.LearningRate = 5e-5
	c.Schedule = "linear"
	c.Steps = steps
	c.WarmupSteps = steps / 10
	c.Dropout = 0.1
	c.ClipNorm = 1.0
}

func defaults() Config {
	return Config{
		RelBuckets: 32, RelMaxDist: 128, NormEpsilon: 1e-6, Dropout: 0.1,
		PadID: 0, EOSID: 1,
		GradAccum: 1, Schedule: "cosine", MinLRRatio: 0.0,
		WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, AdamEpsilon: 1e-8, ClipNorm: 1.0,
		Seed: 1, CheckpointEvery: 1000, LogEvery: 10,
	}
}

var presets = map[string]func(*Config){
	"smoke": func(c *Config) {
		c.DModel, c.NumHeads, c.DKV, c.DFF, c.EncoderLayer, c.DecoderLayer = 64, 2, 32, 128, 1, 1
		c.EncLen, c.DecLen, c.BatchSize = 32, 16, 4
		c.LearningRate, c.WarmupSteps, c.Steps = 1e-3, 10, 100
		c.CheckpointEvery, c.LogEvery = 50, 10
	},
	"tiny": func(c *Config) {
		c.DModel, c.NumHeads, c.DKV, c.DFF, c.EncoderLayer, c.DecoderLayer = 256, 4, 64, 512, 2, 2
		c.EncLen, c.DecLen, c.BatchSize = 512, 64, 8
		c.LearningRate, c.WarmupSteps, c.Steps = 1e-3, 200, 2000
		c.CheckpointEvery, c.LogEvery = 500, 10
	},
	"small": func(c *Config) {
		c.DModel, c.NumHeads, c.DKV, c.DFF, c.EncoderLayer, c.DecoderLayer = 512, 8, 64, 1024, 6, 6
		c.EncLen, c.DecLen, c.BatchSize = 1024, 256, 16
		c.LearningRate, c.WarmupSteps, c.Steps = 5e-4, 2000, 20000
	},
	"base": func(c *Config) {
		c.DModel, c.NumHeads, c.DKV, c.DFF, c.EncoderLayer, c.DecoderLayer = 768, 12, 64, 2048, 12, 12
		c.EncLen, c.DecLen, c.BatchSize, c.GradAccum = 1500, 512, 48, 6
		c.LearningRate, c.WarmupSteps, c.Steps = 5e-4, 13000, 130000
		c.CheckpointEvery, c.LogEvery = 5000, 50
	},
}

// Validate reports the first inconsistency in c.
func (c *Config) Validate() error {
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("trainer: vocab_size must be set from the tokenizer (got %d)", c.VocabSize)
	case c.DModel <= 0 || c.NumHeads <= 0 || c.DKV <= 0 || c.DFF <= 0:
		return fmt.Errorf("trainer: d_model, num_heads, d_kv and d_ff must be positive")
	case c.EncoderLayer <= 0 || c.DecoderLayer <= 0:
		return fmt.Errorf("trainer: need at least one encoder and one decoder layer")
	case c.EncLen <= 0 || c.DecLen <= 0 || c.BatchSize <= 0 || c.GradAccum <= 0:
		return fmt.Errorf("trainer: enc_len, dec_len, batch_size and grad_accum must be positive")
	case c.RelBuckets < 4 || c.RelMaxDist <= 0:
		return fmt.Errorf("trainer: bad relative attention settings")
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("trainer: dropout %g outside [0,1)", c.Dropout)
	case c.Schedule != "cosine" && c.Schedule != "linear" && c.Schedule != "constant":
		return fmt.Errorf("trainer: unknown schedule %q (cosine, linear, constant)", c.Schedule)
	case c.Steps <= 0:
		return fmt.Errorf("trainer: steps must be positive")
	case int(c.PadID) >= c.VocabSize || int(c.EOSID) >= c.VocabSize:
		return fmt.Errorf("trainer: special ids outside the vocabulary")
	case c.MatmulDType != "" && c.MatmulDType != "float32" && c.MatmulDType != "bfloat16":
		return fmt.Errorf("trainer: matmul_dtype %q (float32, bfloat16)", c.MatmulDType)
	}
	return nil
}

func (c *Config) matmulDType() dtypes.DType {
	if c.MatmulDType == "bfloat16" {
		return dtypes.BFloat16
	}
	return dtypes.Float32
}

// DefaultMatmulDType is the matmul dtype for a backend configuration as
// returned by NewBackend: bfloat16 on XLA GPUs and TPUs, float32 elsewhere.
func DefaultMatmulDType(backendName string) string {
	name, plugin, _ := strings.Cut(backendName, ":")
	if isXLA(name) && (strings.HasPrefix(plugin, "cuda") || strings.HasPrefix(plugin, "rocm") || strings.HasPrefix(plugin, "tpu")) {
		return "bfloat16"
	}
	return "float32"
}

// Tokens is the number of encoder plus decoder positions in one optimizer step.
func (c *Config) Tokens() int { return (c.EncLen + c.DecLen) * c.BatchSize * c.GradAccum }
