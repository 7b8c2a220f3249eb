// Package trainer is Lens's model and its training: T5 v1.1 written on
// GoMLX's graph API, and the loop that pretrains it (AdamW, schedules,
// clipping, accumulation, checkpoints, a hook for data-parallel gradient
// reduction). Masking policies live in trainer/masking.
//
// Parameters are explicit graph inputs, never GoMLX variables: every
// executable (gradients, optimizer update, evaluation, decoding) takes the
// current weights as arguments, so no graph can bake stale weights in as
// constants (GOMLX-NOTES defect 2), and one training step is two
// executables with the gradients in host memory between them, where a
// GradientReducer may average them across workers.
package trainer

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// GradientReducer combines gradients across data-parallel workers. Reduce
// must replace grads, in place, by their mean over all workers (grads follow
// ParamSpecs order). With no reducer, training is single-process.
type GradientReducer interface {
	Reduce(grads [][]float32) error
}

// Batch is one micro-batch: encoder inputs and decoder targets, row-major,
// padded with Config.PadID to [Rows, EncLen] and [Rows, DecLen].
type Batch struct {
	Rows    int
	Enc     []int32
	Targets []int32
}

// Trainer holds a T5's parameters, AdamW state and the executables that
// train and evaluate it. It is not safe for concurrent use.
type Trainer struct {
	Cfg         Config
	Backend     compute.Backend
	BackendName string
	Specs       []ParamSpec
	// Step is the number of optimizer updates applied so far.
	Step int
	// Reducer, when set, is called on the gradients of every step.
	Reducer GradientReducer
	// Rank distinguishes data-parallel workers' dropout masks (0 alone).
	Rank int

	params, m, v []*tensors.Tensor
	// dropoutSites are the per-row sizes of the gradient graph's dropout masks.
	dropoutSites []int

	gradExec, applyExec, evalExec, encodeExec, decodeExec *Exec
}

// StepResult reports one optimizer step.
type StepResult struct {
	Step     int     // the step number after the update
	Loss     float64 // mean over the micro-batches
	GradNorm float64 // global norm before clipping
	LR       float64 // learning rate used
}

// New builds a freshly initialised model for cfg on backend (named backendName
// in logs). Parameters are initialised from cfg.Seed. An empty
// cfg.MatmulDType is set from the backend (DefaultMatmulDType).
func New(cfg Config, backend compute.Backend, backendName string) (*Trainer, error) {
	if cfg.MatmulDType == "" {
		cfg.MatmulDType = DefaultMatmulDType(backendName)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Trainer{Cfg: cfg, Backend: backend, BackendName: backendName, Specs: ParamSpecs(&cfg)}
	if err := t.SetParams(InitParams(t.Specs, cfg.Seed)); err != nil {
		return nil, err
	}
	zeros := make([][]float32, len(t.Specs))
	for i, s := range t.Specs {
		zeros[i] = make([]float32, s.Size())
	}
	t.m = t.toTensors(zeros)
	t.v = t.toTensors(zeros)
	if err := t.buildExecs(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Trainer) buildExecs() error {
	cfg, specs, n := &t.Cfg, t.Specs, len(t.Specs)
	var err error
	if t.dropoutSites, err = dropoutSites(cfg, specs, t.Backend); err != nil {
		return fmt.Errorf("trainer: sizing the dropout mask: %w", err)
	}
	mk := func(name string, fn func([]*Node) []*Node) *Exec {
		if err != nil {
			return nil
		}
		var e *Exec
		e, err = NewExec(t.Backend, fn)
		if e != nil {
			e.WithName(name)
		}
		return e
	}
	// Inputs: params, enc, targets, one keep mask per dropout site. Outputs: loss, grads.
	t.gradExec = mk("t5_grad", func(in []*Node) []*Node {
		enc, targets := in[n], in[n+1]
		model := newT5(cfg, specs, in[:n], &dropout{rate: cfg.Dropout, masks: in[n+2:]})
		loss := model.Loss(enc, decoderInputs(targets, cfg.PadID), targets)
		return append([]*Node{loss}, Gradient(loss, in[:n]...)...)
	})
	t.applyExec = mk("adamw", func(in []*Node) []*Node { return adamWGraph(cfg, specs, in) })
	// Inputs: params, enc, targets. Output: loss without dropout.
	t.evalExec = mk("t5_eval", func(in []*Node) []*Node {
		model := newT5(cfg, specs, in[:n], nil)
		return []*Node{model.Loss(in[n], decoderInputs(in[n+1], cfg.PadID), in[n+1])}
	})
	t.encodeExec = mk("t5_encode", func(in []*Node) []*Node {
		return []*Node{newT5(cfg, specs, in[:n], nil).encode(in[n])}
	})
	// Inputs: params, enc ids, encoder states, decoder inputs. Output: argmax ids.
	t.decodeExec = mk("t5_decode", func(in []*Node) []*Node {
		model := newT5(cfg, specs, in[:n], nil)
		dec := model.decode(in[n+2], in[n+1], model.keyMaskBias(in[n]))
		logits := model.dense(dec, model.w["lm_head"])
		return []*Node{ConvertDType(ArgMax(logits, -1), in[n].DType())}
	})
	return err
}

func (t *Trainer) toTensors(values [][]float32) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(values))
	for i, v := range values {
		out[i] = tensors.FromFlatDataAndDimensions(v, t.Specs[i].Dims...)
	}
	return out
}

