package trainer

import (
	"math"
	"strconv"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX graph code reads best with dot-import.
)

// t5 builds the T5 v1.1 graph from parameter nodes given in ParamSpecs
// order. It holds no state besides the nodes of one graph.
type t5 struct {
	cfg *Config
	w   map[string]*Node
	// drop applies dropout; nil means no dropout (evaluation).
	drop *dropout
}

func newT5(cfg *Config, specs []ParamSpec, params []*Node, drop *dropout) *t5 {
	m := &t5{cfg: cfg, w: make(map[string]*Node, len(specs)), drop: drop}
	for i, s := range specs {
		m.w[s.Name] = params[i]
	}
	return m
}

// Logits runs the encoder on encIDs [batch, encLen] and the decoder on
// decIn [batch, decLen] and returns the next-token logits [batch, decLen, vocab].
func (m *t5) Logits(encIDs, decIn *Node) *Node {
	enc := m.encode(encIDs)
	dec := m.decode(decIn, enc, m.keyMaskBias(encIDs))
	return m.dense(dec, m.w["lm_head"]) // untied head: no d_model**-0.5 rescale
}

// Loss is the mean cross-entropy over the target tokens that are not
// padding. decIn is targets shifted right behind the start token (pad).
func (m *t5) Loss(encIDs, decIn, targets *Node) *Node {
	return crossEntropy(m.Logits(encIDs, decIn), targets, m.cfg.PadID)
}

func crossEntropy(logits, targets *Node, padID int32) *Node {
	g := logits.Graph()
	vocab := logits.Shape().Dim(-1)
	logp := LogSoftmax(logits, -1)
	picked := ReduceSum(Mul(logp, OneHot(targets, vocab, logp.DType())), -1)
	mask := ConvertDType(NotEqual(targets, Scalar(g, targets.DType(), padID)), logp.DType())
	count := Max(ReduceAllSum(mask), ScalarOne(g, logp.DType()))
	return Div(Neg(ReduceAllSum(Mul(picked, mask))), count)
}

// decoderInputs shifts targets right by one position, starting from the pad id.
func decoderInputs(targets *Node, padID int32) *Node {
	g := targets.Graph()
	b := targets.Shape().Dim(0)
	start := BroadcastToDims(Scalar(g, targets.DType(), padID), b, 1)
	return Concatenate([]*Node{start, SliceAxis(targets, 1, AxisRange(0, -1))}, 1)
}

func (m *t5) encode(ids *Node) *Node {
	c := m.cfg
	x := m.drop.apply(m.embed(ids))
	L := ids.Shape().Dim(1)
	bias := Add(m.positionBias("encoder", L, L, true), m.keyMaskBias(ids))
	for i := range c.EncoderLayer {
		p := "encoder.block." + strconv.Itoa(i) + "."
		x = Add(x, m.drop.apply(m.selfAttention(p, m.norm(x, p+"self_attn.norm"), bias)))
		x = Add(x, m.drop.apply(m.feedForward(p, m.norm(x, p+"ff.norm"))))
	}
	return m.drop.apply(m.norm(x, "encoder.final_norm"))
}

func (m *t5) decode(ids, enc, encBias *Node) *Node {
	c := m.cfg
	g := ids.Graph()
	x := m.drop.apply(m.embed(ids))
	L := ids.Shape().Dim(1)
	causal := GreaterOrEqual(Iota(g, shapes.Make(dtypes.Int32, L, L), 0), Iota(g, shapes.Make(dtypes.Int32, L, L), 1))
	causalBias := Where(causal, Scalar(g, dtypes.Float32, 0), Scalar(g, dtypes.Float32, negInf))
	bias := Add(m.positionBias("decoder", L, L, false), Reshape(causalBias, 1, 1, L, L))
	for i := range c.DecoderLayer {
		p := "decoder.block." + strconv.Itoa(i) + "."
		x = Add(x, m.drop.apply(m.selfAttention(p, m.norm(x, p+"self_attn.norm"), bias)))
		x = Add(x, m.drop.apply(m.crossAttention(p, m.norm(x, p+"cross_attn.norm"), enc, encBias)))
		x = Add(x, m.drop.apply(m.feedForward(p, m.norm(x, p+"ff.norm"))))
	}
	return m.drop.apply(m.norm(x, "decoder.final_norm"))
}

// negInf masks attention logits; finite so that fully masked rows stay NaN-free.
const negInf = -1e9

func (m *t5) embed(ids *Node) *Node {
	return Gather(m.w["shared"], ExpandAxes(ids, -1))
}

// norm is T5LayerNorm: RMS normalisation with a learned scale, no mean
// subtraction and no bias.
func (m *t5) norm(x *Node, name string) *Node {
	variance := ReduceAndKeep(Square(x), ReduceMean, -1)
	return Mul(Div(x, Sqrt(AddScalar(variance, m.cfg.NormEpsilon))), ExpandLeftToRank(m.w[name], x.Rank()))
}

// dense multiplies the last axis of x by w [in, out]; T5 has no biases.
func (m *t5) dense(x, w *Node) *Node {
	dims := x.Shape().Dimensions
	flat := Reshape(x, -1, dims[len(dims)-1])
	y := m.fromMatmul(dotT(m.toMatmul(flat), []int{1}, nil, m.toMatmul(w), []int{0}, nil))
	return Reshape(y, append(dims[:len(dims)-1:len(dims)-1], w.Shape().Dim(-1))...)
}

