package baselines

// Layers written from basic GoMLX ops, each with its parameter specs: dense,
// LayerNorm, tanh-GELU, GRU and LSTM cells unrolled over short fixed
// sequences, multi-head self-attention and a Transformer block.

import (
	"math"
	"strconv"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// specs collects parameter specs while a model describes itself.
type specs struct {
	list []pspec
	pre  bool // mark what is added as pretraining-only
}

func (s *specs) add(name string, init initKind, std float64, dims ...int) {
	s.list = append(s.list, pspec{name: name, dims: dims, init: init, std: std, pre: s.pre})
}

// dense adds name.w [in, out] (Xavier) and name.b [out].
func (s *specs) dense(name string, in, out int) {
	s.add(name+".w", initXavier, 0, in, out)
	s.add(name+".b", initZeros, 0, out)
}

func (s *specs) layerNorm(name string, d int) {
	s.add(name+".g", initOnes, 0, d)
	s.add(name+".b", initZeros, 0, d)
}

// rnn adds a recurrent cell with gates gates (3 for GRU, 4 for LSTM).
func (s *specs) rnn(name string, gates, in, hidden int) {
	s.add(name+".wx", initXavier, 0, in, gates*hidden)
	s.add(name+".wh", initNormal, 1/math.Sqrt(float64(hidden)), hidden, gates*hidden)
	s.add(name+".b", initZeros, 0, gates*hidden)
}

// attention adds a multi-head self-attention's fused qkv and output projections.
func (s *specs) attention(name string, d int) {
	s.dense(name+".qkv", d, 3*d)
	s.dense(name+".o", d, d)
}

// block adds a Transformer block: attention, two LayerNorms, a GELU MLP.
func (s *specs) block(name string, d, ff int) {
	s.attention(name+".attn", d)
	s.layerNorm(name+".ln1", d)
	s.dense(name+".ff1", d, ff)
	s.dense(name+".ff2", ff, d)
	s.layerNorm(name+".ln2", d)
}

// dense applies name.w and name.b to the last axis of x.
func dense(w weights, name string, x *Node) *Node {
	k := w[name+".w"]
	dims := x.Shape().Dimensions
	flat := Reshape(x, -1, dims[len(dims)-1])
	y := Add(MatMul(flat, k), ExpandAxes(w[name+".b"], 0))
	return Reshape(y, append(dims[:len(dims)-1:len(dims)-1], k.Shape().Dim(-1))...)
}

func layerNorm(w weights, name string, x *Node) *Node {
	mean := ReduceAndKeep(x, ReduceMean, -1)
	c := Sub(x, mean)
	variance := ReduceAndKeep(Square(c), ReduceMean, -1)
	y := Div(c, Sqrt(AddScalar(variance, 1e-5)))
	return Add(Mul(y, ExpandLeftToRank(w[name+".g"], x.Rank())), ExpandLeftToRank(w[name+".b"], x.Rank()))
}

// gelu is the tanh approximation of GELU from basic ops (copied from package
// trainer, branch t5): the go backend's fused GeluApproximate has a wrong SIMD
// gradient (GOMLX-NOTES defect 1).
func gelu(x *Node) *Node {
	inner := MulScalar(Add(x, MulScalar(Mul(Square(x), x), 0.044715)), math.Sqrt(2/math.Pi))
	return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
}

// step t of a [B, T, D] sequence as [B, D].
func at(x *Node, t int) *Node {
	return Squeeze(SliceAxis(x, 1, AxisElem(t)), 1)
}

// gru runs a GRU (PyTorch's formulation) over x [B, T, D] in the given
// direction and returns all hidden states [B, T, H] in time order.
func gru(w weights, name string, x *Node, reverse bool) *Node {
	wh, b := w[name+".wh"], w[name+".b"]
	hidden := wh.Shape().Dim(0)
	B, T := x.Shape().Dim(0), x.Shape().Dim(1)
	xp := dense(weights{name + ".w": w[name+".wx"], name + ".b": b}, name, x) // [B, T, 3H]
	h := Zeros(x.Graph(), shapes.Make(x.DType(), B, hidden))
	out := make([]*Node, T)
	for i := range T {
		t := i
		if reverse {
			t = T - 1 - i
		}
		xg := Split(at(xp, t), -1, 3)
		hg := Split(MatMul(h, wh), -1, 3)
		z := Sigmoid(Add(xg[0], hg[0]))
		r := Sigmoid(Add(xg[1], hg[1]))
		cand := Tanh(Add(xg[2], Mul(r, hg[2])))
		h = Add(Mul(OneMinus(z), cand), Mul(z, h))
		out[t] = h
	}
	return Stack(out, 1)
}

// lstm runs an LSTM over x [B, T, D] and returns all hidden states [B, T, H].
func lstm(w weights, name string, x *Node, reverse bool) *Node {
	wh, b := w[name+".wh"], w[name+".b"]
	hidden := wh.Shape().Dim(0)
	B, T := x.Shape().Dim(0), x.Shape().Dim(1)
	xp := dense(weights{name + ".w": w[name+".wx"], name + ".b": b}, name, x) // [B, T, 4H]
	h := Zeros(x.Graph(), shapes.Make(x.DType(), B, hidden))
	c := h
	out := make([]*Node, T)
	for i := range T {
		t := i
		if reverse {
			t = T - 1 - i
		}
		g := Split(Add(at(xp, t), MatMul(h, wh)), -1, 4) // input, forget, cell, output
		c = Add(Mul(Sigmoid(g[1]), c), Mul(Sigmoid(g[0]), Tanh(g[2])))
		h = Mul(Sigmoid(g[3]), Tanh(c))
		out[t] = h
	}
	return Stack(out, 1)
}

// biRNN runs cell forward (name.f) and backward (name.b) and concatenates
// the states: [B, T, 2H].
func biRNN(cell func(weights, string, *Node, bool) *Node, w weights, name string, x *Node) *Node {
	return Concatenate([]*Node{cell(w, name+".f", x, false), cell(w, name+".r", x, true)}, -1)
}

// dropout draws its masks from a random state threaded through the graph
// (after package trainer's, branch t5). A nil *dropout is evaluation: no-op.
type dropout struct{ rng *Node }

func (d *dropout) apply(x *Node, rate float64) *Node {
	if d == nil || rate == 0 {
		return x
	}
	var u *Node
	d.rng, u = RandomUniform(d.rng, x.Shape())
	keep := GreaterOrEqual(u, Scalar(x.Graph(), x.DType(), rate))
	return Where(keep, MulScalar(x, 1/(1-rate)), ZerosLike(x))
}

// selfAttention is multi-head scaled dot-product attention over x [B, L, D];
// bias (nil or broadcastable to [B, heads, L, L]) masks keys; drop applies
// rate to the attention probabilities.
func selfAttention(w weights, name string, x *Node, heads int, bias *Node, drop *dropout, rate float64) *Node {
	B, L, D := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	dk := D / heads
	qkv := Split(dense(w, name+".qkv", x), -1, 3)
	split := func(y *Node) *Node { return TransposeAllAxes(Reshape(y, B, L, heads, dk), 0, 2, 1, 3) }
	q, k, v := split(qkv[0]), split(qkv[1]), split(qkv[2])
	scores := MulScalar(Einsum("bhqd,bhkd->bhqk", q, k), 1/math.Sqrt(float64(dk)))
	if bias != nil {
		scores = Add(scores, bias)
	}
	out := Einsum("bhqk,bhkd->bhqd", drop.apply(Softmax(scores, -1), rate), v)
	return dense(w, name+".o", Reshape(TransposeAllAxes(out, 0, 2, 1, 3), B, L, D))
}

// block is a Transformer encoder block, pre-LayerNorm (ViT, YaTC) or
// post-LayerNorm (BERT), with dropout rate on the attention probabilities
// and on both sublayers' outputs (BERT's placement).
func block(w weights, name string, x *Node, heads int, bias *Node, preNorm bool, drop *dropout, rate float64) *Node {
	attn := func(y *Node) *Node {
		return drop.apply(selfAttention(w, name+".attn", y, heads, bias, drop, rate), rate)
	}
	ff := func(y *Node) *Node {
		return drop.apply(dense(w, name+".ff2", gelu(dense(w, name+".ff1", y))), rate)
	}
	if preNorm {
		x = Add(x, attn(layerNorm(w, name+".ln1", x)))
		return Add(x, ff(layerNorm(w, name+".ln2", x)))
	}
	x = layerNorm(w, name+".ln1", Add(x, attn(x)))
	return layerNorm(w, name+".ln2", Add(x, ff(x)))
}

func blockName(prefix string, i int) string { return prefix + "." + strconv.Itoa(i) }

// crossEntropy is the mean cross-entropy of logits [B, C] against labels [B] (int32).
func crossEntropy(logits, labels *Node) *Node {
	logp := LogSoftmax(logits, -1)
	picked := ReduceSum(Mul(logp, OneHot(labels, logits.Shape().Dim(-1), logp.DType())), -1)
	return Neg(ReduceAllMean(picked))
}

// maskedCrossEntropy averages the cross-entropy of logits [..., V] against
// targets [...] over positions where mask [...] (float 0/1) is 1.
func maskedCrossEntropy(logits, targets, mask *Node) *Node {
	g := logits.Graph()
	logp := LogSoftmax(logits, -1)
	picked := ReduceSum(Mul(logp, OneHot(targets, logits.Shape().Dim(-1), logp.DType())), -1)
	count := Max(ReduceAllSum(mask), ScalarOne(g, dtypes.Float32))
	return Div(Neg(ReduceAllSum(Mul(picked, mask))), count)
}
