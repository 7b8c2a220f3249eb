package baselines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// Example is one labelled flow as the harness hands it to a baseline.
// Lengths and Dirs are the packet sizes and directions (0 from the
// initiator) of the flow's packets in order (FS-Net's input); Packets hold
// the bytes from the IP header on. Label is ignored for pretraining data.
type Example struct {
	Packets []Packet
	Lengths []int
	Dirs    []int
	Label   int
}

// Config selects a baseline's size and training.
type Config struct {
	// Preset scales the model like Lens's presets: smoke (seconds an epoch
	// on 2 cores), tiny, small, base (the original papers' sizes where known;
	// see docs/baselines.md).
	Preset string
	// Epochs of supervised training; PretrainEpochs of self-supervised
	// pretraining (YaTC, ET-BERT) on the unlabelled examples, 0 meaning Epochs.
	Epochs, PretrainEpochs int
	// ExtendEpochs is the number of epochs of finetuning on the new classes
	// in the extension scenarios; 0 means Epochs.
	ExtendEpochs int
	Batch        int
	// LR is the peak AdamW learning rate; 0 uses the model's default.
	LR   float64
	Seed uint64
	// Backend is a GoMLX backend configuration; "" reads $LENS_BACKEND, then "go".
	Backend string
}

func (c Config) withDefaults() Config {
	if c.Preset == "" {
		c.Preset = "smoke"
	}
	if c.Epochs <= 0 {
		c.Epochs = 5
	}
	if c.PretrainEpochs <= 0 {
		c.PretrainEpochs = c.Epochs
	}
	if c.ExtendEpochs <= 0 {
		c.ExtendEpochs = c.Epochs
	}
	if c.Batch <= 0 {
		c.Batch = 32
	}
	return c
}

// Result is one baseline's run on one split.
type Result struct {
	Name string
	// Pred is the predicted class of each test example, in order.
	Pred []int
	// PretrainTime, TrainTime and TestTime are wall-clock durations.
	PretrainTime, TrainTime, TestTime time.Duration
	Backend                           string
	// Params counts the parameters of the classifier (what finetuning trains
	// and testing uses); PretrainParams adds pretraining-only parts (YaTC's
	// decoder, ET-BERT's MLM head).
	Params, PretrainParams int
	// Losses and PretrainLosses are the mean training and pretraining losses of every epoch.
	Losses, PretrainLosses []float64
}

// unit is what a model sees at once: a flow, or one packet of it for the
// per-packet models (Datanet, DeepPacket), whose flow label is the majority
// over its packets.
type unit struct {
	x   []float32
	ids []int32
}

// arch is one baseline: its parameters, input representation and graphs.
type arch struct {
	specs []pspec
	// xDims / idLen are the per-unit shapes of the float and token inputs
	// (a model uses one or both; the other is fed as a dummy [B, 1]).
	xDims []int
	idLen int
	units func(ex Example) []unit
	// forward maps x [B, xDims...] and ids [B, idLen] to class logits [B, C]
	// and an auxiliary loss added in training (FS-Net's reconstruction; nil
	// for the others). drop is nil at evaluation.
	forward func(w weights, x, ids *Node, drop *dropout) (logits, aux *Node)
	// pretrain, if set, is the self-supervised loss over the inputs that
	// pretrainBatch builds from unlabelled units.
	pretrain      lossFn
	pretrainBatch func(us []unit, r *rand.Rand) []*tensors.Tensor
	lr            float64 // default learning rate
	// warmup, if set, schedules the learning rate as the Transformer
	// originals do: linear warmup over the first 10% of the steps, then
	// linear decay to 0 (UER's schedule). Otherwise it is constant (Adam as in
	// the RNN/CNN papers).
	warmup bool
	// head names the final classification layer (rows = classes) for Extend.
	head string
}

var builders = map[string]func(preset string, classes int) (*arch, error){}

// Names lists the baselines Train accepts.
func Names() []string {
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Model is a built baseline with its weights, kept in memory so that the
// extension scenarios can continue from it.
type Model struct {
	Name    string
	Classes int
	Cfg     Config
	Backend string
	a       *arch
	n       *net
	preset  string
}

// NewModel builds a freshly initialised baseline.
func NewModel(name string, cfg Config, numClasses int) (m *Model, err error) {
	defer recoverInto(&err)
	cfg = cfg.withDefaults()
	build, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("baselines: unknown model %q (have %v)", name, Names())
	}
	if numClasses < 2 {
		return nil, fmt.Errorf("baselines: %d classes", numClasses)
	}
	a, err := build(cfg.Preset, numClasses)
	if err != nil {
		return nil, err
	}
	if cfg.LR == 0 {
		cfg.LR = a.lr
	}
	backend, backendName, err := newBackend(cfg.Backend)
	if err != nil {
		return nil, err
	}
	return &Model{Name: name, Classes: numClasses, Cfg: cfg, Backend: backendName, a: a,
		n: newNet(backend, a.specs, cfg.Seed), preset: cfg.Preset}, nil
}

