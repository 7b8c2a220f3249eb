package baselines

// The small training engine every baseline shares. Parameters are explicit
// graph inputs, never GoMLX variables (the pattern of package trainer on the
// t5 branch): every executable takes the current weights as arguments, so no
// graph can bake stale weights in as constants (GOMLX-NOTES defect 2). A step
// is one executable returning the loss and the gradients of the parameters
// being trained; AdamW then runs on the host (the models are small, and it
// keeps a per-phase choice of trainable parameters trivial).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // registers the pure-Go backend "go"
	. "github.com/gomlx/gomlx/core/graph"  //nolint:staticcheck // GoMLX graph code reads best with dot-import.
	"github.com/gomlx/gomlx/core/tensors"
)

// initKind says how a parameter starts.
type initKind int

const (
	initNormal  initKind = iota // N(0, std^2)
	initZeros                   // biases, LayerNorm shifts
	initOnes                    // LayerNorm scales
	initKaiming                 // N(0, 2/fan_in), fan_in = product of all dims but the first (rows are outputs)
	initXavier                  // N(0, 2/(fan_in+fan_out)) for [in, out] matrices
)

// pspec is one trainable tensor.
type pspec struct {
	name string
	dims []int
	init initKind
	std  float64
	// pre marks parameters used only by pretraining (YaTC's decoder, ET-BERT's
	// MLM head): finetuning leaves them out.
	pre bool
}

func (p pspec) size() int {
	n := 1
	for _, d := range p.dims {
		n *= d
	}
	return n
}

