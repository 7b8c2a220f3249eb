package baselines

// A TrafficLLM stand-in. TrafficLLM (Cui et al., 2024) instruction-tunes a
// natural-language LLM (ChatGLM2-6B) on traffic rendered as text after a
// traffic-domain tuning stage, and answers with the label's text. Nothing of
// that size runs here; the stand-in keeps the recipe at small scale: a
// decoder-only Transformer over bytes of instruction-style text (an
// instruction, then each packet's direction, size and first payload bytes in
// hex), "pretrained" by next-token prediction on unlabelled flows' text
// (the traffic-domain stage), then instruction-tuned to emit the answer
// token after the text, one answer token per class, decoded constrained to
// the class tokens.

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

func init() { builders["TrafficLLM"] = buildTrafficLLM }

// The stand-in's vocabulary: 256 bytes, padding, the answer marker, then one
// token per class.
const (
	llmPad    int32 = 256
	llmAnswer int32 = 257
	llmFirst  int32 = 258 // class c is token llmFirst+c
)

// TrafficLLMPrompt renders a flow as the stand-in's instruction-style text:
// an instruction, then per packet its direction (> from the initiator, <
// back), IP length and first payloadBytes payload bytes in hex.
func TrafficLLMPrompt(ex Example, packets, payloadBytes int) string {
	var b strings.Builder
	b.WriteString("Classify this flow.")
	for i := 0; i < packets && i < len(ex.Packets); i++ {
		p := ex.Packets[i]
		dir := ">"
		if p.Dir == 1 {
			dir = "<"
		}
		pay := p.IP
		if l, ok := layout(p.IP); ok {
			pay = p.IP[l.ipHdr+l.l4Hdr:]
		}
		fmt.Fprintf(&b, " %s%d %s", dir, len(p.IP), hex.EncodeToString(pay[:min(payloadBytes, len(pay))]))
	}
	b.WriteString(" Answer:")
	return b.String()
}

func buildTrafficLLM(p string, classes int) (*arch, error) {
	type size struct{ seq, packets, payload, dim, heads, layers int }
	sz, err := preset(p,
		size{96, 3, 8, 32, 2, 1},
		size{256, 5, 16, 64, 4, 2},
		size{512, 5, 32, 256, 4, 4},
		size{1024, 5, 64, 512, 8, 8})
	if err != nil {
		return nil, err
	}
	L := sz.seq
	vocab := int(llmFirst) + classes
	var s specs
	s.add("emb", initNormal, 0.02, vocab, sz.dim) // tied output projection
	s.add("pos", initNormal, 0.02, L, sz.dim)
	for i := range sz.layers {
		s.block(blockName("dec", i), sz.dim, 4*sz.dim)
	}
	s.layerNorm("dec.norm", sz.dim)

	hidden := func(w weights, ids *Node) *Node { return llmHidden(w, ids, sz.heads, sz.layers) }
	return &arch{
		specs: s.list,
		idLen: L,
		units: func(ex Example) []unit {
			text := []byte(TrafficLLMPrompt(ex, sz.packets, sz.payload))
			text = text[max(0, len(text)-(L-1)):] // keep the end (the instruction's answer cue) if too long
			ids := make([]int32, L)
			for i := range ids {
				ids[i] = llmPad
			}
			off := L - 1 - len(text)
			for i, c := range text {
				ids[off+i] = int32(c)
			}
			ids[L-1] = llmAnswer
			return []unit{{ids: ids}}
		},
		// The answer is read at the last position, scored over the class tokens only.
		forward: func(w weights, _, ids *Node, _ *dropout) (*Node, *Node) {
			last := Squeeze(SliceAxis(hidden(w, ids), 1, AxisElem(L-1)), 1)
			classEmb := SliceAxis(w["emb"], 0, AxisRange(int(llmFirst), vocab))
			return Einsum("bd,cd->bc", last, classEmb), nil
		},
		// Traffic-domain stage: next-byte prediction over the text (inputs:
		// ids [B, L], targets [B, L], weights [B, L]).
		pretrain: func(w weights, in []*Node) *Node {
			logits := Einsum("bld,vd->blv", hidden(w, in[0]), SliceAxis(w["emb"], 0, AxisRange(0, int(llmFirst))))
			return maskedCrossEntropy(logits, in[1], in[2])
		},
		pretrainBatch: func(us []unit, _ *rand.Rand) []*tensors.Tensor {
			B := len(us)
			ids := make([]int32, 0, B*L)
			targets := make([]int32, B*L)
			wts := make([]float32, B*L)
			for b, u := range us {
				ids = append(ids, u.ids...)
				for i := 0; i+1 < L; i++ {
					if u.ids[i] != llmPad && u.ids[i+1] < llmPad { // predict the next text byte
						targets[b*L+i] = u.ids[i+1]
						wts[b*L+i] = 1
					}
				}
			}
			return []*tensors.Tensor{
				tensors.FromFlatDataAndDimensions(ids, B, L),
				tensors.FromFlatDataAndDimensions(targets, B, L),
				tensors.FromFlatDataAndDimensions(wts, B, L),
			}
		},
		lr:     1e-3,
		warmup: true,
	}, nil
}

// llmHidden runs the stand-in's causal decoder (parameters emb, pos, dec.i,
// dec.norm) over ids [B, L]: pre-LN blocks, causal attention that also
// ignores padding keys, the final LayerNorm; it returns [B, L, D].
func llmHidden(w weights, ids *Node, heads, layers int) *Node {
	g := ids.Graph()
	L := ids.Shape().Dim(1)
	x := Add(embed(w["emb"], ids), ExpandAxes(w["pos"], 0))
	causal := GreaterOrEqual(Iota(g, shapes.Make(dtypes.Int32, L, L), 0), Iota(g, shapes.Make(dtypes.Int32, L, L), 1))
	notPad := ExpandAxes(NotEqual(ids, Scalar(g, ids.DType(), llmPad)), 1) // [B, 1, L] over keys
	allowed := LogicalAnd(ExpandAxes(causal, 0), notPad)
	bias := ExpandAxes(Where(allowed, Scalar(g, dtypes.Float32, 0), Scalar(g, dtypes.Float32, -1e9)), 1)
	for i := range layers {
		x = block(w, blockName("dec", i), x, heads, bias, true, nil, 0)
	}
	return layerNorm(w, "dec.norm", x)
}