func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("baselines: %v", r)
	}
}

// Pretrained is a baseline after its self-supervised pretraining (YaTC,
// ET-BERT, TrafficLLM). The original papers pretrain once and finetune per
// task; so does the harness: one Pretrained starts the classifiers of every
// task and extension scenario, whatever their number of classes (the
// parameters whose shape depends on it start from their initialisation).
type Pretrained struct {
	Name     string
	Cfg      Config
	Examples int           // unlabelled examples it was pretrained on
	Losses   []float64     // mean loss of each pretraining epoch
	Time     time.Duration // wall time of the pretraining
	vals     map[string][]float32
}

// Pretrain builds the baseline name and runs its self-supervised objective
// over the unlabelled examples. It returns nil and no error for a model
// without one (the supervised baselines) or when exs is empty: Train then
// starts from the initialisation.
func Pretrain(ctx context.Context, name string, cfg Config, exs []Example) (*Pretrained, error) {
	m, err := NewModel(name, cfg, 2) // the head is not pretrained; any class count will do
	if err != nil {
		return nil, err
	}
	if m.a.pretrain == nil || len(exs) == 0 {
		return nil, nil
	}
	start := time.Now()
	p := &Pretrained{Name: name, Cfg: m.Cfg, Examples: len(exs), vals: map[string][]float32{}}
	if p.Losses, err = m.Pretrain(ctx, exs); err != nil {
		return nil, err
	}
	p.Time = time.Since(start)
	for i, s := range m.n.specs {
		p.vals[s.name] = m.n.vals[i]
	}
	return p, nil
}

// startFrom copies p's weights into m, except the parameters whose shape
// depends on the number of classes, which keep their initialisation.
func (m *Model) startFrom(p *Pretrained) error {
	if p.Name != m.Name {
		return fmt.Errorf("baselines: %s cannot start from a pretrained %s", m.Name, p.Name)
	}
	if p.Cfg.Preset != m.Cfg.Preset {
		return fmt.Errorf("baselines: %s of preset %s cannot start from one pretrained at preset %s", m.Name, m.Cfg.Preset, p.Cfg.Preset)
	}
	other, err := builders[m.Name](m.preset, m.Classes+1)
	if err != nil {
		return err
	}
	dims := map[string][]int{}
	for _, s := range other.specs {
		dims[s.name] = s.dims
	}
	for i, s := range m.n.specs {
		if !slices.Equal(dims[s.name], s.dims) {
			continue // a classifier parameter: its shape follows the class count
		}
		v, ok := p.vals[s.name]
		if !ok || len(v) != s.size() {
			return fmt.Errorf("baselines: pretrained %s has no parameter %s of %d values", p.Name, s.name, s.size())
		}
		m.n.vals[i] = slices.Clone(v)
	}
	return nil
}

// Train builds the baseline name, starts it from pre (may be nil: no
// pretraining; see Pretrain), trains it on train and predicts test.
// PretrainTime and PretrainLosses in the result are pre's, which may be
// shared by other runs.
func Train(ctx context.Context, name string, cfg Config, pre *Pretrained, train, test []Example, numClasses int) (*Result, error) {
	m, err := NewModel(name, cfg, numClasses)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: name, Backend: m.Backend, Params: m.n.numParams(false), PretrainParams: m.n.numParams(true)}
	if pre != nil {
		if err := m.startFrom(pre); err != nil {
			return nil, err
		}
		res.PretrainTime, res.PretrainLosses = pre.Time, pre.Losses
	}
	start := time.Now()
	if res.Losses, err = m.Fit(ctx, train); err != nil {
		return nil, err
	}
	res.TrainTime = time.Since(start)
	start = time.Now()
	if res.Pred, err = m.Predict(test); err != nil {
		return nil, err
	}
	res.TestTime = time.Since(start)
	return res, nil
}

