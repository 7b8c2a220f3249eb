package baselines

// YaTC (Zhao et al., AAAI 2023): the flow's first 5 packets as a 40x40 byte
// matrix (the MFR: 80 header and 240 payload bytes a packet, addresses and
// ports zeroed), cut into square patches for a ViT encoder with a [CLS]
// token and fixed 2-D sin-cos positions.
//
// Pretraining is a masked autoencoder over the whole matrix: the encoder
// sees a random 10% of the patches (plus [CLS]), a smaller decoder gets the
// encoded patches back in place with a learned mask token elsewhere and
// reconstructs the masked patches' bytes (MSE over masked patches).
//
// Finetuning follows YaTC's TrafficTransformer: packet level, each packet's
// patches (with its own [CLS]) go through the encoder blocks, and the patch
// rows are averaged into one row of tokens; flow level, the five packets'
// [CLS] + row tokens go through the same blocks again; the packets' [CLS]
// states are averaged, normalised and classified.

import (
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

func init() { builders["YaTC"] = buildYaTC }

// sincos2D is MAE's fixed 2-D sin-cos position embedding of a side x side
// patch grid, row-major, with a zero row first for [CLS]: [1+side^2, dim].
// The first half of each row encodes the patch column, the second its row.
func sincos2D(side, dim int) []float32 {
	quarter := dim / 4
	out := make([]float32, (1+side*side)*dim)
	enc := func(dst []float32, pos float64) {
		for i := range quarter {
			w := pos / math.Pow(10000, float64(i)/float64(quarter))
			dst[i] = float32(math.Sin(w))
			dst[quarter+i] = float32(math.Cos(w))
		}
	}
	for r := range side {
		for c := range side {
			row := out[(1+r*side+c)*dim:]
			enc(row[:2*quarter], float64(c))
			enc(row[2*quarter:4*quarter], float64(r))
		}
	}
	return out
}

func buildYaTC(p string, classes int) (*arch, error) {
	type size struct{ patch, dim, heads, layers, decDim, decLayers int }
	sz, err := preset(p,
		size{8, 32, 2, 1, 32, 1},
		size{4, 64, 4, 2, 64, 1},
		size{2, 128, 8, 4, 128, 2},
		size{2, 192, 16, 4, 128, 2}) // the paper's encoder and decoder
	if err != nil {
		return nil, err
	}
	const maskRatio = 0.9
	side := 40 / sz.patch
	P, pd := side*side, sz.patch*sz.patch
	rows := 8 / sz.patch // patch rows of one packet (8 matrix rows)
	keep := max(1, int(float64(P)*(1-maskRatio)))

	var s specs
	s.dense("patch", pd, sz.dim)
	s.add("cls", initNormal, 0.02, sz.dim)
	for i := range sz.layers {
		s.block(blockName("enc", i), sz.dim, 4*sz.dim)
	}
	s.layerNorm("fc_norm", sz.dim)
	s.dense("head", sz.dim, classes)
	s.pre = true
	s.layerNorm("enc.norm", sz.dim)
	s.dense("dec.in", sz.dim, sz.decDim)
	s.add("dec.mask", initNormal, 0.02, sz.decDim)
	for i := range sz.decLayers {
		s.block(blockName("dec", i), sz.decDim, 4*sz.decDim)
	}
	s.layerNorm("dec.norm", sz.decDim)
	s.dense("dec.out", sz.decDim, pd)
	pos, decPos := sincos2D(side, sz.dim), sincos2D(side, sz.decDim)

	// patches turns x [B, 1600] into [B, P, patch*patch], row-major patches.
	patches := func(x *Node) *Node {
		B := x.Shape().Dim(0)
		x = Reshape(x, B, side, sz.patch, side, sz.patch)
		return Reshape(TransposeAllAxes(x, 0, 1, 3, 2, 4), B, P, pd)
	}
	posConst := func(g *Graph, data []float32, dim int) *Node {
		return Const(g, tensors.FromFlatDataAndDimensions(data, 1+P, dim))
	}
	blocks := func(w weights, x *Node, prefix string, n int) *Node {
		for i := range n {
			x = block(w, blockName(prefix, i), x, sz.heads, nil, true, nil, 0)
		}
		return x
	}
	// withCLS prepends the [CLS] token plus its (zero) position to x [N, T, D].
	withCLS := func(w weights, x *Node) *Node {
		N, D := x.Shape().Dim(0), x.Shape().Dim(2)
		cls := BroadcastToDims(Reshape(w["cls"], 1, 1, D), N, 1, D)
		return Concatenate([]*Node{cls, x}, 1)
	}
	return &arch{
		specs: s.list,
		xDims: []int{1600},
		units: func(ex Example) []unit { return []unit{{x: YaTCMatrix(ex.Packets)}} },
		forward: func(w weights, x, _ *Node, _ *dropout) (*Node, *Node) {
			B, D := x.Shape().Dim(0), sz.dim
			per := rows * side                                                 // patches per packet
			pe := SliceAxis(posConst(x.Graph(), pos, D), 0, AxisRange(1, 1+P)) // [P, D]
			tok := Add(dense(w, "patch", patches(x)), ExpandAxes(pe, 0))       // [B, P, D]
			// packet level: each packet's patches with its own [CLS]
			h := blocks(w, withCLS(w, Reshape(tok, B*5, per, D)), "enc", sz.layers)
			cls := SliceAxis(h, 1, AxisRange(0, 1))                                                      // [B*5, 1, D]
			rowsMean := ReduceMean(Reshape(SliceAxis(h, 1, AxisRange(1, 1+per)), B*5, rows, side, D), 1) // [B*5, side, D]
			// flow level: the same blocks over the five packets' tokens
			flow := blocks(w, Reshape(Concatenate([]*Node{cls, rowsMean}, 1), B, 5*(1+side), D), "enc", sz.layers)
			packetCLS := Squeeze(SliceAxis(Reshape(flow, B, 5, 1+side, D), 2, AxisElem(0)), 2) // [B, 5, D]
			return dense(w, "head", layerNorm(w, "fc_norm", ReduceMean(packetCLS, 1))), nil
		},
		// Inputs: x [B, 1600] and sel [B, K, P], row k one-hot at the k-th visible patch.
		pretrain: func(w weights, in []*Node) *Node {
			x, sel := in[0], in[1]
			g := x.Graph()
			target := patches(x)
			pe := posConst(g, pos, sz.dim)
			tok := Add(dense(w, "patch", target), ExpandAxes(SliceAxis(pe, 0, AxisRange(1, 1+P)), 0))
			vis := withCLS(w, Einsum("bkp,bpd->bkd", sel, tok)) // [B, 1+K, D]
			enc := dense(w, "dec.in", layerNorm(w, "enc.norm", blocks(w, vis, "enc", sz.layers)))
			B, K := enc.Shape().Dim(0), sel.Shape().Dim(1)
			visible := ExpandAxes(ReduceSum(sel, 1), -1) // [B, P, 1]: 1 where visible
			restored := Einsum("bkp,bkd->bpd", sel, SliceAxis(enc, 1, AxisRange(1, 1+K)))
			full := Add(restored, Mul(OneMinus(visible), ExpandLeftToRank(w["dec.mask"], 3)))
			full = Concatenate([]*Node{SliceAxis(enc, 1, AxisRange(0, 1)), full}, 1) // [CLS] first
			full = Add(full, ExpandAxes(posConst(g, decPos, sz.decDim), 0))
			dec := blocks(w, full, "dec", sz.decLayers)
			pred := SliceAxis(dense(w, "dec.out", layerNorm(w, "dec.norm", dec)), 1, AxisRange(1, 1+P))
			perPatch := ReduceMean(Square(Sub(pred, target)), -1) // [B, P]
			masked := Reshape(OneMinus(visible), B, P)
			return Div(ReduceAllSum(Mul(perPatch, masked)), ReduceAllSum(masked))
		},
		pretrainBatch: func(us []unit, r *rand.Rand) []*tensors.Tensor {
			B := len(us)
			x := make([]float32, 0, B*1600)
			sel := make([]float32, B*keep*P)
			for b, u := range us {
				x = append(x, u.x...)
				for k, p := range r.Perm(P)[:keep] {
					sel[(b*keep+k)*P+p] = 1
				}
			}
			return []*tensors.Tensor{
				tensors.FromFlatDataAndDimensions(x, B, 1600),
				tensors.FromFlatDataAndDimensions(sel, B, keep, P),
			}
		},
		lr:     1e-3,
		warmup: true,
	}, nil
}
