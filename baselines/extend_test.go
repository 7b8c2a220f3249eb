package baselines

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

func byLabel(exs []Example, keep func(int) bool) []Example {
	var out []Example
	for _, ex := range exs {
		if keep(ex.Label) {
			out = append(out, ex)
		}
	}
	return out
}

func TestExtendKeepsOldRows(t *testing.T) {
	cfg := Config{Preset: "smoke", Epochs: 1, Batch: 16, Seed: 3}
	old, err := NewModel("ET-BERT", cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Fit(context.Background(), synthFlows(32, 3, 1)); err != nil {
		t.Fatal(err)
	}
	before := make([][]float32, len(old.n.vals))
	for i, v := range old.n.vals {
		before[i] = append([]float32(nil), v...)
	}
	const k = 2
	ext, err := old.Extend(k, 11)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Classes != 5 {
		t.Fatalf("classes %d, want 5", ext.Classes)
	}
	for i, s := range old.n.specs {
		for j, x := range old.n.vals[i] {
			if math.Float32bits(x) != math.Float32bits(before[i][j]) {
				t.Fatalf("Extend changed the old model's %s", s.name)
			}
		}
		nv := ext.n.vals[ext.n.index[s.name]]
		for j, x := range old.n.vals[i] { // every old value, incl. the head's old rows, bit for bit
			if math.Float32bits(nv[j]) != math.Float32bits(x) {
				t.Fatalf("%s[%d] = %v, old %v", s.name, j, nv[j], x)
			}
		}
		switch s.name {
		case "cls.out.w":
			d := s.dims[1]
			if len(nv) != (3+k)*d {
				t.Fatalf("head has %d values, want %d rows of %d", len(nv), 3+k, d)
			}
			var sq float64
			for _, x := range nv[3*d:] {
				sq += float64(x) * float64(x)
			}
			std, want := math.Sqrt(sq/float64(k*d)), math.Sqrt(2/float64(d))
			if math.Abs(std-want) > 0.35*want {
				t.Errorf("new rows have std %.3f, Kaiming wants %.3f", std, want)
			}
		case "cls.out.b":
			if len(nv) != 3+k || nv[3] != 0 || nv[4] != 0 {
				t.Fatalf("head bias %v", nv)
			}
		default:
			if len(nv) != len(old.n.vals[i]) {
				t.Fatalf("%s changed size", s.name)
			}
		}
	}
	// Same encoder and old rows: the old classes' logits agree, so LwF's
	// distillation term starts at zero.
	test := synthFlows(12, 3, 5)
	lo, _, err := old.unitLogits(test)
	if err != nil {
		t.Fatal(err)
	}
	ln, _, err := ext.unitLogits(test)
	if err != nil {
		t.Fatal(err)
	}
	cur, prev := make([]float32, 0), make([]float32, 0)
	for i := range lo {
		if len(ln[i]) != 5 {
			t.Fatalf("extended logits %v", ln[i])
		}
		cur, prev = append(cur, ln[i][:3]...), append(prev, lo[i]...)
	}
	if d := distill(t, ext, cur, prev, len(lo)); math.Abs(d) > 1e-6 {
		t.Errorf("distillation between the extended and the old model = %g, want 0", d)
	}
}

func distill(t *testing.T, m *Model, cur, old []float32, rows int) float64 {
	t.Helper()
	e, err := NewExec(m.n.backend, func(a, b *Node) *Node { return distillation(a, b, LwFTemperature) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Call(tensors.FromFlatDataAndDimensions(cur, rows, len(cur)/rows), tensors.FromFlatDataAndDimensions(old, rows, len(old)/rows))
	if err != nil {
		t.Fatal(err)
	}
	return float64(tensors.ToScalar[float32](out[0]))
}

func TestDistillation(t *testing.T) {
	m, err := NewModel("ET-BERT", Config{Preset: "smoke"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	old := []float32{1, -2, 0.5, 3, 0, -1}
	if d := distill(t, m, old, old, 2); d != 0 {
		t.Errorf("distillation of identical outputs = %g, want exactly 0", d)
	}
	cur := []float32{1, -2, 0.5, -3, 0, 1}
	// by hand: row 1 identical; row 2 KL(softmax([1.5,0,-.5]) || softmax([-1.5,0,.5])) * T^2 / 2 rows
	p := softmax([]float32{1.5, 0, -0.5})
	q := softmax([]float32{-1.5, 0, 0.5})
	want := 0.0
	for i := range p {
		want += float64(p[i]) * math.Log(float64(p[i])/float64(q[i]))
	}
	want *= LwFTemperature * LwFTemperature / 2
	if d := distill(t, m, cur, old, 2); math.Abs(d-want) > 1e-5 {
		t.Errorf("distillation = %g, want %g", d, want)
	}
}

// TestExtendScenario runs both extension methods on 3 old and 2 new
// synthetic classes and reports old- and new-class accuracy.
func TestExtendScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models")
	}
	all := synthFlows(150, 5, 1)
	test := synthFlows(50, 5, 2)
	oldTrain := byLabel(all, func(l int) bool { return l < 3 })
	newTrain := byLabel(all, func(l int) bool { return l >= 3 })
	cfg := Config{Preset: "smoke", Epochs: 4, Batch: 16, Seed: 1}
	for _, method := range ExtensionNames() {
		res, err := ExtendScenario(context.Background(), method, cfg, nil, oldTrain, newTrain, test, 3, 2)
		if err != nil {
			t.Fatal(err)
		}
		var okOld, nOld, okNew, nNew int
		for i, p := range res.Pred {
			if p < 0 || p >= 5 {
				t.Fatalf("prediction %d out of range", p)
			}
			if test[i].Label < 3 {
				nOld++
				if p == test[i].Label {
					okOld++
				}
			} else {
				nNew++
				if p == test[i].Label {
					okNew++
				}
			}
		}
		t.Logf("%s: old-class accuracy %.3f, new-class accuracy %.3f, overall %.3f; losses %.3f",
			method, float64(okOld)/float64(nOld), float64(okNew)/float64(nNew), accuracy(res.Pred, test), res.Losses)
		if okNew == 0 {
			t.Errorf("%s never predicts a new class correctly", method)
		}
	}
}

// TestPretrainedStartsAnyTask pretrains ET-BERT once and starts classifiers
// of two class counts from it: every parameter but the classifier's equals
// the pretrained value, the classifier's equals a fresh model's, and
// pretraining did change the weights it trains.
func TestPretrainedStartsAnyTask(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Preset: "smoke", Epochs: 1, Batch: 8, Seed: 3}
	p, err := Pretrain(ctx, "ET-BERT", cfg, synthFlows(24, 3, 5))
	if err != nil {
		t.Fatal(err)
	}
	if p == nil || p.Examples != 24 || len(p.Losses) != 1 {
		t.Fatalf("pretrained = %+v", p)
	}
	fresh, err := NewModel("ET-BERT", cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i, s := range fresh.n.specs {
		if !slices.Equal(fresh.n.vals[i], p.vals[s.name]) {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("pretraining changed no parameter")
	}
	for _, classes := range []int{3, 7} {
		m, err := NewModel("ET-BERT", cfg, classes)
		if err != nil {
			t.Fatal(err)
		}
		init := make([][]float32, len(m.n.vals))
		for i, v := range m.n.vals {
			init[i] = slices.Clone(v)
		}
		if err := m.startFrom(p); err != nil {
			t.Fatal(err)
		}
		head := 0
		for i, s := range m.n.specs {
			switch {
			case strings.HasPrefix(s.name, m.a.head+"."):
				head++
				if !slices.Equal(m.n.vals[i], init[i]) {
					t.Errorf("%d classes: classifier parameter %s is not its initialisation", classes, s.name)
				}
			case !slices.Equal(m.n.vals[i], p.vals[s.name]):
				t.Errorf("%d classes: %s is not the pretrained value", classes, s.name)
			}
		}
		if head != 2 {
			t.Errorf("%d classes: %d classifier parameters kept fresh, want 2 (%s.w, %s.b)", classes, head, m.a.head, m.a.head)
		}
	}
	if _, err := Train(ctx, "YaTC", cfg, p, synthFlows(8, 3, 1), synthFlows(4, 3, 2), 3); err == nil {
		t.Error("YaTC started from a pretrained ET-BERT without an error")
	}
	if q, err := Pretrain(ctx, "DeepPacket", cfg, synthFlows(8, 3, 1)); err != nil || q != nil {
		t.Errorf("Pretrain(DeepPacket) = %v, %v; want nil, nil (no pretraining objective)", q, err)
	}
}
