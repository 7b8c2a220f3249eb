package baselines

// ET-BERT (Lin et al., WWW 2022): the payload bytes of the flow's first
// packets as overlapping bigram tokens (65,536 of them), [CLS] first, each
// packet's tokens closed by [SEP], into a BERT encoder (learned positions,
// post-LayerNorm blocks). Pretraining is masked language modelling (15% of
// the tokens: 80% [MASK], 10% random, 10% kept) with the output projection
// tied to the token embedding. Finetuning classifies [CLS]'s final state
// through UER's two-layer head: tanh(W1 h) then W2 (rows = classes).

import (
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

func init() { builders["ET-BERT"] = buildETBERT }

// ET-BERT's special tokens; bigram ids start after them.
const (
	etPad int32 = iota
	etUnk
	etCLS
	etSEP
	etMASK
	etFirst
)

func buildETBERT(p string, classes int) (*arch, error) {
	type size struct{ seq, packets, perPacket, dim, heads, layers int }
	sz, err := preset(p,
		size{32, 2, 14, 32, 2, 1},
		size{128, 3, 40, 64, 4, 2},
		size{256, 5, 50, 256, 4, 4},
		size{512, 5, 100, 768, 12, 12}) // BERT-base, as ET-BERT
	if err != nil {
		return nil, err
	}
	vocab := ETBERTVocab(etFirst)
	L := sz.seq
	nMask := max(1, int(0.15*float64(L-1)+0.5))

	var s specs
	s.add("emb", initNormal, 0.02, vocab, sz.dim)
	s.add("pos", initNormal, 0.02, L, sz.dim)
	s.layerNorm("emb.norm", sz.dim)
	for i := range sz.layers {
		s.block(blockName("enc", i), sz.dim, 4*sz.dim)
	}
	s.dense("cls.hidden", sz.dim, sz.dim)
	s.add("cls.out.w", initKaiming, 0, classes, sz.dim)
	s.add("cls.out.b", initZeros, 0, classes)
	s.pre = true
	s.dense("mlm.hidden", sz.dim, sz.dim)
	s.layerNorm("mlm.norm", sz.dim)
	s.add("mlm.bias", initZeros, 0, vocab)

	const dropRate = 0.1 // BERT's
	encode := func(w weights, ids *Node, drop *dropout) *Node {
		g := ids.Graph()
		x := drop.apply(layerNorm(w, "emb.norm", Add(embed(w["emb"], ids), ExpandAxes(w["pos"], 0))), dropRate)
		isPad := Equal(ids, ScalarZero(g, ids.DType()))
		bias := InsertAxes(Where(isPad, Scalar(g, dtypes.Float32, -1e9), Scalar(g, dtypes.Float32, 0)), 1, 1)
		for i := range sz.layers {
			x = block(w, blockName("enc", i), x, sz.heads, bias, false, drop, dropRate)
		}
		return x
	}
	return &arch{
		specs: s.list,
		idLen: L,
		units: func(ex Example) []unit {
			ids := make([]int32, L)
			ids[0] = etCLS
			copy(ids[1:], ETBERTTokens(ex.Packets, sz.packets, sz.perPacket, L-1, etFirst, etSEP))
			return []unit{{ids: ids}}
		},
		forward: func(w weights, _, ids *Node, drop *dropout) (*Node, *Node) {
			cls := Squeeze(SliceAxis(encode(w, ids, drop), 1, AxisElem(0)), 1)
			h := Tanh(dense(w, "cls.hidden", cls))
			return Add(Einsum("bd,cd->bc", h, w["cls.out.w"]), ExpandAxes(w["cls.out.b"], 0)), nil
		},
		head: "cls.out",
		// Inputs: masked ids [B, L], sel [B, K, L] one-hot at the masked
		// positions, targets [B, K] (int32), weights [B, K] (0 for unused
		// slots) and the dropout random state.
		pretrain: func(w weights, in []*Node) *Node {
			h := Einsum("bkl,bld->bkd", in[1], encode(w, in[0], &dropout{rng: in[4]}))
			h = layerNorm(w, "mlm.norm", gelu(dense(w, "mlm.hidden", h)))
			logits := Add(Einsum("bkd,vd->bkv", h, w["emb"]), ExpandLeftToRank(w["mlm.bias"], 3))
			return maskedCrossEntropy(logits, in[2], in[3])
		},
		pretrainBatch: func(us []unit, r *rand.Rand) []*tensors.Tensor {
			B := len(us)
			ids := make([]int32, 0, B*L)
			sel := make([]float32, B*nMask*L)
			targets := make([]int32, B*nMask)
			wts := make([]float32, B*nMask)
			for b, u := range us {
				row := append([]int32(nil), u.ids...)
				var cand []int
				for i, t := range row {
					if t >= etFirst {
						cand = append(cand, i)
					}
				}
				r.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
				for k, pos := range cand[:min(nMask, len(cand))] {
					sel[(b*nMask+k)*L+pos] = 1
					targets[b*nMask+k] = row[pos]
					wts[b*nMask+k] = 1
					switch x := r.Float64(); {
					case x < 0.8:
						row[pos] = etMASK
					case x < 0.9:
						row[pos] = etFirst + int32(r.IntN(65536))
					}
				}
				ids = append(ids, row...)
			}
			return []*tensors.Tensor{
				tensors.FromFlatDataAndDimensions(ids, B, L),
				tensors.FromFlatDataAndDimensions(sel, B, nMask, L),
				tensors.FromFlatDataAndDimensions(targets, B, nMask),
				tensors.FromFlatDataAndDimensions(wts, B, nMask),
				rngState(r.Int64()),
			}
		},
		lr:     1e-3,
		warmup: true,
	}, nil
}
