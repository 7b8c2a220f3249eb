package trainer

import (
	"fmt"
	"io"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// BenchResult is the outcome of BenchTrain.
type BenchResult struct {
	Backend      string  `json:"backend"`
	Params       int     `json:"params"`
	Steps        int     `json:"steps"`
	StepSeconds  float64 `json:"step_s"`
	TokensPerS   float64 `json:"tokens_per_s"`
	StepFLOPs    float64 `json:"step_flops"`
	StepGFLOPS   float64 `json:"step_gflops"`
	MatmulGFLOPS float64 `json:"matmul_gflops"`
	Share        float64 `json:"share"`
	// The same rates per CPU-second (user+system time of the process):
	// insensitive to other load on a shared machine. Zero where unknown.
	StepGFLOPPerCPUS   float64 `json:"step_gflop_per_cpu_s"`
	MatmulGFLOPPerCPUS float64 `json:"matmul_gflop_per_cpu_s"`
	CPUShare           float64 `json:"cpu_share"`
}

// StepFLOPs counts the matmul FLOPs of one training step (forward and
// backward; the backward pass is counted as twice the forward):
//
//	3 * rows * [ Le*Lenc_layers + Ld*Ldec_layers + Ld*2*d*V ]
//
// with, per token, 2*d*3*inner (qkv) + 2*inner*d (out) + 2*d*2*ff + 2*ff*d
// (gated FF) + 4*L*inner (scores and weighted sum over L keys) for each
// self-attention layer, plus for each decoder layer 2*d*inner + 2*inner*d
// (cross q, out) + 4*Le*inner (cross attention) per decoder token and
// 2*d*2*inner (cross k, v) per encoder token. Embedding lookups, norms,
// softmax and the optimizer are not counted.
func StepFLOPs(c *Config) float64 {
	d, inner, ff := float64(c.DModel), float64(c.NumHeads*c.DKV), float64(c.DFF)
	le, ld, v := float64(c.EncLen), float64(c.DecLen), float64(c.VocabSize)
	block := func(l float64) float64 { return 2*d*3*inner + 2*inner*d + 2*d*2*ff + 2*ff*d + 4*l*inner }
	enc := le * block(le) * float64(c.EncoderLayer)
	dec := (ld*(block(ld)+2*d*inner+2*inner*d+4*le*inner) + le*2*d*2*inner) * float64(c.DecoderLayer)
	head := ld * 2 * d * v
	return 3 * float64(c.BatchSize*c.GradAccum) * (enc + dec + head)
}

// MatmulGFLOPS measures the backend's own rate on an n x n x n float32
// matmul (best of reps runs after a warm-up).
func MatmulGFLOPS(backend compute.Backend, n, reps int) (float64, error) {
	rate, _, err := matmulRates(backend, n, reps)
	return rate, err
}

// matmulRates returns the best wall-clock rate and the rate per CPU-second
// over all timed runs.
func matmulRates(backend compute.Backend, n, reps int) (wall, perCPU float64, err error) {
	exec, err := NewExec(backend, func(a, b *Node) *Node { return MatMul(a, b) })
	if err != nil {
		return 0, 0, err
	}
	defer exec.Finalize()
	data := make([]float32, n*n)
	for i := range data {
		data[i] = float32(i%7) * 0.25
	}
	a := tensors.FromFlatDataAndDimensions(data, n, n)
	b := tensors.FromFlatDataAndDimensions(data, n, n)
	best := time.Duration(1 << 62)
	var cpu time.Duration
	for i := range reps + 1 {
		start, startCPU := time.Now(), processCPUTime()
		out, err := exec.Call(a, b)
		if err != nil {
			return 0, 0, err
		}
		out[0].FinalizeAll()
		if i == 0 {
			continue
		}
		cpu += processCPUTime() - startCPU
		best = min(best, time.Since(start))
	}
	flops := 2 * float64(n) * float64(n) * float64(n)
	wall = flops / best.Seconds() / 1e9
	if cpu > 0 {
		perCPU = flops * float64(reps) / cpu.Seconds() / 1e9
	}
	return wall, perCPU, nil
}

// BenchTrain times steps optimizer steps of cfg on random data (after one
// warm-up step that compiles the graphs) and the backend's 1024^3 matmul,
// and reports tokens/s (encoder plus decoder positions), achieved GFLOP/s
// by StepFLOPs, and the share of the matmul rate. Progress goes to w.
func BenchTrain(cfg Config, backendName string, steps int, w io.Writer) (BenchResult, error) {
	if steps <= 0 {
		return BenchResult{}, fmt.Errorf("trainer: bench needs at least one step")
	}
	cfg.Steps = max(cfg.Steps, steps+1)
	backend, name, err := NewBackend(backendName)
	if err != nil {
		return BenchResult{}, err
	}
	tr, err := New(cfg, backend, name)
	if err != nil {
		return BenchResult{}, err
	}
	defer tr.Close()
	res := BenchResult{Backend: name, Params: NumParams(tr.Specs), Steps: steps, StepFLOPs: StepFLOPs(&tr.Cfg)}
	logf(w, "bench train: backend %s (%s matmuls), %d parameters, d_model %d, %d heads of %d, ff %d, %d+%d layers, vocab %d, batch %d x (%d+%d) tokens\n",
		name, tr.Cfg.MatmulDType, res.Params, cfg.DModel, cfg.NumHeads, cfg.DKV, cfg.DFF, cfg.EncoderLayer, cfg.DecoderLayer, cfg.VocabSize,
		cfg.BatchSize, cfg.EncLen, cfg.DecLen)
	micro := make([]Batch, cfg.GradAccum)
	for i := range micro {
		micro[i] = randomTokens(&tr.Cfg, uint64(i))
	}
	start := time.Now()
	if _, err := tr.TrainStep(micro); err != nil {
		return res, err
	}
	logf(w, "warm-up step (compiles): %.2fs\n", time.Since(start).Seconds())
	start, startCPU := time.Now(), processCPUTime()
	for i := range steps {
		r, err := tr.TrainStep(micro)
		if err != nil {
			return res, err
		}
		logf(w, "step %d/%d  loss %.4f  %.3fs\n", i+1, steps, r.Loss, time.Since(start).Seconds()/float64(i+1))
	}
	res.StepSeconds = time.Since(start).Seconds() / float64(steps)
	stepCPU := (processCPUTime() - startCPU).Seconds() / float64(steps)
	res.TokensPerS = float64(tr.Cfg.Tokens()) / res.StepSeconds
	res.StepGFLOPS = res.StepFLOPs / res.StepSeconds / 1e9
	if res.MatmulGFLOPS, res.MatmulGFLOPPerCPUS, err = matmulRates(backend, 1024, 5); err != nil {
		return res, err
	}
	res.Share = res.StepGFLOPS / res.MatmulGFLOPS
	if stepCPU > 0 && res.MatmulGFLOPPerCPUS > 0 {
		res.StepGFLOPPerCPUS = res.StepFLOPs / stepCPU / 1e9
		res.CPUShare = res.StepGFLOPPerCPUS / res.MatmulGFLOPPerCPUS
	}
	return res, nil
}

// randomTokens is a full-length batch of ids in [3, vocab) for benchmarks.
func randomTokens(c *Config, seed uint64) Batch {
	b := Batch{Rows: c.BatchSize, Enc: make([]int32, c.BatchSize*c.EncLen), Targets: make([]int32, c.BatchSize*c.DecLen)}
	x := seed*2654435761 + 12345
	next := func() int32 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return int32(3 + x%uint64(c.VocabSize-3))
	}
	for i := range b.Enc {
		b.Enc[i] = next()
	}
	for i := range b.Targets {
		b.Targets[i] = next()
	}
	return b
}
