package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/lens-go/lens/netbench/span"
	"github.com/lens-go/lens/trainer/masking"
)

func TestAdamWDoesNotDecayNormScales(t *testing.T) {
	cfg := smokeConfig(t)
	cfg.WeightDecay, cfg.LearningRate = 0.1, 0.1
	tr := newSmoke(t, cfg)
	before, _ := tr.Params()
	zero := make([][]float32, len(tr.Specs))
	for i, s := range tr.Specs {
		zero[i] = make([]float32, s.Size())
	}
	if _, _, err := tr.Apply(zero); err != nil {
		t.Fatal(err)
	}
	after, _ := tr.Params()
	for i, s := range tr.Specs {
		for j := range before[i] {
			want := before[i][j]
			if s.Decay {
				want = before[i][j] * float32(1-0.1*0.1)
			}
			if math.Abs(float64(after[i][j]-want)) > 1e-6*math.Abs(float64(want))+1e-9 {
				t.Fatalf("%s[%d]: %g -> %g, want %g (decay=%v)", s.Name, j, before[i][j], after[i][j], want, s.Decay)
			}
		}
		if strings.HasSuffix(s.Name, "norm") && s.Decay {
			t.Errorf("norm scale %s is decayed", s.Name)
		}
	}
}

func TestGlobalNormClipping(t *testing.T) {
	for _, clip := range []float64{1.0, 0} {
		cfg := smokeConfig(t)
		cfg.ClipNorm = clip
		tr := newSmoke(t, cfg)
		ones := make([][]float32, len(tr.Specs))
		for i, s := range tr.Specs {
			ones[i] = make([]float32, s.Size())
			for j := range ones[i] {
				ones[i][j] = 1
			}
		}
		norm, _, err := tr.Apply(ones)
		if err != nil {
			t.Fatal(err)
		}
		wantNorm := math.Sqrt(float64(NumParams(tr.Specs)))
		if math.Abs(norm-wantNorm) > 1e-3*wantNorm {
			t.Fatalf("reported norm %g, want %g", norm, wantNorm)
		}
		// First moment after one step is (1-beta1) * clipped gradient.
		m := tensors.MustCopyFlatData[float32](tr.m[0])
		want := (1 - cfg.Beta1) * 1.0
		if clip > 0 {
			want *= clip / wantNorm
		}
		if math.Abs(float64(m[0])-want) > 1e-4*want {
			t.Fatalf("clip %g: first moment %g, want %g", clip, m[0], want)
		}
	}
}

func TestSchedules(t *testing.T) {
	cfg := smokeConfig(t)
	cfg.LearningRate, cfg.WarmupSteps, cfg.Steps = 1, 10, 110
	cfg.Schedule = "cosine"
	if lr := LearningRate(&cfg, 4); math.Abs(lr-0.5) > 1e-12 {
		t.Errorf("warmup step 4: %g", lr)
	}
	if lr := LearningRate(&cfg, 10); math.Abs(lr-1) > 1e-12 {
		t.Errorf("peak: %g", lr)
	}
	if lr := LearningRate(&cfg, 60); math.Abs(lr-0.5) > 1e-12 {
		t.Errorf("cosine midpoint: %g", lr)
	}
	cfg.Schedule = "linear"
	if lr := LearningRate(&cfg, 60); math.Abs(lr-0.5) > 1e-12 {
		t.Errorf("linear midpoint: %g", lr)
	}
	if lr := LearningRate(&cfg, 110); lr != 0 {
		t.Errorf("linear end: %g", lr)
	}
}

// syntheticExamples builds packet-like examples with typed fields and a
// context, ids in [3, vocab-sentinels).
func syntheticExamples(n, vocab, sentinels int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 0))
	kinds := []span.Kind{span.Address, span.Protocol, span.FrameLen, span.Port, span.Port, span.Flags, span.Seq, span.Ack, span.Window, span.PayloadLen}
	out := make([]Example, n)
	for i := range out {
		var ex Example
		field := int32(0)
		lines := 1 + r.IntN(2)
		for range lines {
			for _, k := range kinds {
				for range 1 + r.IntN(2) {
					ex.IDs = append(ex.IDs, int32(3+r.IntN(vocab-sentinels-3)))
					ex.Kinds = append(ex.Kinds, k)
					ex.Fields = append(ex.Fields, field)
				}
				field++
			}
		}
		ex.IDs = append(ex.IDs, 2) // <sep>
		ex.Kinds = append(ex.Kinds, span.None)
		ex.Fields = append(ex.Fields, -1)
		ex.ContextStart = len(ex.IDs)
		for range 4 {
			ex.IDs = append(ex.IDs, int32(3+r.IntN(vocab-sentinels-3)))
			ex.Kinds = append(ex.Kinds, span.Context)
			ex.Fields = append(ex.Fields, -1)
		}
		out[i] = ex
	}
	return out
}

