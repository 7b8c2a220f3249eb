package baselines

// The extension scenarios of the paper's Table 5: a classifier finetuned on
// old classes until convergence is extended by k new classes and finetuned
// on new-class data only. ET-BERT grows its MLP head by k output rows with
// Kaiming initialisation (old rows kept); ET-BERT-LwF adds learning without
// forgetting (Li and Hoiem, TPAMI 2017): a distillation term keeping the new
// model's temperature-softened outputs on the old classes close to what the
// old model output on the same new-class data before finetuning.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// LwF's settings, Li and Hoiem's defaults: loss weight lambda_o = 1, temperature T = 2.
const (
	LwFLambda      = 1.0
	LwFTemperature = 2.0
)

// ExtensionModel is the model both extension methods extend: ExtendScenario
// starts from a Pretrained of it.
const ExtensionModel = "ET-BERT"

// ExtensionNames are the methods ExtendScenario runs.
func ExtensionNames() []string { return []string{"ET-BERT", "ET-BERT-LwF"} }

// Extend returns a copy of m with k more classes: every parameter is copied,
// the head's old rows and biases bit for bit, and the k new rows are drawn
// from Kaiming's normal initialisation N(0, 2/fan_in) with zero biases,
// deterministic in seed. m is left unchanged.
func (m *Model) Extend(k int, seed uint64) (out *Model, err error) {
	defer recoverInto(&err)
	if m.a.head == "" {
		return nil, fmt.Errorf("baselines: %s has no extensible head", m.Name)
	}
	if k < 1 {
		return nil, fmt.Errorf("baselines: extend by %d classes", k)
	}
	a, err := builders[m.Name](m.preset, m.Classes+k)
	if err != nil {
		return nil, err
	}
	n := newNet(m.n.backend, a.specs, m.Cfg.Seed)
	wName, bName := m.a.head+".w", m.a.head+".b"
	for i, s := range a.specs {
		old := m.n.vals[m.n.index[s.name]]
		switch s.name {
		case wName:
			fanIn := s.dims[1]
			rows := make([]float32, k*fanIn)
			r := rand.New(rand.NewPCG(seed, 0xe8))
			std := math.Sqrt(2 / float64(fanIn))
			for j := range rows {
				rows[j] = float32(r.NormFloat64() * std)
			}
			n.vals[i] = append(append([]float32(nil), old...), rows...)
		case bName:
			n.vals[i] = append(append([]float32(nil), old...), make([]float32, k)...)
		default:
			n.vals[i] = append([]float32(nil), old...)
		}
		if len(n.vals[i]) != s.size() {
			return nil, fmt.Errorf("baselines: extend: %s has %d values, want %d", s.name, len(n.vals[i]), s.size())
		}
	}
	return &Model{Name: m.Name, Classes: m.Classes + k, Cfg: m.Cfg, Backend: m.Backend, a: a, n: n, preset: m.preset}, nil
}

// distillation is LwF's loss: T^2 times the mean over the batch of
// KL(softmax(old/T) || softmax(cur/T)), cur being the new model's logits on
// the old classes. It is exactly zero when cur equals old.
func distillation(cur, old *Node, T float64) *Node {
	pOld := Softmax(DivScalar(old, T), -1)
	diff := Sub(LogSoftmax(DivScalar(old, T), -1), LogSoftmax(DivScalar(cur, T), -1))
	return MulScalar(ReduceAllMean(ReduceSum(Mul(pOld, diff), -1)), T*T)
}

// FitExtension finetunes an extended model on new-class examples only, for
// Cfg.ExtendEpochs epochs. With
// old set (LwF), the old model's logits on these examples are recorded first
// and the loss adds LwFLambda times the distillation term on the first
// old.Classes outputs. Returns the mean loss of each epoch.
func (m *Model) FitExtension(ctx context.Context, exs []Example, old *Model) ([]float64, error) {
	if old == nil {
		return m.fit(ctx, exs, m.Cfg.ExtendEpochs, "train", m.classLoss, nil)
	}
	oldLogits, _, err := old.unitLogits(exs)
	if err != nil {
		return nil, err
	}
	C := old.Classes
	loss := func(w weights, in []*Node) *Node {
		logits, _ := m.a.forward(w, in[0], in[1], &dropout{rng: in[3]})
		cur := SliceAxis(logits, 1, AxisRange(0, C))
		return Add(crossEntropy(logits, in[2]), MulScalar(distillation(cur, in[4], LwFTemperature), LwFLambda))
	}
	extra := func(pick []int) []*tensors.Tensor {
		flat := make([]float32, 0, len(pick)*C)
		for _, i := range pick {
			flat = append(flat, oldLogits[i]...)
		}
		return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(flat, len(pick), C)}
	}
	return m.fit(ctx, exs, m.Cfg.ExtendEpochs, "train-lwf", loss, extra)
}

// ExtendScenario runs one extension scenario for method "ET-BERT" or
// "ET-BERT-LwF": start from pre (a pretrained ET-BERT; nil: none), finetune on oldTrain
// (labels 0..oldClasses-1), extend by k classes, finetune on newTrain
// (labels oldClasses..oldClasses+k-1) only, predict test (old and new
// classes). The old-class finetuning runs cfg.Epochs epochs, the new-class one
// cfg.ExtendEpochs.
func ExtendScenario(ctx context.Context, method string, cfg Config, pre *Pretrained, oldTrain, newTrain, test []Example, oldClasses, k int) (*Result, error) {
	lwf := false
	switch method {
	case "ET-BERT":
	case "ET-BERT-LwF":
		lwf = true
	default:
		return nil, fmt.Errorf("baselines: unknown extension method %q (have %v)", method, ExtensionNames())
	}
	old, err := NewModel(ExtensionModel, cfg, oldClasses)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: method, Backend: old.Backend}
	if pre != nil {
		if err := old.startFrom(pre); err != nil {
			return nil, err
		}
		res.PretrainTime, res.PretrainLosses = pre.Time, pre.Losses
	}
	start := time.Now()
	if _, err := old.Fit(ctx, oldTrain); err != nil {
		return nil, err
	}
	m, err := old.Extend(k, cfg.Seed)
	if err != nil {
		return nil, err
	}
	var teacher *Model
	if lwf {
		teacher = old
	}
	if res.Losses, err = m.FitExtension(ctx, newTrain, teacher); err != nil {
		return nil, err
	}
	res.TrainTime = time.Since(start)
	res.Params, res.PretrainParams = m.n.numParams(false), m.n.numParams(true)
	start = time.Now()
	if res.Pred, err = m.Predict(test); err != nil {
		return nil, err
	}
	res.TestTime = time.Since(start)
	return res, nil
}
