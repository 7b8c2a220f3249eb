package trainer

import (
	"runtime"
	"sync"
	"weak"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// The go backend multiplies matrices only when the left operand's contracted
// axes are trailing (and the right operand's right after the batch axes or
// trailing). Any other DotGeneral first transposes both operands (the ready
// one too) to [batch, cross, contracted], and its transposes cost about
// 4 ns per element here (measured on this machine: 4 ms for [4096, 256],
// against 6.4 ms for a [4096,256]x[256,256] matmul and 0.4 ms for the
// attention heads' 0213 fast path), and an identity Transpose is a full copy.
// GoMLX's gradient of a DotGeneral always puts the output's adjoint v on the
// left and contracts it over a leading axis, so every dense layer's weight
// gradient transposed both v [tokens, out] and x [tokens, in], every
// attention's key gradient the [len, len] score adjoint and the queries, and
// most results went through an identity Transpose.
//
// dotT builds a DotGeneral whose gradient, for each operand, is computed in
// whichever of the two equivalent orientations (v on the left, or the other
// operand on the left) transposes fewer elements; a lone unready left operand
// is transposed explicitly so that the backend leaves the right one alone
// (and the backend's common-subexpression elimination shares x^T between the
// q, k and v weight gradients); identity transposes are skipped. The
// arithmetic is the same sum of products; only which operand is packed as
// which changes.
//
// It is scoped to the nodes dotT creates: GoMLX's registered DotGeneral
// gradient is wrapped once and falls back to the original for every other
// node in the process.
func dotT(lhs *Node, lhsContract, lhsBatch []int, rhs *Node, rhsContract, rhsBatch []int) *Node {
	out := DotGeneral(lhs, lhsContract, lhsBatch, rhs, rhsContract, rhsBatch)
	if out.Type() != NodeTypeDotGeneral || !isSorted(lhsContract) || !isSorted(rhsContract) ||
		len(crossAxes(lhs.Rank(), lhsContract, lhsBatch)) == 0 || len(crossAxes(rhs.Rank(), rhsContract, rhsBatch)) == 0 {
		return out // keep GoMLX's own gradient
	}
	key := weak.Make(out)
	dotAxes.Store(key, &dotSpec{lhsContract: lhsContract, lhsBatch: lhsBatch, rhsContract: rhsContract, rhsBatch: rhsBatch})
	runtime.AddCleanup(out, func(k weak.Pointer[Node]) { dotAxes.Delete(k) }, key)
	return out
}

type dotSpec struct {
	lhsContract, lhsBatch, rhsContract, rhsBatch []int
}

var (
	dotAxes    sync.Map // weak.Pointer[Node] -> *dotSpec
	defaultVJP VJP
)

func init() {
	defaultVJP = VJPRegistration[NodeTypeDotGeneral]
	VJPRegistration[NodeTypeDotGeneral] = func(node *Node, vjpOutputs []*Node, outputShape shapes.Shape) []*Node {
		s, ok := dotAxes.Load(weak.Make(node))
		if !ok {
			return defaultVJP(node, vjpOutputs, outputShape)
		}
		spec := s.(*dotSpec)
		in := node.Inputs()
		lhs, rhs, v := in[0], in[1], vjpOutputs[0]
		return []*Node{
			dotOperandGrad(v, true, lhs, spec.lhsContract, spec.lhsBatch, rhs, spec.rhsContract, spec.rhsBatch),
			dotOperandGrad(v, false, rhs, spec.rhsContract, spec.rhsBatch, lhs, spec.lhsContract, spec.lhsBatch),
		}
	}
}

// crossAxes lists the axes of a rank-r operand that are neither contracted
// nor batch, in increasing order.
func crossAxes(rank int, contract, batch []int) []int {
	used := make([]bool, rank)
	for _, a := range contract {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	var out []int
	for a := range rank {
		if !used[a] {
			out = append(out, a)
		}
	}
	return out
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

func isSeq(axes []int, start int) bool {
	for i, a := range axes {
		if a != start+i {
			return false
		}
	}
	return true
}

// lhsReady and rhsReady tell whether the go backend multiplies an operand
// as it lies (see compute's dot.LayoutForDotGeneral): batch axes leading, and
// contracted axes trailing (left operand) or trailing or right after the
// batch axes (right operand).
func lhsReady(l *Node, lc, lb []int) bool {
	return isSeq(lb, 0) && isSeq(lc, l.Rank()-len(lc))
}

func rhsReady(r *Node, rc, rb []int) bool {
	return isSeq(rb, 0) && (isSeq(rc, len(rb)) || isSeq(rc, r.Rank()-len(rc)))
}

// transposeCost is the number of elements transposed to run
// DotGeneral(l, lc, lb, r, rc, rb) by dotReady. When neither operand is ready
// the backend transposes both to its "transposed" layout.
func transposeCost(l *Node, lc, lb []int, r *Node, rc, rb []int) int {
	lOK, rOK := lhsReady(l, lc, lb), rhsReady(r, rc, rb)
	switch {
	case lOK && rOK:
		return 0
	case lOK:
		return r.Shape().Size()
	case rOK:
		return l.Shape().Size()
	}
	return l.Shape().Size() + r.Shape().Size()
}

// dotReady is DotGeneral, except that when only the left operand is in a
// layout the backend cannot multiply, it transposes that operand itself to
// [batch, cross, contracted]: left to the backend, a DotGeneral in no
// supported layout transposes both operands, the ready right one included
// (compute's dot.reshapeToSupportedLayout).
func dotReady(l *Node, lc, lb []int, r *Node, rc, rb []int) *Node {
	if !lhsReady(l, lc, lb) && rhsReady(r, rc, rb) {
		perm := append(append(append([]int{}, lb...), crossAxes(l.Rank(), lc, lb)...), lc...)
		l = TransposeAllAxes(l, perm...)
		lb, lc = iota(0, len(lb)), iota(l.Rank()-len(lc), len(lc))
	}
	return DotGeneral(l, lc, lb, r, rc, rb)
}

// dotOperandGrad is the gradient with respect to this (the left operand when
// thisIsLHS) of a DotGeneral whose output adjoint is v. It requires the
// contracted axes of both operands to be listed in increasing order (true of
// every dotT call), so that the other operand's leftover axes come out in
// this operand's contraction order.
func dotOperandGrad(v *Node, thisIsLHS bool, this *Node, thisContract, thisBatch []int,
	other *Node, otherContract, otherBatch []int) *Node {
	nb := len(thisBatch)
	thisCross := crossAxes(this.Rank(), thisContract, thisBatch)
	otherCross := crossAxes(other.Rank(), otherContract, otherBatch)
	// v is [batch..., lhs cross..., rhs cross...].
	vOther := nb
	if thisIsLHS {
		vOther += len(thisCross)
	}
	vOtherAxes := iota(vOther, len(otherCross))
	vBatch := iota(0, nb)
	o := other
	if o.DType() != v.DType() {
		o = ConvertDType(o, v.DType())
	}

	// A: v on the left -> [batch, this cross, this contracted].
	permA := make([]int, this.Rank())
	for i, a := range thisBatch {
		permA[a] = i
	}
	for i, a := range thisCross {
		permA[a] = nb + i
	}
	for i, a := range thisContract {
		permA[a] = nb + len(thisCross) + i
	}
	// B: other on the left -> [batch, this contracted, this cross].
	permB := make([]int, this.Rank())
	for i, a := range thisBatch {
		permB[a] = i
	}
	for i, a := range thisContract {
		permB[a] = nb + i
	}
	for i, a := range thisCross {
		permB[a] = nb + len(thisContract) + i
	}
	outSize := this.Shape().Size()
	costA := transposeCost(v, vOtherAxes, vBatch, o, otherCross, otherBatch)
	if !isSeq(permA, 0) {
		costA += outSize
	}
	costB := transposeCost(o, otherCross, otherBatch, v, vOtherAxes, vBatch)
	if !isSeq(permB, 0) {
		costB += outSize
	}
	// The go backend copies on an identity Transpose: only transpose when needed.
	var g *Node
	if costB <= costA { // ties: transpose the forward operand, which other products may share
		g = dotReady(o, otherCross, otherBatch, v, vOtherAxes, vBatch)
		if !isSeq(permB, 0) {
			g = TransposeAllAxes(g, permB...)
		}
	} else {
		g = dotReady(v, vOtherAxes, vBatch, o, otherCross, otherBatch)
		if !isSeq(permA, 0) {
			g = TransposeAllAxes(g, permA...)
		}
	}
	if g.DType() != this.DType() {
		g = ConvertDType(g, this.DType())
	}
	return g
}

func isSorted(axes []int) bool {
	for i := 1; i < len(axes); i++ {
		if axes[i] <= axes[i-1] {
			return false
		}
	}
	return true
}
