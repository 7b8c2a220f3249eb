package baselines

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// TestGradients checks every baseline's classification-loss gradient
// (GRU/LSTM cells, attention, im2col convolution, pooling, embeddings)
// against central finite differences, at the largest-gradient entry of each
// parameter tensor. It would catch a wrong fused-op gradient such as the go
// backend's GeluApproximate (GOMLX-NOTES defect 1).
func TestGradients(t *testing.T) {
	exs := synthFlows(4, 3, 9)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			m, err := NewModel(name, Config{Preset: "smoke", Batch: 4, Seed: 2}, 3)
			if err != nil {
				t.Fatal(err)
			}
			// Zero-initialised biases put ReLUs over zero-padded bytes exactly
			// at their kink, where finite differences see half a slope:
			// randomise them first.
			r := rand.New(rand.NewPCG(5, 5))
			for i, s := range m.n.specs {
				if s.init == initZeros {
					for k := range m.n.vals[i] {
						m.n.vals[i][k] = float32(0.1 * r.NormFloat64())
					}
				}
			}
			// float64 would be cleaner, but the models are float32: use a
			// step that float32 resolves and a loose tolerance.
			us, labels := m.labelled(exs)
			x, ids := m.inputs(us)
			in := []*tensors.Tensor{x, ids, tensors.FromFlatDataAndDimensions(labels, len(labels)), rngState(3)}
			idx := m.n.trainable(false, nil)
			out, err := m.n.run("fd-grad", func(w weights, in []*Node) []*Node {
				loss := m.classLoss(w, in)
				ps := make([]*Node, len(idx))
				for j, i := range idx {
					ps[j] = w[m.n.specs[i].name]
				}
				return append([]*Node{loss}, Gradient(loss, ps...)...)
			}, in)
			if err != nil {
				t.Fatal(err)
			}
			lossAt := func() float64 {
				o, err := m.n.run("fd-loss", func(w weights, in []*Node) []*Node { return []*Node{m.classLoss(w, in)} }, in)
				if err != nil {
					t.Fatal(err)
				}
				return float64(o[0][0])
			}
			checked := 0
			for j, i := range idx {
				g := out[1+j]
				best := 0
				for k := range g {
					if math.Abs(float64(g[k])) > math.Abs(float64(g[best])) {
						best = k
					}
				}
				if math.Abs(float64(g[best])) < 1e-3 {
					continue
				}
				const eps = 3e-3
				v := m.n.vals[i]
				orig := v[best]
				v[best] = orig + eps
				up := lossAt()
				v[best] = orig - eps
				down := lossAt()
				v[best] = orig
				fd := (up - down) / (2 * eps)
				if diff := math.Abs(fd - float64(g[best])); diff > 0.05*math.Abs(fd)+2e-3 {
					t.Errorf("%s[%d]: gradient %.5f, finite difference %.5f", m.n.specs[i].name, best, g[best], fd)
				}
				checked++
			}
			if checked < 3 {
				t.Errorf("only %d tensors had a gradient to check", checked)
			}
		})
	}
}

// TestDeterministic trains twice with one seed and wants identical losses
// and predictions, and different ones with another seed.
func TestDeterministic(t *testing.T) {
	train, test := synthFlows(40, 3, 1), synthFlows(12, 3, 2)
	run := func(name string, seed uint64) *Result {
		res, err := pretrainAndTrain(context.Background(), name, Config{Preset: "smoke", Epochs: 2, Batch: 8, Seed: seed}, train, train, test, 3)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, name := range []string{"FS-Net", "YaTC"} {
		a, b, c := run(name, 1), run(name, 1), run(name, 2)
		if !slices.Equal(a.Losses, b.Losses) || !slices.Equal(a.Pred, b.Pred) || !slices.Equal(a.PretrainLosses, b.PretrainLosses) {
			t.Errorf("%s: same seed, different runs: %v %v", name, a.Losses, b.Losses)
		}
		if slices.Equal(a.Losses, c.Losses) {
			t.Errorf("%s: seeds 1 and 2 gave identical losses", name)
		}
	}
}

// TestPretrainingLearns wants the self-supervised losses (YaTC's masked
// patch reconstruction, ET-BERT's MLM, the TrafficLLM stand-in's next-byte
// prediction) to fall every epoch, by at least 5% over five (with warmup and
// decay in five short epochs, ET-BERT's MLM only gets started).
func TestPretrainingLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models")
	}
	data := synthFlows(96, 3, 4)
	for _, name := range []string{"YaTC", "ET-BERT", "TrafficLLM"} {
		m, err := NewModel(name, Config{Preset: "smoke", PretrainEpochs: 5, Batch: 16, Seed: 1, LR: 2e-3}, 3)
		if err != nil {
			t.Fatal(err)
		}
		losses, err := m.Pretrain(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s pretraining losses %.4f", name, losses)
		if len(losses) != 5 || !(losses[4] < 0.95*losses[0]) || !slices.IsSortedFunc(losses, func(x, y float64) int {
			if x > y {
				return -1
			}
			return 1
		}) {
			t.Errorf("%s: pretraining loss did not fall: %v", name, losses)
		}
	}
}