func pretrainConfig(t *testing.T) PretrainConfig {
	cfg, err := Preset("smoke", 96)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Steps, cfg.WarmupSteps, cfg.CheckpointEvery, cfg.LogEvery = 6, 2, 1, 2
	cfg.BatchSize, cfg.GradAccum = 2, 2
	pol, err := masking.Load("../configs/masking/kgmsp.json")
	if err != nil {
		t.Fatal(err)
	}
	return PretrainConfig{Model: cfg, Masking: pol, Sentinels: 10, Backend: "go", Keep: 2}
}

func readMetrics(t *testing.T, dir string) []StepLog {
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []StepLog
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l StepLog
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// TestResumeEqualsUninterrupted: 2N steps in one go equal N steps, a
// checkpoint, a fresh process state, and N more (dropout, masking and data
// order included).
func TestResumeEqualsUninterrupted(t *testing.T) {
	pc := pretrainConfig(t)
	data := func() Source { return NewMemorySource(syntheticExamples(5, 96, 10, 1), true, 3) } // 5 examples: passes wrap
	whole, split := t.TempDir(), t.TempDir()
	var progress bytes.Buffer
	pc.Progress = &progress
	if err := Pretrain(context.Background(), pc, data(), whole); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "step 6/6") || !strings.Contains(progress.String(), "backend go") {
		t.Fatalf("progress output: %q", progress.String())
	}
	first := pc
	first.StopAfter = 4
	if err := Pretrain(context.Background(), first, data(), split); err != nil {
		t.Fatal(err)
	}
	// A crash after step 4 but before its checkpoint: the run restarts
	// from step 3 and redoes step 4 (its metrics line is replaced).
	if err := os.Remove(filepath.Join(split, CheckpointName(4))); err != nil {
		t.Fatal(err)
	}
	if err := Pretrain(context.Background(), pc, data(), split); err != nil {
		t.Fatal(err)
	}
	a, b := readMetrics(t, whole), readMetrics(t, split)
	if len(a) != 6 || len(b) != 6 {
		t.Fatalf("metrics lines: %d and %d, want 6", len(a), len(b))
	}
	for i := range a {
		if a[i].Loss != b[i].Loss || a[i].Examples != b[i].Examples || a[i].Epoch != b[i].Epoch {
			t.Errorf("step %d: uninterrupted loss %.8f (examples %d), resumed %.8f (examples %d)",
				a[i].Step, a[i].Loss, a[i].Examples, b[i].Loss, b[i].Examples)
		}
	}
	ca, err := ReadCheckpoint(filepath.Join(whole, CheckpointName(6)))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := ReadCheckpoint(filepath.Join(split, CheckpointName(6)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ca.Params {
		for j := range ca.Params[i] {
			if ca.Params[i][j] != cb.Params[i][j] || ca.V[i][j] != cb.V[i][j] {
				t.Fatalf("%s[%d] differs after resume: %g vs %g", ca.Meta.Params[i].Name, j, ca.Params[i][j], cb.Params[i][j])
			}
		}
	}
	if names, _ := filepath.Glob(filepath.Join(whole, "step-*.ckpt")); len(names) != 2 {
		t.Errorf("checkpoints kept: %v, want the newest 2 (steps 5 and 6)", names)
	}
	if ca.Meta.Data != cb.Meta.Data || ca.Meta.Backend != "go" {
		t.Fatalf("data positions %+v vs %+v, backend %q", ca.Meta.Data, cb.Meta.Data, ca.Meta.Backend)
	}
}

func TestCorruptCheckpointRefused(t *testing.T) {
	cfg := smokeConfig(t)
	tr := newSmoke(t, cfg)
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointName(0))
	if err := tr.SaveCheckpoint(path, DataPosition{Epoch: 1, Index: 2, Consumed: 3}, nil); err != nil {
		t.Fatal(err)
	}
	meta, err := tr.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Data != (DataPosition{Epoch: 1, Index: 2, Consumed: 3}) {
		t.Fatalf("data position %+v", meta.Data)
	}
	raw, _ := os.ReadFile(path)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 0x40
	for name, content := range map[string][]byte{"flipped": flipped, "truncated": raw[:len(raw)-100], "empty": nil} {
		bad := filepath.Join(dir, name+".ckpt")
		if err := os.WriteFile(bad, content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := tr.LoadCheckpoint(bad)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s checkpoint: got error %v, want a corruption error naming %s", name, err, bad)
		} else {
			t.Log(err)
		}
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temporary file %s", e.Name())
		}
	}
}