func fromTensors(ts []*tensors.Tensor) ([][]float32, error) {
	out := make([][]float32, len(ts))
	for i, x := range ts {
		v, err := tensors.CopyFlatData[float32](x)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Params returns a copy of the parameters in ParamSpecs order.
func (t *Trainer) Params() ([][]float32, error) { return fromTensors(t.params) }

// SetParams replaces the parameters (ParamSpecs order, sizes checked).
func (t *Trainer) SetParams(values [][]float32) error {
	if len(values) != len(t.Specs) {
		return fmt.Errorf("trainer: got %d parameter tensors, model has %d", len(values), len(t.Specs))
	}
	for i, s := range t.Specs {
		if len(values[i]) != s.Size() {
			return fmt.Errorf("trainer: parameter %s has %d values, want %d", s.Name, len(values[i]), s.Size())
		}
	}
	t.params = t.toTensors(values)
	return nil
}

func (t *Trainer) batchTensors(b Batch) (enc, targets *tensors.Tensor, err error) {
	c := &t.Cfg
	if b.Rows <= 0 || len(b.Enc) != b.Rows*c.EncLen || len(b.Targets) != b.Rows*c.DecLen {
		return nil, nil, fmt.Errorf("trainer: batch of %d rows has %d encoder and %d target ids, want [%d,%d] and [%d,%d]",
			b.Rows, len(b.Enc), len(b.Targets), b.Rows, c.EncLen, b.Rows, c.DecLen)
	}
	return tensors.FromFlatDataAndDimensions(b.Enc, b.Rows, c.EncLen),
		tensors.FromFlatDataAndDimensions(b.Targets, b.Rows, c.DecLen), nil
}

func (t *Trainer) args(extra ...*tensors.Tensor) []any {
	args := make([]any, 0, len(t.params)+len(extra))
	for _, p := range t.params {
		args = append(args, p)
	}
	for _, e := range extra {
		args = append(args, e)
	}
	return args
}

// dropoutSeed derives the dropout mask seed of one micro-batch from the
// run seed, the worker's rank, the optimizer step and the micro-batch index,
// so that a resumed run draws the same masks.
func dropoutSeed(seed uint64, rank, step, micro int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", seed, rank, step, micro)
	return int64(h.Sum64() >> 1)
}

// Gradients runs the model on one micro-batch with dropout and returns the
// loss and the gradient of every parameter (ParamSpecs order). micro selects
// the dropout masks within the current step.
func (t *Trainer) Gradients(b Batch, micro int) (float64, [][]float32, error) {
	enc, targets, err := t.batchTensors(b)
	if err != nil {
		return 0, nil, err
	}
	masks := dropoutMasks(uint64(dropoutSeed(t.Cfg.Seed, t.Rank, t.Step, micro)), b.Rows, t.dropoutSites, t.Cfg.Dropout)
	out, err := t.gradExec.Call(t.args(append([]*tensors.Tensor{enc, targets}, masks...)...)...)
	for _, m := range masks {
		m.FinalizeAll()
	}
	if err != nil {
		return 0, nil, fmt.Errorf("trainer: gradient step: %w", err)
	}
	loss := float64(tensors.ToScalar[float32](out[0]))
	grads, err := fromTensors(out[1:])
	for _, o := range out {
		o.FinalizeAll()
	}
	return loss, grads, err
}

// Apply clips grads by global norm, takes one AdamW step with the scheduled
// learning rate and advances Step. It returns the norm before clipping and
// the learning rate used.
func (t *Trainer) Apply(grads [][]float32) (gradNorm, lr float64, err error) {
	n := len(t.Specs)
	if len(grads) != n {
		return 0, 0, fmt.Errorf("trainer: got %d gradients, model has %d parameters", len(grads), n)
	}
	lr = LearningRate(&t.Cfg, t.Step)
	step := float64(t.Step + 1)
	args := make([]any, 0, 4*n+3)
	for _, group := range [][]*tensors.Tensor{t.params, t.m, t.v, t.toTensors(grads)} {
		for _, x := range group {
			args = append(args, x)
		}
	}
	args = append(args,
		tensors.FromScalar(float32(lr)),
		tensors.FromScalar(float32(1-math.Pow(t.Cfg.Beta1, step))),
		tensors.FromScalar(float32(1-math.Pow(t.Cfg.Beta2, step))))
	out, err := t.applyExec.Call(args...)
	if err != nil {
		return 0, 0, fmt.Errorf("trainer: optimizer step: %w", err)
	}
	for _, group := range [][]*tensors.Tensor{t.params, t.m, t.v} {
		for _, x := range group {
			x.FinalizeAll()
		}
	}
	t.params, t.m, t.v = out[:n], out[n:2*n], out[2*n:3*n]
	gradNorm = float64(tensors.ToScalar[float32](out[3*n]))
	t.Step++
	return gradNorm, lr, nil
}

// TrainStep runs one optimizer step over the given micro-batches: gradients
// of each, averaged, reduced across workers by Reducer if set, then applied.
func (t *Trainer) TrainStep(micro []Batch) (StepResult, error) {
	if len(micro) == 0 {
		return StepResult{}, fmt.Errorf("trainer: empty step")
	}
	var sum [][]float32
	var lossSum float64
	for i, b := range micro {
		loss, grads, err := t.Gradients(b, i)
		if err != nil {
			return StepResult{}, err
		}
		lossSum += loss
		if sum == nil {
			sum = grads
			continue
		}
		for j := range sum {
			for k, g := range grads[j] {
				sum[j][k] += g
			}
		}
	}
	if len(micro) > 1 {
		inv := 1 / float32(len(micro))
		for _, g := range sum {
			for k := range g {
				g[k] *= inv
			}
		}
	}
	if t.Reducer != nil {
		if err := t.Reducer.Reduce(sum); err != nil {
			return StepResult{}, fmt.Errorf("trainer: gradient reduction: %w", err)
		}
	}
	norm, lr, err := t.Apply(sum)
	if err != nil {
		return StepResult{}, err
	}
	return StepResult{Step: t.Step, Loss: lossSum / float64(len(micro)), GradNorm: norm, LR: lr}, nil
}

// EvalLoss returns the loss on b without dropout, with the current weights.
func (t *Trainer) EvalLoss(b Batch) (float64, error) {
	enc, targets, err := t.batchTensors(b)
	if err != nil {
		return 0, err
	}
	out, err := t.evalExec.Call(t.args(enc, targets)...)
	if err != nil {
		return 0, fmt.Errorf("trainer: evaluation: %w", err)
	}
	return float64(tensors.ToScalar[float32](out[0])), nil
}

// GreedyDecode generates up to DecLen tokens for each row of enc ([rows,
// EncLen], padded) by greedy search and returns them row by row, each cut
// after its first EOS. The decoder is re-run on the full, statically shaped
// target at every position (the go backend has no DynamicSlice for a KV
// cache); the encoder runs once.
func (t *Trainer) GreedyDecode(enc []int32, rows int) ([][]int32, error) {
	c := &t.Cfg
	if rows <= 0 || len(enc) != rows*c.EncLen {
		return nil, fmt.Errorf("trainer: decode input has %d ids, want %d rows of %d", len(enc), rows, c.EncLen)
	}
	encT := tensors.FromFlatDataAndDimensions(enc, rows, c.EncLen)
	states, err := t.encodeExec.Call(t.args(encT)...)
	if err != nil {
		return nil, fmt.Errorf("trainer: encode: %w", err)
	}
	decIn := make([]int32, rows*c.DecLen)
	for i := range decIn {
		decIn[i] = c.PadID
	}
	out := make([][]int32, rows)
	done := make([]bool, rows)
	for pos := 0; pos < c.DecLen; pos++ {
		res, err := t.decodeExec.Call(t.args(encT, states[0], tensors.FromFlatDataAndDimensions(decIn, rows, c.DecLen))...)
		if err != nil {
			return nil, fmt.Errorf("trainer: decode: %w", err)
		}
		next := tensors.MustCopyFlatData[int32](res[0])
		allDone := true
		for r := range rows {
			if done[r] {
				continue
			}
			tok := next[r*c.DecLen+pos]
			out[r] = append(out[r], tok)
			if tok == c.EOSID {
				done[r] = true
			} else if pos+1 < c.DecLen {
				decIn[r*c.DecLen+pos+1] = tok
			}
			allDone = allDone && done[r]
		}
		if allDone {
			break
		}
	}
	return out, nil
}

// Close releases the compiled executables and the model's tensors.
func (t *Trainer) Close() {
	for _, e := range []*Exec{t.gradExec, t.applyExec, t.evalExec, t.encodeExec, t.decodeExec} {
		if e != nil {
			e.Finalize()
		}
	}
	for _, group := range [][]*tensors.Tensor{t.params, t.m, t.v} {
		for _, x := range group {
			x.FinalizeAll()
		}
	}
}
