package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// smokeConfig is the smoke preset with a small vocabulary, no dropout and a
// flat learning rate: deterministic and fast.
func smokeConfig(t testing.TB) Config {
	t.Helper()
	cfg, err := Preset("smoke", 96)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dropout = 0
	cfg.Schedule = "constant"
	cfg.WarmupSteps = 0
	return cfg
}

func newSmoke(t testing.TB, cfg Config) *Trainer {
	t.Helper()
	b, name, err := NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(cfg, b, name)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// randomBatch fills a batch with ids in [3, vocab) and trailing padding.
func randomBatch(cfg *Config, seed uint64) Batch {
	r := rand.New(rand.NewPCG(seed, 7))
	b := Batch{Rows: cfg.BatchSize, Enc: make([]int32, cfg.BatchSize*cfg.EncLen), Targets: make([]int32, cfg.BatchSize*cfg.DecLen)}
	for row := range b.Rows {
		encN := cfg.EncLen/2 + r.IntN(cfg.EncLen/2+1)
		for i := range encN {
			b.Enc[row*cfg.EncLen+i] = int32(3 + r.IntN(cfg.VocabSize-3))
		}
		decN := cfg.DecLen/2 + r.IntN(cfg.DecLen/2)
		for i := range decN {
			b.Targets[row*cfg.DecLen+i] = int32(3 + r.IntN(cfg.VocabSize-3))
		}
		b.Targets[row*cfg.DecLen+decN] = cfg.EOSID
	}
	return b
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	cfg := smokeConfig(t)
	tr := newSmoke(t, cfg)
	batch := randomBatch(&cfg, 1)
	_, grads, err := tr.Gradients(batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	params, err := tr.Params()
	if err != nil {
		t.Fatal(err)
	}
	// For each tensor kind, probe the entry with the largest gradient: the
	// finite difference is then well above float32 rounding noise.
	probe := []string{"shared", "encoder.relative_attention_bias", "decoder.relative_attention_bias",
		"encoder.block.0.self_attn.norm", "encoder.block.0.self_attn.qkv", "encoder.block.0.self_attn.o",
		"encoder.block.0.ff.wi", "encoder.block.0.ff.wo", "decoder.block.0.cross_attn.q",
		"decoder.block.0.cross_attn.kv", "decoder.block.0.ff.wi", "decoder.final_norm", "lm_head",
		// The gate half (wi_0) of the gated GELU: its gradient goes through
		// the GELU derivative, which the fused SIMD kernel gets wrong.
		"encoder.block.0.ff.wi#gate", "decoder.block.0.ff.wi#gate"}
	index := map[string]int{}
	for i, s := range tr.Specs {
		index[s.Name] = i
	}
	const eps = 1e-2
	for _, name := range probe {
		name, gate := strings.CutSuffix(name, "#gate")
		pi, ok := index[name]
		if !ok {
			t.Fatalf("no parameter %s", name)
		}
		best := 0
		cols := tr.Specs[pi].Dims[len(tr.Specs[pi].Dims)-1]
		for j, g := range grads[pi] {
			if gate && j%cols >= cols/2 {
				continue
			}
			if math.Abs(float64(g)) > math.Abs(float64(grads[pi][best])) {
				best = j
			}
		}
		orig := params[pi][best]
		lossAt := func(v float32) float64 {
			params[pi][best] = v
			if err := tr.SetParams(params); err != nil {
				t.Fatal(err)
			}
			l, err := tr.EvalLoss(batch)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		fd := (lossAt(orig+eps) - lossAt(orig-eps)) / (2 * eps)
		lossAt(orig)
		g := float64(grads[pi][best])
		if rel := math.Abs(fd-g) / math.Max(math.Abs(g), 1e-3); rel > 0.01 {
			t.Errorf("%s[%d]: analytic gradient %.6g, finite difference %.6g (rel. error %.3g)", name, best, g, fd, rel)
		} else {
			t.Logf("%s[%d]: analytic %.6g, finite difference %.6g", name, best, g, fd)
		}
	}
}

func TestOverfitOneBatch(t *testing.T) {
	cfg := smokeConfig(t)
	cfg.LearningRate = 3e-3
	cfg.WeightDecay = 0
	tr := newSmoke(t, cfg)
	batch := randomBatch(&cfg, 2)
	first, err := tr.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	c0, n0, err := tr.TokenAccuracy(batch)
	if err != nil || n0 == 0 || c0 == n0 {
		t.Fatalf("untrained token accuracy %d/%d (%v)", c0, n0, err)
	}
	var last StepResult
	for range 300 {
		if last, err = tr.TrainStep([]Batch{batch}); err != nil {
			t.Fatal(err)
		}
		if last.Loss < 0.02 {
			break
		}
	}
	final, err := tr.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f -> %.4f after %d steps", first, final, tr.Step)
	if final > 0.05 {
		t.Fatalf("smoke model did not overfit one batch: loss %.4f -> %.4f after %d steps", first, final, tr.Step)
	}
	// Teacher-forced accuracy on the memorised targets is now perfect.
	if c, n, err := tr.TokenAccuracy(batch); err != nil || c != n || n != n0 {
		t.Fatalf("token accuracy after overfitting %d/%d (before %d/%d): %v", c, n, c0, n0, err)
	}
	// Greedy decoding now reproduces the memorised targets up to </s>.
	decoded, err := tr.GreedyDecode(batch.Enc, batch.Rows)
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range decoded {
		want := batch.Targets[r*cfg.DecLen : (r+1)*cfg.DecLen]
		for i, id := range want {
			if id == cfg.EOSID {
				want = want[:i+1]
				break
			}
		}
		if !slices.Equal(row, want) {
			t.Errorf("row %d: decoded %v, want %v", r, row, want)
		}
	}
}

// TestEvalSeesLatestWeights guards against GOMLX-NOTES defect 2 (evaluation
// graphs baking stale weights in as constants).
func TestEvalSeesLatestWeights(t *testing.T) {
	cfg := smokeConfig(t)
	tr := newSmoke(t, cfg)
	batch := randomBatch(&cfg, 3)
	before, err := tr.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := tr.TrainStep([]Batch{batch}); err != nil {
			t.Fatal(err)
		}
	}
	after, err := tr.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Fatalf("eval loss did not move after training: before %.6f, after %.6f", before, after)
	}
	// A fresh model given the trained weights must agree exactly.
	params, _ := tr.Params()
	fresh := newSmoke(t, cfg)
	if err := fresh.SetParams(params); err != nil {
		t.Fatal(err)
	}
	want, err := fresh.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(want-after) > 1e-6 {
		t.Fatalf("eval after update %.7f, fresh model with the same weights %.7f", after, want)
	}
	// SetParams on the same trainer is seen too.
	if err := tr.SetParams(InitParams(tr.Specs, cfg.Seed)); err != nil {
		t.Fatal(err)
	}
	reset, _ := tr.EvalLoss(batch)
	if math.Abs(reset-before) > 1e-6 {
		t.Fatalf("eval after SetParams(initial) %.7f, want the initial loss %.7f", reset, before)
	}
}

func TestGreedyDecodeShapes(t *testing.T) {
	cfg := smokeConfig(t)
	tr := newSmoke(t, cfg)
	batch := randomBatch(&cfg, 4)
	out, err := tr.GreedyDecode(batch.Enc[:2*cfg.EncLen], 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("got %d rows", len(out))
	}
	for _, row := range out {
		if len(row) == 0 || len(row) > cfg.DecLen {
			t.Fatalf("row length %d", len(row))
		}
	}
}

// TestDecoderIsCausal checks that the logits at position p depend on the
// decoder inputs up to p only, and that decoderInputs shifts right behind pad.
func TestDecoderIsCausal(t *testing.T) {
	cfg := smokeConfig(t)
	tr := newSmoke(t, cfg)
	batch := randomBatch(&cfg, 5)
	n := len(tr.Specs)
	logitsOf := func(targets []int32) []float32 {
		out, err := ExecOnceN(tr.Backend, func(in []*Node) []*Node {
			m := newT5(&tr.Cfg, tr.Specs, in[:n], nil)
			return []*Node{m.Logits(in[n], decoderInputs(in[n+1], cfg.PadID)), decoderInputs(in[n+1], cfg.PadID)}
		}, tr.args(tensors.FromFlatDataAndDimensions(batch.Enc, cfg.BatchSize, cfg.EncLen),
			tensors.FromFlatDataAndDimensions(targets, cfg.BatchSize, cfg.DecLen))...)
		if err != nil {
			t.Fatal(err)
		}
		decIn := tensors.MustCopyFlatData[int32](out[1])
		for r := range cfg.BatchSize {
			if decIn[r*cfg.DecLen] != cfg.PadID {
				t.Fatalf("decoder input row %d starts with %d, want pad", r, decIn[r*cfg.DecLen])
			}
			for p := 1; p < cfg.DecLen; p++ {
				if decIn[r*cfg.DecLen+p] != targets[r*cfg.DecLen+p-1] {
					t.Fatalf("decoder input not the targets shifted right at row %d position %d", r, p)
				}
			}
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	base := logitsOf(batch.Targets)
	const changed = 5 // targets[changed] is decoder input changed+1
	mod := append([]int32(nil), batch.Targets...)
	mod[changed] = (mod[changed]+1)%int32(cfg.VocabSize-3) + 3
	other := logitsOf(mod)
	V := cfg.VocabSize
	for p := range cfg.DecLen {
		diff := 0.0
		for v := range V {
			diff = math.Max(diff, math.Abs(float64(base[p*V+v]-other[p*V+v])))
		}
		if p <= changed && diff != 0 {
			t.Errorf("row 0 position %d changed (by %g) when a later decoder input changed", p, diff)
		}
		if p == changed+1 && diff == 0 {
			t.Errorf("row 0 position %d did not change when its own input changed", p)
		}
	}
}

// TestBFloat16Matmuls runs the bfloat16 matmul path (used on XLA
// accelerators) on the go backend: same loss within bfloat16 precision,
// and a training step that lowers it.
func TestBFloat16Matmuls(t *testing.T) {
	cfg := smokeConfig(t)
	batch := randomBatch(&cfg, 6)
	f32 := newSmoke(t, cfg)
	cfg.MatmulDType = "bfloat16"
	bf16 := newSmoke(t, cfg)
	want, err := f32.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bf16.EvalLoss(batch)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 0.03*want {
		t.Fatalf("bfloat16 loss %.4f, float32 %.4f", got, want)
	}
	for range 3 {
		if _, err := bf16.TrainStep([]Batch{batch}); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := bf16.EvalLoss(batch); after >= got {
		t.Fatalf("bfloat16 training did not lower the loss: %.4f -> %.4f", got, after)
	}
	for name, want := range map[string]string{"go": "float32", "xla:cpu": "float32", "xla:cuda": "bfloat16"} {
		if got := DefaultMatmulDType(name); got != want {
			t.Errorf("DefaultMatmulDType(%q) = %s, want %s", name, got, want)
		}
	}
}