// toMatmul casts a matmul operand to the matmul dtype (bfloat16 where the
// backend runs it fast); weights, norms, softmax and the loss stay float32.
func (m *t5) toMatmul(x *Node) *Node {
	if m.cfg.matmulDType() == dtypes.Float32 {
		return x
	}
	return ConvertDType(x, m.cfg.matmulDType())
}

func (m *t5) fromMatmul(x *Node) *Node {
	if x.DType() == dtypes.Float32 {
		return x
	}
	return ConvertDType(x, dtypes.Float32)
}

// positionBias is the [1, heads, qLen, kLen] relative position bias of a stack,
// computed once and shared by all its layers as in Hugging Face's T5.
func (m *t5) positionBias(stack string, qLen, kLen int, bidirectional bool) *Node {
	c := m.cfg
	g := m.w["shared"].Graph()
	buckets := relativeBuckets(qLen, kLen, bidirectional, c.RelBuckets, c.RelMaxDist)
	idx := Const(g, buckets)
	idx = Reshape(idx, qLen, kLen, 1)
	bias := Gather(m.w[stack+".relative_attention_bias"], idx) // [q, k, heads]
	return ExpandAxes(TransposeAllAxes(bias, 2, 0, 1), 0)
}

// keyMaskBias is 0 for real encoder tokens and negInf for padding, shaped
// [batch, 1, 1, kLen] to broadcast over heads and queries.
func (m *t5) keyMaskBias(ids *Node) *Node {
	g := ids.Graph()
	isPad := Equal(ids, Scalar(g, ids.DType(), m.cfg.PadID))
	bias := Where(isPad, Scalar(g, dtypes.Float32, negInf), Scalar(g, dtypes.Float32, 0))
	return InsertAxes(bias, 1, 1)
}

func (m *t5) selfAttention(prefix string, x, bias *Node) *Node {
	qkv := splitColumns(m.w[prefix+"self_attn.qkv"], 3)
	q, k, v := m.heads(x, qkv[0]), m.heads(x, qkv[1]), m.heads(x, qkv[2])
	return m.attend(prefix+"self_attn.o", q, k, v, bias)
}

func (m *t5) crossAttention(prefix string, x, enc, bias *Node) *Node {
	kv := splitColumns(m.w[prefix+"cross_attn.kv"], 2)
	q := m.heads(x, m.w[prefix+"cross_attn.q"])
	k, v := m.heads(enc, kv[0]), m.heads(enc, kv[1])
	return m.attend(prefix+"cross_attn.o", q, k, v, bias)
}

// splitColumns cuts a fused projection [in, n*out] into n weights [in, out].
// Slicing the weights rather than the projected activations keeps the
// copies (and their gradients' padding) small.
func splitColumns(w *Node, n int) []*Node {
	return Split(w, 1, n)
}

// heads projects x [batch, len, d] with w [d, heads*d_kv] into the
// heads-major layout [batch, heads, len, d_kv].
func (m *t5) heads(x, w *Node) *Node {
	b, l := x.Shape().Dim(0), x.Shape().Dim(1)
	return TransposeAllAxes(Reshape(m.dense(x, w), b, l, m.cfg.NumHeads, m.cfg.DKV), 0, 2, 1, 3)
}

// attend is T5 attention: softmax(q k^T + bias) v with no 1/sqrt(d) scale,
// q, k, v in the heads-major layout [batch, heads, len, d_kv], which makes
// both products plain batched matmuls.
func (m *t5) attend(outName string, q, k, v, bias *Node) *Node {
	c := m.cfg
	bh := []int{0, 1}
	scores := Add(m.fromMatmul(dotT(m.toMatmul(q), []int{3}, bh, m.toMatmul(k), []int{3}, bh)), bias)
	probs := m.drop.apply(Softmax(scores, -1))
	out := TransposeAllAxes(m.fromMatmul(dotT(m.toMatmul(probs), []int{3}, bh, m.toMatmul(v), []int{2}, bh)), 0, 2, 1, 3)
	b, l := out.Shape().Dim(0), out.Shape().Dim(1)
	return m.dense(Reshape(out, b, l, c.NumHeads*c.DKV), m.w[outName])
}

// feedForward is T5 v1.1's gated-GELU block: wo(gelu_new(x wi_0) * (x wi_1)).
func (m *t5) feedForward(prefix string, x *Node) *Node {
	wi := splitColumns(m.w[prefix+"ff.wi"], 2) // wi_0, wi_1
	gated := Mul(geluTanh(m.dense(x, wi[0])), m.dense(x, wi[1]))
	return m.dense(m.drop.apply(gated), m.w[prefix+"ff.wo"])
}

// geluTanh is the tanh approximation of GELU (Hugging Face's gelu_new),
// written from basic ops: the go backend's fused GeluApproximate has a wrong
// SIMD gradient (see GOMLX-NOTES.md).
func geluTanh(x *Node) *Node {
	inner := MulScalar(Add(x, MulScalar(Mul(Square(x), x), 0.044715)), math.Sqrt(2/math.Pi))
	return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
}