// TestEvalSeesUpdates guards against stale weights in evaluation graphs
// (GOMLX-NOTES defect 2): logits must change after a training step.
func TestEvalSeesUpdates(t *testing.T) {
	m, err := NewModel("Datanet", Config{Preset: "smoke", Epochs: 1, Batch: 8, Seed: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	exs := synthFlows(8, 3, 1)
	before, _, err := m.unitLogits(exs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), exs); err != nil {
		t.Fatal(err)
	}
	after, _, err := m.unitLogits(exs)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(before[0], after[0]) {
		t.Error("logits unchanged after training: the evaluation graph uses stale weights")
	}
}

func TestNamesAndErrors(t *testing.T) {
	want := []string{"BiLSTM_Att", "DeepPacket", "Datanet", "ET-BERT", "FS-Net", "TSCRNN", "TrafficLLM", "YaTC"}
	slices.Sort(want)
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if _, err := NewModel("nope", Config{}, 3); err == nil {
		t.Error("unknown model accepted")
	}
	if _, err := NewModel("Datanet", Config{Preset: "huge"}, 3); err == nil {
		t.Error("unknown preset accepted")
	}
	if _, err := NewModel("Datanet", Config{Backend: "bogus"}, 3); err == nil {
		t.Error("unknown backend accepted")
	}
	m, err := NewModel("FS-Net", Config{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(context.Background(), []Example{{Label: 3}}); err == nil {
		t.Error("label 3 of 3 classes accepted")
	}
}

// TestPresetSizes lists the parameter counts of every preset (specs only:
// nothing is allocated) and checks that smoke is the smallest. (Base follows
// the original papers and may be smaller than small, as Datanet's is.)
func TestPresetSizes(t *testing.T) {
	for _, name := range Names() {
		smoke := 0
		for _, p := range []string{"smoke", "tiny", "small", "base"} {
			a, err := builders[name](p, 10)
			if err != nil {
				t.Fatal(err)
			}
			n, pre := 0, 0
			for _, s := range a.specs {
				if s.pre {
					pre += s.size()
				} else {
					n += s.size()
				}
			}
			t.Logf("%-10s %-5s %12d params (+%d pretraining-only)", name, p, n, pre)
			if p == "smoke" {
				smoke = n
			} else if n < smoke {
				t.Errorf("%s: %s smaller than smoke", name, p)
			}
		}
	}
}

// TestEmptyAndShortFlows trains every model one epoch on flows that include
// one without packets and one with a single packet, and wants a prediction
// for each test flow.
func TestEmptyAndShortFlows(t *testing.T) {
	exs := synthFlows(6, 3, 1)
	exs[0] = Example{Label: 0}
	exs[1].Packets, exs[1].Lengths, exs[1].Dirs = exs[1].Packets[:1], exs[1].Lengths[:1], exs[1].Dirs[:1]
	for _, name := range Names() {
		res, err := pretrainAndTrain(context.Background(), name, Config{Preset: "smoke", Epochs: 1, Batch: 4, Seed: 1}, exs, exs, exs, 3)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Pred) != len(exs) {
			t.Fatalf("%s: %d predictions for %d flows", name, len(res.Pred), len(exs))
		}
	}
}

// TestDropout wants dropout in training (the loss depends on the random
// state for a model with dropout, not for one without) and none at
// evaluation (logits are reproducible).
func TestDropout(t *testing.T) {
	exs := synthFlows(8, 3, 1)
	for _, c := range []struct {
		name       string
		hasDropout bool
	}{{"ET-BERT", true}, {"FS-Net", true}, {"DeepPacket", true}, {"Datanet", false}, {"YaTC", false}} {
		m, err := NewModel(c.name, Config{Preset: "smoke", Batch: 8, Seed: 1}, 3)
		if err != nil {
			t.Fatal(err)
		}
		us, labels := m.labelled(exs)
		x, ids := m.inputs(us)
		loss := func(seed int64) float32 {
			out, err := m.n.run("loss", func(w weights, in []*Node) []*Node { return []*Node{m.classLoss(w, in)} },
				[]*tensors.Tensor{x, ids, tensors.FromFlatDataAndDimensions(labels, len(labels)), rngState(seed)})
			if err != nil {
				t.Fatal(err)
			}
			return out[0][0]
		}
		if differ := loss(1) != loss(2); differ != c.hasDropout {
			t.Errorf("%s: loss depends on the dropout state: %v, want %v", c.name, differ, c.hasDropout)
		}
		a, _, err := m.unitLogits(exs)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := m.unitLogits(exs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !slices.Equal(a[i], b[i]) {
				t.Fatalf("%s: evaluation not reproducible", c.name)
			}
		}
	}
}

func TestSchedule(t *testing.T) {
	a := &arch{warmup: true}
	var lrs []float64
	for s := range 20 {
		lrs = append(lrs, a.scheduled(1, s, 20))
	}
	if lrs[0] != 0.5 || lrs[1] != 1 || lrs[19] <= 0 || lrs[19] > 0.06 || !slices.IsSortedFunc(lrs[1:], func(x, y float64) int {
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	}) {
		t.Errorf("warmup then linear decay expected: %v", lrs)
	}
	if (&arch{}).scheduled(1e-3, 5, 20) != 1e-3 {
		t.Error("constant schedule changed the rate")
	}
}

// pretrainAndTrain pretrains name on pre (when it has a pretraining
// objective) and trains it, as the harness does for one task.
func pretrainAndTrain(ctx context.Context, name string, cfg Config, pre, train, test []Example, classes int) (*Result, error) {
	p, err := Pretrain(ctx, name, cfg, pre)
	if err != nil {
		return nil, err
	}
	return Train(ctx, name, cfg, p, train, test, classes)
}
