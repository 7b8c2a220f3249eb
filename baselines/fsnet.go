package baselines

// FS-Net (Liu et al., INFOCOM 2019): the flow's packet-length sequence
// (direction-signed, as tokens) embedded, a stacked bidirectional GRU
// encoder whose final states of all layers and directions form z_e, a
// stacked bidirectional GRU decoder fed z_e at every step whose outputs
// reconstruct the sequence (softmax over the length vocabulary) and whose
// final states form z_d, and a classifier over the compound feature
// [z_e, z_d, z_e*z_d, |z_e-z_d|] through a SELU layer (dropout 0.3). Loss: classification
// cross-entropy plus alpha times the reconstruction cross-entropy.

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func init() { builders["FS-Net"] = buildFSNet }

// stackedBiGRU runs layers bidirectional GRUs and returns the last layer's
// states [B, T, 2H] and the concatenated final states of every layer and
// direction [B, 2*layers*H].
func stackedBiGRU(w weights, name string, x *Node, layers, hidden int) (*Node, *Node) {
	T := x.Shape().Dim(1)
	var finals []*Node
	for l := range layers {
		x = biRNN(gru, w, blockName(name, l), x)
		finals = append(finals,
			SliceAxis(at(x, T-1), -1, AxisRange(0, hidden)),
			SliceAxis(at(x, 0), -1, AxisRange(hidden, 2*hidden)))
	}
	return x, Concatenate(finals, -1)
}

func selu(x *Node) *Node {
	const alpha, scale = 1.6732632423543772, 1.0507009873554805
	neg := MulScalar(AddScalar(Exp(Min(x, ZerosLike(x))), -1), alpha)
	return MulScalar(Where(GreaterThan(x, ZerosLike(x)), x, neg), scale)
}

func buildFSNet(p string, classes int) (*arch, error) {
	type size struct{ seq, emb, hidden, layers int }
	sz, err := preset(p, size{8, 16, 16, 1}, size{16, 64, 64, 2}, size{32, 128, 128, 2}, size{32, 128, 128, 2})
	if err != nil {
		return nil, err
	}
	const alpha = 1.0 // weight of the reconstruction loss (the original's default)
	var s specs
	s.add("emb", initNormal, 1, FSNetVocab, sz.emb)
	feat := 2 * sz.layers * sz.hidden
	in := sz.emb
	for l := range sz.layers {
		s.rnn(blockName("enc", l)+".f", 3, in, sz.hidden)
		s.rnn(blockName("enc", l)+".r", 3, in, sz.hidden)
		in = 2 * sz.hidden
	}
	in = feat
	for l := range sz.layers {
		s.rnn(blockName("dec", l)+".f", 3, in, sz.hidden)
		s.rnn(blockName("dec", l)+".r", 3, in, sz.hidden)
		in = 2 * sz.hidden
	}
	s.dense("recon", 2*sz.hidden, FSNetVocab)
	s.dense("compound", 4*feat, 2*sz.hidden)
	s.dense("out", 2*sz.hidden, classes)

	// forward returns the class logits and alpha times the reconstruction loss.
	forward := func(w weights, _, ids *Node, drop *dropout) (*Node, *Node) {
		_, ze := stackedBiGRU(w, "enc", embed(w["emb"], ids), sz.layers, sz.hidden)
		T := ids.Shape().Dim(1)
		decIn := BroadcastToDims(ExpandAxes(ze, 1), ze.Shape().Dim(0), T, feat)
		states, zd := stackedBiGRU(w, "dec", decIn, sz.layers, sz.hidden)
		mask := ConvertDType(NotEqual(ids, ZerosLike(ids)), states.DType())
		recon := maskedCrossEntropy(dense(w, "recon", states), ids, mask)
		f := Concatenate([]*Node{ze, zd, Mul(ze, zd), Abs(Sub(ze, zd))}, -1)
		return dense(w, "out", drop.apply(selu(dense(w, "compound", f)), 0.3)), MulScalar(recon, alpha)
	}
	return &arch{
		specs:   s.list,
		idLen:   sz.seq,
		units:   func(ex Example) []unit { return []unit{{ids: FSNetSequence(ex.Lengths, ex.Dirs, sz.seq)}} },
		forward: forward,
		lr:      2e-3,
	}, nil
}
