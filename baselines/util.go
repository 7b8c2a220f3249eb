package baselines

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// preset picks one of four values by preset name.
func preset[T any](name string, smoke, tiny, small, base T) (T, error) {
	switch name {
	case "smoke":
		return smoke, nil
	case "tiny":
		return tiny, nil
	case "small":
		return small, nil
	case "base":
		return base, nil
	}
	var zero T
	return zero, fmt.Errorf("baselines: unknown preset %q (smoke, tiny, small, base)", name)
}

// embed looks ids [B, L] up in table [V, D].
func embed(table, ids *Node) *Node { return Gather(table, ExpandAxes(ids, -1)) }

// relu from basic ops, with gradient 0 at 0 (PyTorch's convention; the
// gradient of Max(x, 0) counts a tie, which zero-padded inputs with zero
// biases hit exactly).
func relu(x *Node) *Node { return Where(GreaterThan(x, ZerosLike(x)), x, ZerosLike(x)) }

// mlp applies dense layers name.0, name.1, ... with act and dropout rate
// between them (not after the last).
func mlp(w weights, name string, x *Node, layers int, act func(*Node) *Node, drop *dropout, rate float64) *Node {
	for i := range layers {
		x = dense(w, blockName(name, i), x)
		if i < layers-1 {
			x = drop.apply(act(x), rate)
		}
	}
	return x
}

// mlpSpecs adds the dense layers of mlp for widths in -> hidden... -> out.
func (s *specs) mlp(name string, widths ...int) int {
	for i := 0; i+1 < len(widths); i++ {
		s.dense(blockName(name, i), widths[i], widths[i+1])
	}
	return len(widths) - 1
}

// packetUnits returns one unit per packet (at most n) with x = vec(packet).
func packetUnits(ex Example, n int, vec func([]byte) []float32) []unit {
	var us []unit
	for i := 0; i < n && i < len(ex.Packets); i++ {
		us = append(us, unit{x: vec(ex.Packets[i].IP)})
	}
	if len(us) == 0 { // an empty flow still gets a prediction
		us = append(us, unit{x: vec(nil)})
	}
	return us
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