// Pretrain runs the model's self-supervised objective over the examples
// and returns the mean loss of each epoch (nil for models without one).
func (m *Model) Pretrain(ctx context.Context, exs []Example) (losses []float64, err error) {
	defer recoverInto(&err)
	if m.a.pretrain == nil {
		return nil, nil
	}
	var us []unit
	for _, ex := range exs {
		us = append(us, m.a.units(ex)...)
	}
	m.n.resetOptimizer()
	idx := m.n.trainable(true, nil)
	r := rand.New(rand.NewPCG(m.Cfg.Seed, 0x5eed))
	step := 0
	for epoch := range m.Cfg.PretrainEpochs {
		order := rand.New(rand.NewPCG(m.Cfg.Seed, uint64(1000+epoch))).Perm(len(us))
		sum, count := 0.0, 0
		for lo := 0; lo < len(order); lo += m.Cfg.Batch {
			if err := ctx.Err(); err != nil {
				return losses, err
			}
			batch := make([]unit, 0, m.Cfg.Batch)
			for _, i := range order[lo:min(lo+m.Cfg.Batch, len(order))] {
				batch = append(batch, us[i])
			}
			opt := defaultAdam(m.a.scheduled(m.Cfg.LR, step, m.Cfg.PretrainEpochs*steps(len(us), m.Cfg.Batch)))
			step++
			l, err := m.n.step("pretrain", idx, m.a.pretrain, m.a.pretrainBatch(batch, r), opt)
			if err != nil {
				return losses, err
			}
			sum += l
			count++
		}
		losses = append(losses, sum/float64(max(count, 1)))
	}
	return losses, nil
}

// inputs builds the x and ids tensors of a batch of units.
func (m *Model) inputs(us []unit) (x, ids *tensors.Tensor) {
	B := len(us)
	if len(m.a.xDims) > 0 {
		size := 1
		for _, d := range m.a.xDims {
			size *= d
		}
		flat := make([]float32, 0, B*size)
		for _, u := range us {
			flat = append(flat, u.x...)
		}
		x = tensors.FromFlatDataAndDimensions(flat, append([]int{B}, m.a.xDims...)...)
	} else {
		x = tensors.FromFlatDataAndDimensions(make([]float32, B), B, 1)
	}
	if m.a.idLen > 0 {
		flat := make([]int32, 0, B*m.a.idLen)
		for _, u := range us {
			flat = append(flat, u.ids...)
		}
		ids = tensors.FromFlatDataAndDimensions(flat, B, m.a.idLen)
	} else {
		ids = tensors.FromFlatDataAndDimensions(make([]int32, B), B, 1)
	}
	return x, ids
}

// classLoss is cross-entropy (plus the model's auxiliary loss) over inputs
// x, ids, labels and the dropout random state.
func (m *Model) classLoss(w weights, in []*Node) *Node {
	logits, aux := m.a.forward(w, in[0], in[1], &dropout{rng: in[3]})
	loss := crossEntropy(logits, in[2])
	if aux != nil {
		loss = Add(loss, aux)
	}
	return loss
}

// steps is the number of batches an epoch of n units takes.
func steps(n, batch int) int { return (n + batch - 1) / batch }

// scheduled is the learning rate of step (from 0) of total.
func (a *arch) scheduled(peak float64, step, total int) float64 {
	if !a.warmup || total <= 1 {
		return peak
	}
	warm := max(1, total/10)
	if step < warm {
		return peak * float64(step+1) / float64(warm)
	}
	return peak * float64(total-step) / float64(total-warm+1)
}

// evalLogits is the model's logits without dropout.
func (m *Model) evalLogits(w weights, x, ids *Node) *Node {
	logits, _ := m.a.forward(w, x, ids, nil)
	return logits
}

// rngState is a GoMLX random state from seed (dropout masks).
func rngState(seed int64) *tensors.Tensor {
	t, err := RNGStateFromSeed(seed)
	if err != nil {
		panic(err)
	}
	return t
}

// labelled expands examples into units with their labels.
func (m *Model) labelled(exs []Example) ([]unit, []int32) {
	var us []unit
	var labels []int32
	for _, ex := range exs {
		for _, u := range m.a.units(ex) {
			us = append(us, u)
			labels = append(labels, int32(ex.Label))
		}
	}
	return us, labels
}

// Fit trains the classifier (all parameters but pretraining-only ones) with
// cross-entropy and returns the mean loss of each epoch.
func (m *Model) Fit(ctx context.Context, exs []Example) ([]float64, error) {
	return m.fit(ctx, exs, m.Cfg.Epochs, "train", m.classLoss, nil)
}

