package trainer

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/support/exceptions"
)

// dropout applies inverted dropout (zero with probability rate, scale the
// rest by 1/(1-rate)) with keep masks drawn on the host (dropoutMasks) and fed
// to the gradient graph as inputs, one [rows, sites[i]] boolean mask for the
// i-th call of apply in graph-building order.
//
// The go backend's in-graph RandomUniform fills its bits one byte at a time
// from a single PCG stream and then converts them to floats in four more
// passes; drawing the masks on the host with a counter-based generator costs a
// small fraction of that and stays deterministic in the seed.
type dropout struct {
	rate float64
	// masks are the keep masks, one per apply; nil records the sites (the
	// elements per batch row of each apply) without applying dropout.
	masks []*Node
	sites []int
}

func (d *dropout) apply(x *Node) *Node {
	if d == nil || d.rate == 0 {
		return x
	}
	rows := x.Shape().Dim(0)
	i := len(d.sites)
	d.sites = append(d.sites, x.Shape().Size()/rows)
	if d.masks == nil {
		return x
	}
	if i >= len(d.masks) || d.masks[i].Shape().Size() != x.Shape().Size() {
		panic(fmt.Sprintf("trainer: dropout site %d of shape %s has no matching mask", i, x.Shape()))
	}
	keep := Reshape(d.masks[i], x.Shape().Dimensions...)
	return Where(keep, MulScalar(x, 1/(1-d.rate)), ZerosLike(x))
}

// dropoutSites lists the dropout mask elements per batch row of each dropout
// site of the training graph (none without dropout). It builds, without
// compiling, the forward graph with a recording dropout.
func dropoutSites(cfg *Config, specs []ParamSpec, backend compute.Backend) (sites []int, err error) {
	if cfg.Dropout == 0 {
		return nil, nil
	}
	err = exceptions.TryCatch[error](func() {
		g := NewGraph(backend, "dropout_sites")
		defer g.Finalize()
		params := make([]*Node, len(specs))
		for i, s := range specs {
			params[i] = Parameter(g, s.Name, shapes.Make(dtypes.Float32, s.Dims...))
		}
		enc := Parameter(g, "enc", shapes.Make(dtypes.Int32, 1, cfg.EncLen))
		targets := Parameter(g, "targets", shapes.Make(dtypes.Int32, 1, cfg.DecLen))
		d := &dropout{rate: cfg.Dropout}
		newT5(cfg, specs, params, d).Loss(enc, decoderInputs(targets, cfg.PadID), targets)
		sites = d.sites
	})
	return sites, err
}

// dropoutKeepThreshold is the 32-bit threshold below which an element is
// dropped: P(drop) = threshold/2^32, within 2^-33 of rate.
func dropoutKeepThreshold(rate float64) uint32 {
	return uint32(min(math.Round(rate*(1<<32)), math.MaxUint32))
}

// dropoutMasks returns the keep masks of one micro-batch of rows rows, one
// [rows, sites[i]] tensor per site. Laid end to end they form one sequence in
// which element e is kept when 32 bits of SplitMix64's output number e/2 (the
// low half for even e, the high half for odd e) are at least
// dropoutKeepThreshold(rate). SplitMix64 is counter-based, so the masks do not
// depend on how many goroutines fill them.
func dropoutMasks(seed uint64, rows int, sites []int, rate float64) []*tensors.Tensor {
	threshold := dropoutKeepThreshold(rate)
	out := make([]*tensors.Tensor, len(sites))
	base := 0
	for i, n := range sites {
		out[i] = tensors.FromShape(shapes.Make(dtypes.Bool, rows, n))
		tensors.MutableFlatData(out[i], func(keep []bool) { fillDropoutMask(keep, seed, base, threshold) })
		base += rows * n
	}
	return out
}

// fillDropoutMask sets keep[i] for the elements base+i of the mask sequence.
func fillDropoutMask(keep []bool, seed uint64, base int, threshold uint32) {
	const chunk = 1 << 16 // even
	nChunks := (len(keep) + chunk - 1) / chunk
	next := make(chan int, nChunks)
	for lo := 0; lo < len(keep); lo += chunk {
		next <- lo
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nChunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				part := keep[lo:min(lo+chunk, len(keep))]
				start := base + lo
				if start%2 == 1 { // the high half of a pair begins this part
					part[0] = uint32(splitMix64(seed, uint64(start/2))>>32) >= threshold
					part, start = part[1:], start+1
				}
				pair := uint64(start / 2)
				even := len(part) &^ 1
				for i := 0; i < even; i += 2 {
					z := splitMix64(seed, pair)
					pair++
					part[i] = uint32(z) >= threshold
					part[i+1] = uint32(z>>32) >= threshold
				}
				if even < len(part) {
					part[even] = uint32(splitMix64(seed, pair)) >= threshold
				}
			}
		}()
	}
	wg.Wait()
}

// splitMix64 is output number i of SplitMix64 seeded with seed.
func splitMix64(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
