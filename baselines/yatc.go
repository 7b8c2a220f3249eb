package baselines

// YaTC (Zhao et al., AAAI 2023): the flow's first 5 packets as a 40x40 byte
// matrix (the MFR: 80 header and 240 payload bytes a packet, addresses and
// ports zeroed), cut into square patches for a ViT encoder. Pretraining is a
// masked autoencoder: the encoder sees a random 10% of the patches, a
// smaller decoder gets the encoded patches back in place with a learned mask
// token elsewhere and reconstructs the masked patches' bytes (MSE). Finetuning
// runs the encoder on all patches, mean-pools and classifies.

import (
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

func init() { builders["YaTC"] = buildYaTC }

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
	keep := max(1, int(float64(P)*(1-maskRatio)+0.5))

	var s specs
	s.dense("patch", pd, sz.dim)
	s.add("pos", initNormal, 0.02, P, sz.dim)
	for i := range sz.layers {
		s.block(blockName("enc", i), sz.dim, 4*sz.dim)
	}
	s.layerNorm("enc.norm", sz.dim)
	s.dense("head", sz.dim, classes)
	s.pre = true
	s.dense("dec.in", sz.dim, sz.decDim)
	s.add("dec.mask", initNormal, 0.02, sz.decDim)
	s.add("dec.pos", initNormal, 0.02, P, sz.decDim)
	for i := range sz.decLayers {
		s.block(blockName("dec", i), sz.decDim, 4*sz.decDim)
	}
	s.layerNorm("dec.norm", sz.decDim)
	s.dense("dec.out", sz.decDim, pd)

	// patches turns x [B, 1600] into [B, P, patch*patch], row-major patches.
	patches := func(x *Node) *Node {
		B := x.Shape().Dim(0)
		x = Reshape(x, B, side, sz.patch, side, sz.patch)
		return Reshape(TransposeAllAxes(x, 0, 1, 3, 2, 4), B, P, pd)
	}
	encode := func(w weights, tokens *Node) *Node {
		for i := range sz.layers {
			tokens = block(w, blockName("enc", i), tokens, sz.heads, nil, true, nil, 0)
		}
		return layerNorm(w, "enc.norm", tokens)
	}
	embedPatches := func(w weights, x *Node) *Node {
		return Add(dense(w, "patch", patches(x)), ExpandAxes(w["pos"], 0))
	}
	return &arch{
		specs: s.list,
		xDims: []int{1600},
		units: func(ex Example) []unit { return []unit{{x: YaTCMatrix(ex.Packets)}} },
		forward: func(w weights, x, _ *Node, _ *dropout) (*Node, *Node) {
			return dense(w, "head", ReduceMean(encode(w, embedPatches(w, x)), 1)), nil
		},
		// Inputs: x [B, 1600] and keep [B, K, P], row k one-hot at the k-th visible patch.
		pretrain: func(w weights, in []*Node) *Node {
			x, sel := in[0], in[1]
			target := patches(x)
			vis := Einsum("bkp,bpd->bkd", sel, embedPatches(w, x))
			enc := dense(w, "dec.in", encode(w, vis))
			visible := ExpandAxes(ReduceSum(sel, 1), -1) // [B, P, 1]: 1 where visible
			full := Add(Einsum("bkp,bkd->bpd", sel, enc), Mul(OneMinus(visible), ExpandLeftToRank(w["dec.mask"], 3)))
			full = Add(full, ExpandAxes(w["dec.pos"], 0))
			for i := range sz.decLayers {
				full = block(w, blockName("dec", i), full, sz.heads, nil, true, nil, 0)
			}
			pred := dense(w, "dec.out", layerNorm(w, "dec.norm", full))
			perPatch := ReduceMean(Square(Sub(pred, target)), -1) // [B, P]
			masked := Squeeze(OneMinus(visible), -1)
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