// fit runs epochs of AdamW on loss over the examples' units. A batch's
// inputs are x, ids, labels, a dropout random state (drawn from the seed),
// then extra's, if set (LwF's old logits).
func (m *Model) fit(ctx context.Context, exs []Example, epochs int, key string, loss lossFn, extra func(idx []int) []*tensors.Tensor) (losses []float64, err error) {
	defer recoverInto(&err)
	for _, ex := range exs {
		if ex.Label < 0 || ex.Label >= m.Classes {
			return nil, fmt.Errorf("baselines: label %d outside the %d classes", ex.Label, m.Classes)
		}
	}
	us, labels := m.labelled(exs)
	if len(us) == 0 {
		return nil, fmt.Errorf("baselines: no training data")
	}
	m.n.resetOptimizer()
	idx := m.n.trainable(false, nil)
	dropRNG := rand.New(rand.NewPCG(m.Cfg.Seed, 0xd0))
	step := 0
	for epoch := range epochs {
		order := rand.New(rand.NewPCG(m.Cfg.Seed, uint64(epoch))).Perm(len(us))
		sum, count := 0.0, 0
		for lo := 0; lo < len(order); lo += m.Cfg.Batch {
			if err := ctx.Err(); err != nil {
				return losses, err
			}
			pick := order[lo:min(lo+m.Cfg.Batch, len(order))]
			bu, bl := make([]unit, len(pick)), make([]int32, len(pick))
			for j, i := range pick {
				bu[j], bl[j] = us[i], labels[i]
			}
			x, ids := m.inputs(bu)
			in := []*tensors.Tensor{x, ids, tensors.FromFlatDataAndDimensions(bl, len(bl)), rngState(dropRNG.Int64())}
			if extra != nil {
				in = append(in, extra(pick)...)
			}
			opt := defaultAdam(m.a.scheduled(m.Cfg.LR, step, epochs*steps(len(us), m.Cfg.Batch)))
			step++
			l, err := m.n.step(key, idx, loss, in, opt)
			if err != nil {
				return losses, err
			}
			sum += l
			count++
		}
		losses = append(losses, sum/float64(count))
	}
	return losses, nil
}

// unitLogits returns the logits of every unit of exs and the example each belongs to.
func (m *Model) unitLogits(exs []Example) (logits [][]float32, owner []int, err error) {
	defer recoverInto(&err)
	var us []unit
	for i, ex := range exs {
		for _, u := range m.a.units(ex) {
			us = append(us, u)
			owner = append(owner, i)
		}
	}
	B := m.Cfg.Batch
	for lo := 0; lo < len(us); lo += B {
		batch := us[lo:min(lo+B, len(us))]
		n := len(batch)
		for len(batch) < B { // one static shape: pad with copies
			batch = append(batch[:len(batch):len(batch)], us[lo])
		}
		x, ids := m.inputs(batch)
		out, err := m.n.run("logits", func(w weights, in []*Node) []*Node {
			return []*Node{m.evalLogits(w, in[0], in[1])}
		}, []*tensors.Tensor{x, ids})
		if err != nil {
			return nil, nil, err
		}
		C := len(out[0]) / B
		for j := range n {
			logits = append(logits, out[0][j*C:(j+1)*C])
		}
	}
	return logits, owner, nil
}

// Predict returns the predicted class of each example: the argmax of its
// logits, or for per-packet models the majority vote over its packets (ties
// go to the larger summed softmax score).
func (m *Model) Predict(exs []Example) ([]int, error) {
	logits, owner, err := m.unitLogits(exs)
	if err != nil {
		return nil, err
	}
	C := m.Classes
	votes := make([][]float64, len(exs))
	for i := range votes {
		votes[i] = make([]float64, C)
	}
	for u, l := range logits {
		p := softmax(l)
		best := argmax(l)
		votes[owner[u]][best] += 1
		for c := range p {
			votes[owner[u]][c] += 1e-3 * float64(p[c]) / float64(len(logits)+1)
		}
	}
	pred := make([]int, len(exs))
	for i, v := range votes {
		pred[i] = argmax(v)
	}
	return pred, nil
}

func argmax[T float32 | float64](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func softmax(l []float32) []float32 {
	mx := l[argmax(l)]
	out := make([]float32, len(l))
	var sum float32
	for i, x := range l {
		out[i] = exp32(x - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
