package baselines

// TSCRNN (Lin, Xu and Gao, Computer Networks 2021): spatial features of each
// of the flow's first packets from a 1D CNN over its bytes (two convolutions
// with max pooling), then temporal features from a bidirectional LSTM across
// the packets, then a softmax over the concatenated final states.

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func init() { builders["TSCRNN"] = buildTSCRNN }

func buildTSCRNN(p string, classes int) (*arch, error) {
	type size struct{ packets, bytes, filters, hidden int }
	sz, err := preset(p, size{4, 64, 8, 16}, size{8, 128, 32, 64}, size{10, 256, 64, 128}, size{10, 1500, 64, 256})
	if err != nil {
		return nil, err
	}
	var s specs
	s.conv1d("conv1", 3, 1, sz.filters)
	s.conv1d("conv2", 3, sz.filters, sz.filters)
	s.rnn("lstm.f", 4, sz.filters, sz.hidden)
	s.rnn("lstm.r", 4, sz.filters, sz.hidden)
	s.dense("out", 2*sz.hidden, classes)
	return &arch{
		specs: s.list,
		xDims: []int{sz.packets, sz.bytes},
		units: func(ex Example) []unit { return []unit{{x: ByteMatrix(ex.Packets, sz.packets, sz.bytes)}} },
		forward: func(w weights, x, _ *Node, _ *dropout) (*Node, *Node) {
			B := x.Shape().Dim(0)
			h := Reshape(x, B*sz.packets, sz.bytes, 1) // every packet through the same CNN
			h = maxPool2(relu(conv1d(w, "conv1", h, 1)))
			h = maxOver(relu(conv1d(w, "conv2", h, 1))) // [B*packets, filters]
			seq := biRNN(lstm, w, "lstm", Reshape(h, B, sz.packets, sz.filters))
			last := Concatenate([]*Node{
				SliceAxis(at(seq, sz.packets-1), -1, AxisRange(0, sz.hidden)), // forward's final state
				SliceAxis(at(seq, 0), -1, AxisRange(sz.hidden, 2*sz.hidden)),  // backward's final state
			}, -1)
			return dense(w, "out", last), nil
		},
		lr: 2e-3,
	}, nil
}