func TestNewBackendValidatesAndFallsBack(t *testing.T) {
	var notice bytes.Buffer
	BackendNotice = &notice
	defer func() { BackendNotice = os.Stderr }()
	if _, _, err := NewBackend("bogus"); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Fatalf("bogus backend: %v", err)
	}
	_, name, err := NewBackend("xla:cuda")
	if err != nil {
		t.Fatal(err)
	}
	if len(xlaPlugins()) == 0 && (name != "go" || !strings.Contains(notice.String(), "using \"go\"")) {
		t.Fatalf("without a PJRT plugin, xla must fall back to go with a notice: got %q, notice %q", name, notice.String())
	}
	t.Setenv(BackendEnv, "")
	if _, name, err := NewBackend(""); err != nil || (len(xlaPlugins()) == 0 && name != "go") {
		t.Fatalf("auto: %q, %v", name, err)
	}
}

func TestFitExampleKeepsContext(t *testing.T) {
	ex := syntheticExamples(1, 96, 10, 4)[0]
	n := len(ex.IDs)
	fit, cut := fitExample(ex, n-3)
	if !cut || len(fit.IDs) != n-3 || len(fit.Kinds) != n-3 || len(fit.Fields) != n-3 {
		t.Fatalf("fit to %d: got %d tokens", n-3, len(fit.IDs))
	}
	if fit.ContextStart != ex.ContextStart-3 || fit.IDs[fit.ContextStart-1] != 2 {
		t.Fatalf("context start %d, token before it %d", fit.ContextStart, fit.IDs[fit.ContextStart-1])
	}
	for i := range 4 {
		if fit.IDs[fit.ContextStart+i] != ex.IDs[ex.ContextStart+i] {
			t.Fatal("context changed")
		}
	}
}

// meanReducer averages gradients across in-process workers: each Reduce
// call waits until every worker has contributed.
type meanReducer struct {
	mu      sync.Mutex
	workers int
	sum     [][]float32
	arrived int
	round   chan struct{}
}

func (r *meanReducer) Reduce(grads [][]float32) error {
	r.mu.Lock()
	if r.sum == nil {
		r.sum = make([][]float32, len(grads))
		for i := range grads {
			r.sum[i] = make([]float32, len(grads[i]))
		}
		r.round = make(chan struct{})
	}
	for i := range grads {
		for j, g := range grads[i] {
			r.sum[i][j] += g
		}
	}
	r.arrived++
	sum, round := r.sum, r.round
	if r.arrived == r.workers {
		for i := range sum {
			for j := range sum[i] {
				sum[i][j] /= float32(r.workers)
			}
		}
		r.sum, r.arrived = nil, 0
		close(round)
	}
	r.mu.Unlock()
	<-round
	for i := range grads {
		copy(grads[i], sum[i])
	}
	return nil
}

// TestReducerDataParallelEqualsCombinedBatch: two workers on half batches
// with a mean reducer match one process on the whole batch.
func TestReducerDataParallelEqualsCombinedBatch(t *testing.T) {
	cfg := smokeConfig(t)
	cfg.BatchSize = 4
	full := newSmoke(t, cfg)
	half := cfg
	half.BatchSize = 2
	workers := []*Trainer{newSmoke(t, half), newSmoke(t, half)}
	red := &meanReducer{workers: 2}
	for _, w := range workers {
		w.Reducer = red
	}
	for step := range 3 {
		batch := randomTokens(&cfg, uint64(step)) // no padding: equal token counts per half
		if _, err := full.TrainStep([]Batch{batch}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, w := range workers {
			part := Batch{Rows: 2, Enc: batch.Enc[i*2*cfg.EncLen : (i+1)*2*cfg.EncLen],
				Targets: batch.Targets[i*2*cfg.DecLen : (i+1)*2*cfg.DecLen]}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = w.TrainStep([]Batch{part})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	want, _ := full.Params()
	for w, tr := range workers {
		got, _ := tr.Params()
		for i := range want {
			for j := range want[i] {
				if d := math.Abs(float64(got[i][j] - want[i][j])); d > 1e-5 {
					t.Fatalf("worker %d %s[%d]: %g, single process %g", w, tr.Specs[i].Name, j, got[i][j], want[i][j])
				}
			}
		}
	}
}

func TestPretrainCancelSavesCheckpoint(t *testing.T) {
	pc := pretrainConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	err := Pretrain(ctx, pc, NewMemorySource(syntheticExamples(3, 96, 10, 1), false, 0), dir)
	if err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if p, _ := LatestCheckpoint(dir); p == "" {
		t.Fatal("no checkpoint after cancellation")
	}
}
