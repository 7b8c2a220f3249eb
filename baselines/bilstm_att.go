package baselines

// BiLSTM_Att (Yao et al., "Identification of encrypted traffic through
// attention mechanism based long short term memory", IEEE Trans. Big Data):
// the flow's first packets as a sequence of byte vectors (addresses zeroed,
// scaled to [0, 1]), a bidirectional LSTM over them, additive attention
// pooling the states, and a softmax.

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func init() { builders["BiLSTM_Att"] = buildBiLSTMAtt }

func buildBiLSTMAtt(p string, classes int) (*arch, error) {
	type size struct{ packets, bytes, hidden, att int }
	sz, err := preset(p, size{4, 64, 16, 16}, size{8, 128, 64, 64}, size{10, 256, 128, 128}, size{10, 1500, 128, 128})
	if err != nil {
		return nil, err
	}
	var s specs
	s.rnn("lstm.f", 4, sz.bytes, sz.hidden)
	s.rnn("lstm.r", 4, sz.bytes, sz.hidden)
	s.dense("att", 2*sz.hidden, sz.att)
	s.add("att.v", initNormal, 1/sqrt(float64(sz.att)), sz.att)
	s.dense("out", 2*sz.hidden, classes)
	return &arch{
		specs: s.list,
		xDims: []int{sz.packets, sz.bytes},
		units: func(ex Example) []unit { return []unit{{x: ByteMatrix(ex.Packets, sz.packets, sz.bytes)}} },
		forward: func(w weights, x, _ *Node, _ *dropout) (*Node, *Node) {
			states := biRNN(lstm, w, "lstm", x) // [B, T, 2H]
			// additive attention: score_t = v . tanh(W h_t + b)
			score := ReduceSum(Mul(Tanh(dense(w, "att", states)), ExpandLeftToRank(w["att.v"], 3)), -1)
			alpha := ExpandAxes(Softmax(score, -1), -1)
			return dense(w, "out", ReduceSum(Mul(alpha, states), 1)), nil
		},
		lr: 2e-3,
	}, nil
}
