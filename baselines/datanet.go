package baselines

// Datanet (Wang et al., IEEE Access 2018), its MLP variant: each packet's
// first 1480 bytes from the IP header on (addresses zeroed, scaled to
// [0, 1]) through fully connected ReLU layers to a softmax; a flow's label is
// the majority over its first packets.

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func init() { builders["Datanet"] = buildDatanet }

func buildDatanet(p string, classes int) (*arch, error) {
	type size struct {
		hidden  []int
		packets int
	}
	sz, err := preset(p, size{[]int{32}, 4}, size{[]int{128, 64}, 8}, size{[]int{256, 128}, 16}, size{[]int{100, 50}, 32})
	if err != nil {
		return nil, err
	}
	var s specs
	widths := append(append([]int{1480}, sz.hidden...), classes)
	layers := s.mlp("mlp", widths...)
	return &arch{
		specs: s.list,
		xDims: []int{1480},
		units: func(ex Example) []unit { return packetUnits(ex, sz.packets, DatanetVector) },
		forward: func(w weights, x, _ *Node, drop *dropout) (*Node, *Node) {
			return mlp(w, "mlp", x, layers, relu, drop, 0), nil
		},
		lr: 1e-3,
	}, nil
}
