package baselines

// DeepPacket (Lotfollahi et al., Soft Computing 2020), its CNN variant: each
// packet as a 1500-byte vector (IP header on, addresses zeroed, UDP header
// padded to 20 bytes, scaled to [0, 1]) through two 1D convolutions, a max
// pool of 2 and fully connected ReLU layers (dropout 0.05) to a softmax; a flow's label is
// the majority over its first packets.

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

func init() { builders["DeepPacket"] = buildDeepPacket }

// conv1d applies name.k [kernel, in, out] with stride and no padding, plus
// name.b, to x [B, L, in]. It is written as im2col (kernel strided slices
// side by side) and one matmul: on the go backend this trains ~10x faster
// than Convolve's generic kernels.
func conv1d(w weights, name string, x *Node, stride int) *Node {
	k := w[name+".k"]
	kernel, in, out := k.Shape().Dim(0), k.Shape().Dim(1), k.Shape().Dim(2)
	B, L := x.Shape().Dim(0), x.Shape().Dim(1)
	n := convOut(L, kernel, stride)
	cols := make([]*Node, kernel)
	for j := range kernel {
		cols[j] = SliceAxis(x, 1, AxisRange(j, j+(n-1)*stride+1).Stride(stride)) // [B, n, in]
	}
	patches := Reshape(Concatenate(cols, -1), B*n, kernel*in)
	y := Add(MatMul(patches, Reshape(k, kernel*in, out)), ExpandAxes(w[name+".b"], 0))
	return Reshape(y, B, n, out)
}

func (s *specs) conv1d(name string, kernel, in, out int) {
	s.add(name+".k", initNormal, sqrt(2/float64(kernel*in)), kernel, in, out)
	s.add(name+".b", initZeros, 0, out)
}

// convOut is the length after a valid convolution.
func convOut(l, kernel, stride int) int { return (l-kernel)/stride + 1 }

// maxPool2 halves the length of x [B, L, C] by the max of adjacent pairs
// (an odd last step is dropped). A tie sends the gradient to the first of
// the pair only, as PyTorch's MaxPool1d does; ReduceMax would send it to both
// (zero-padded bytes make ties common).
func maxPool2(x *Node) *Node {
	L := x.Shape().Dim(1)
	a := SliceAxis(x, 1, AxisRange(0, L/2*2).Stride(2))
	b := SliceAxis(x, 1, AxisRange(1, L/2*2).Stride(2))
	return Where(GreaterOrEqual(a, b), a, b)
}

// maxOver is the max of x [N, L, C] over axis 1 with the gradient going to
// the first maximal position only (see maxPool2).
func maxOver(x *Node) *Node {
	L := x.Shape().Dim(1)
	oh := OneHot(ArgMax(x, 1), L, x.DType()) // [N, C, L]
	return ReduceSum(Mul(TransposeAllAxes(x, 0, 2, 1), StopGradient(oh)), -1)
}

func buildDeepPacket(p string, classes int) (*arch, error) {
	type size struct {
		filters int
		hidden  []int
		packets int
	}
	sz, err := preset(p,
		size{8, []int{32}, 4},
		size{32, []int{128, 64}, 8},
		size{64, []int{300, 100, 50}, 16},
		size{200, []int{600, 500, 400, 300, 200, 100, 50}, 32})
	if err != nil {
		return nil, err
	}
	var s specs
	s.conv1d("conv1", 4, 1, sz.filters)
	s.conv1d("conv2", 5, sz.filters, sz.filters)
	flat := convOut(convOut(1500, 4, 3), 5, 1) / 2 * sz.filters
	layers := s.mlp("mlp", append(append([]int{flat}, sz.hidden...), classes)...)
	return &arch{
		specs: s.list,
		xDims: []int{1500},
		units: func(ex Example) []unit { return packetUnits(ex, sz.packets, DeepPacketVector) },
		forward: func(w weights, x, _ *Node, drop *dropout) (*Node, *Node) {
			B := x.Shape().Dim(0)
			h := relu(conv1d(w, "conv1", ExpandAxes(x, -1), 3))
			h = maxPool2(relu(conv1d(w, "conv2", h, 1)))
			return mlp(w, "mlp", drop.apply(relu(Reshape(h, B, -1)), 0.05), layers, relu, drop, 0.05), nil
		},
		lr: 1e-3,
	}, nil
}