func initValues(s pspec, r *rand.Rand) []float32 {
	v := make([]float32, s.size())
	std := s.std
	switch s.init {
	case initZeros:
		return v
	case initOnes:
		for i := range v {
			v[i] = 1
		}
		return v
	case initKaiming:
		std = math.Sqrt(2 / float64(s.size()/s.dims[0]))
	case initXavier:
		in, out := s.size()/s.dims[len(s.dims)-1], s.dims[len(s.dims)-1]
		std = math.Sqrt(2 / float64(in+out))
	}
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

// net is a set of parameters with their optimizer state and compiled steps.
type net struct {
	backend compute.Backend
	specs   []pspec
	index   map[string]int
	vals    [][]float32
	m, v    [][]float32 // AdamW moments, reset by resetOptimizer
	t       int         // AdamW step count
	execs   map[string]*Exec
}

func newNet(backend compute.Backend, specs []pspec, seed uint64) *net {
	n := &net{backend: backend, specs: specs, index: map[string]int{}, execs: map[string]*Exec{}}
	for i, s := range specs {
		if _, dup := n.index[s.name]; dup {
			panic("baselines: duplicate parameter " + s.name)
		}
		n.index[s.name] = i
		n.vals = append(n.vals, initValues(s, rand.New(rand.NewPCG(seed, uint64(i)))))
	}
	n.resetOptimizer()
	return n
}

func (n *net) resetOptimizer() {
	n.m, n.v, n.t = make([][]float32, len(n.specs)), make([][]float32, len(n.specs)), 0
	for i, s := range n.specs {
		n.m[i], n.v[i] = make([]float32, s.size()), make([]float32, s.size())
	}
}

func (n *net) numParams(pretrain bool) int {
	c := 0
	for _, s := range n.specs {
		if pretrain || !s.pre {
			c += s.size()
		}
	}
	return c
}

// args returns the parameters as tensors followed by extra inputs.
func (n *net) args(extra []*tensors.Tensor) []any {
	out := make([]any, 0, len(n.vals)+len(extra))
	for i, v := range n.vals {
		out = append(out, tensors.FromFlatDataAndDimensions(v, n.specs[i].dims...))
	}
	for _, e := range extra {
		out = append(out, e)
	}
	return out
}

// weights maps parameter names to the graph's parameter nodes.
type weights map[string]*Node

func (n *net) weights(in []*Node) weights {
	w := make(weights, len(n.specs))
	for i, s := range n.specs {
		w[s.name] = in[i]
	}
	return w
}

// lossFn builds a scalar loss from the weights and the extra inputs.
type lossFn func(w weights, in []*Node) *Node

// trainable lists the indices of the parameters a phase trains.
func (n *net) trainable(pretrain bool, keep func(pspec) bool) []int {
	var idx []int
	for i, s := range n.specs {
		if (pretrain || !s.pre) && (keep == nil || keep(s)) {
			idx = append(idx, i)
		}
	}
	return idx
}

// exec compiles (once per key) a graph over the parameters and extra inputs.
func (n *net) exec(key string, fn func(w weights, in []*Node) []*Node) (*Exec, error) {
	if e, ok := n.execs[key]; ok {
		return e, nil
	}
	np := len(n.specs)
	e, err := NewExec(n.backend, func(in []*Node) []*Node { return fn(n.weights(in[:np]), in[np:]) })
	if err != nil {
		return nil, err
	}
	e.WithName(key)
	n.execs[key] = e
	return e, nil
}

// adamW holds the optimizer's settings.
type adamW struct {
	lr, beta1, beta2, eps, decay, clip float64
}

func defaultAdam(lr float64) adamW {
	return adamW{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, decay: 0.01, clip: 1}
}

// step runs the loss and gradients of the parameters idx on one batch and
// applies AdamW (global-norm clipping; weight decay only on matrices).
func (n *net) step(key string, idx []int, f lossFn, in []*tensors.Tensor, opt adamW) (float64, error) {
	e, err := n.exec(key, func(w weights, x []*Node) []*Node {
		loss := f(w, x)
		ps := make([]*Node, len(idx))
		for j, i := range idx {
			ps[j] = w[n.specs[i].name]
		}
		return append([]*Node{loss}, Gradient(loss, ps...)...)
	})
	if err != nil {
		return 0, err
	}
	out, err := e.Call(n.args(in)...)
	if err != nil {
		return 0, fmt.Errorf("baselines: %s: %w", key, err)
	}
	loss := float64(tensors.ToScalar[float32](out[0]))
	grads := make([][]float32, len(idx))
	var sq float64
	for j := range idx {
		g, err := tensors.CopyFlatData[float32](out[1+j])
		if err != nil {
			return 0, err
		}
		grads[j] = g
		for _, x := range g {
			sq += float64(x) * float64(x)
		}
	}
	for _, o := range out {
		o.FinalizeAll()
	}
	if math.IsNaN(loss) || math.IsNaN(sq) {
		return loss, fmt.Errorf("baselines: %s: loss or gradient is NaN", key)
	}
	scale := 1.0
	if norm := math.Sqrt(sq); opt.clip > 0 && norm > opt.clip {
		scale = opt.clip / norm
	}
	n.t++
	bc1 := 1 - math.Pow(opt.beta1, float64(n.t))
	bc2 := 1 - math.Pow(opt.beta2, float64(n.t))
	for j, i := range idx {
		p, m, v := n.vals[i], n.m[i], n.v[i]
		decay := 0.0
		if len(n.specs[i].dims) >= 2 {
			decay = opt.decay
		}
		for k, g32 := range grads[j] {
			g := float64(g32) * scale
			m[k] = float32(opt.beta1*float64(m[k]) + (1-opt.beta1)*g)
			v[k] = float32(opt.beta2*float64(v[k]) + (1-opt.beta2)*g*g)
			upd := (float64(m[k]) / bc1) / (math.Sqrt(float64(v[k])/bc2) + opt.eps)
			p[k] = float32(float64(p[k]) - opt.lr*(upd+decay*float64(p[k])))
		}
	}
	return loss, nil
}

// run evaluates a graph with outputs and returns them as float32 slices.
func (n *net) run(key string, fn func(w weights, in []*Node) []*Node, in []*tensors.Tensor) ([][]float32, error) {
	e, err := n.exec(key, fn)
	if err != nil {
		return nil, err
	}
	out, err := e.Call(n.args(in)...)
	if err != nil {
		return nil, fmt.Errorf("baselines: %s: %w", key, err)
	}
	res := make([][]float32, len(out))
	for i, o := range out {
		if res[i], err = tensors.CopyFlatData[float32](o); err != nil {
			return nil, err
		}
		o.FinalizeAll()
	}
	return res, nil
}

// newBackend opens a compute backend and returns the configuration that runs.
// Adapted from trainer.NewBackend (branch t5): "" reads $LENS_BACKEND, then
// means "go"; a backend that is not compiled in or fails to open falls back to
// "go" with a notice on stderr; an unknown name never panics.
func newBackend(name string) (compute.Backend, string, error) {
	if name == "" {
		name = os.Getenv("LENS_BACKEND")
	}
	if name == "" || name == "auto" {
		name = "go"
	}
	base, _, _ := strings.Cut(name, ":")
	if !slices.Contains(compute.List(), base) {
		if base == "xla" || base == "stablehlo" {
			fmt.Fprintf(os.Stderr, "lens: backend %q not compiled into package baselines; using \"go\"\n", name)
			name = "go"
		} else {
			return nil, "", fmt.Errorf("baselines: unknown backend %q (compiled in: %s)", name, strings.Join(compute.List(), ", "))
		}
	}
	b, err := openBackend(name)
	if err != nil && name != "go" {
		fmt.Fprintf(os.Stderr, "lens: backend %q unavailable (%v); using \"go\"\n", name, err)
		name = "go"
		b, err = openBackend(name)
	}
	return b, name, err
}

func openBackend(config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}
