package trainer

import (
	"math"
	"runtime"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
)

// TestDropoutMask: the host-drawn keep masks drop 10% of elements, are a
// function of the seed alone (not of the number of goroutines filling them),
// sites continue one sequence, and different seeds give different masks.
func TestDropoutMask(t *testing.T) {
	const rows = 3
	sites := []int{1, 200_001, 70_000} // odd sizes: sites start inside a 64-bit pair
	flat := func(seed uint64, sites []int) []bool {
		var out []bool
		for _, m := range dropoutMasks(seed, rows, sites, 0.1) {
			out = append(out, tensors.MustCopyFlatData[bool](m)...)
		}
		return out
	}
	a := flat(42, sites)
	prev := runtime.GOMAXPROCS(1)
	b := flat(42, sites)
	runtime.GOMAXPROCS(prev)
	if !slices.Equal(a, b) {
		t.Fatal("mask depends on GOMAXPROCS")
	}
	// One site of the total size draws the same sequence (row-major per site).
	one := tensors.MustCopyFlatData[bool](dropoutMasks(42, 1, []int{len(a)}, 0.1)[0])
	if !slices.Equal(one, a) {
		t.Fatal("sites do not continue one sequence")
	}
	if slices.Equal(a, flat(43, sites)) {
		t.Fatal("seeds 42 and 43 gave the same mask")
	}
	dropped := 0
	for _, k := range a {
		if !k {
			dropped++
		}
	}
	n := float64(len(a))
	if p, sd := float64(dropped)/n, math.Sqrt(0.1*0.9/n); math.Abs(p-0.1) > 5*sd {
		t.Fatalf("dropped fraction %.5f, want 0.1 +- %.5f", p, 5*sd)
	}
	// The two halves of one 64-bit output are independent.
	both := 0
	for i := 0; i+1 < len(a); i += 2 {
		if !a[i] && !a[i+1] {
			both++
		}
	}
	pairs := float64(len(a) / 2)
	if q, sd := float64(both)/pairs, math.Sqrt(0.01*0.99/pairs); math.Abs(q-0.01) > 5*sd {
		t.Fatalf("both halves dropped in %.5f of pairs, want 0.01 +- %.5f", q, 5*sd)
	}
	if got := dropoutKeepThreshold(0.1); math.Abs(float64(got)/(1<<32)-0.1) > 1e-9 {
		t.Fatalf("threshold %d", got)
	}
}

// TestDropoutApply: inverted dropout zeroes exactly the masked elements and
// scales the others by 1/(1-p), and the gradient uses the same mask.
func TestDropoutApply(t *testing.T) {
	b, _, err := NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	const rows, cols = 2, 1000
	masks := dropoutMasks(7, rows, []int{cols, cols}, 0.1)
	keep := tensors.MustCopyFlatData[bool](masks[1])
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	exec, err := NewExec(b, func(x, m0, m1 *Node) []*Node {
		d := &dropout{rate: 0.1, masks: []*Node{m0, m1}}
		d.apply(x)           // site 0
		y := d.apply(Neg(x)) // site 1
		return []*Node{y, Gradient(ReduceAllSum(y), x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Call(tensors.FromFlatDataAndDimensions(x, rows, cols), masks[0], masks[1])
	if err != nil {
		t.Fatal(err)
	}
	y, g := tensors.MustCopyFlatData[float32](res[0]), tensors.MustCopyFlatData[float32](res[1])
	kept := 0
	for i := range x {
		wantY, wantG := float32(0), float32(0)
		if keep[i] {
			wantY, wantG = -x[i]/0.9, -1/0.9
			kept++
		}
		if math.Abs(float64(y[i]-wantY)) > 1e-5 || math.Abs(float64(g[i]-wantG)) > 1e-5 {
			t.Fatalf("[%d] keep=%v: y %g (want %g), grad %g (want %g)", i, keep[i], y[i], wantY, g[i], wantG)
		}
	}
	if kept == 0 || kept == len(x) {
		t.Fatalf("kept %d of %d", kept, len(x))
	}
}

// TestDropoutGradientsDeterministic: with dropout on, the same step and
// micro-batch give the same loss, and another micro-batch index another one.
func TestDropoutGradientsDeterministic(t *testing.T) {
	cfg := smokeConfig(t)
	cfg.Dropout = 0.1
	tr := newSmoke(t, cfg)
	defer tr.Close()
	if len(tr.dropoutSites) == 0 {
		t.Fatal("no dropout mask")
	}
	batch := randomBatch(&tr.Cfg, 3)
	l1, _, err := tr.Gradients(batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	l2, _, _ := tr.Gradients(batch, 0)
	l3, _, _ := tr.Gradients(batch, 1)
	if l1 != l2 || l1 == l3 {
		t.Fatalf("losses %g %g (same masks) %g (other masks)", l1, l2, l3)
	}
}
