package collective

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

var testSecret = []byte("lens test secret")

func testConfig() *Config {
	c := DefaultConfig()
	c.Secret = testSecret
	c.IOTimeout = 5 * time.Second
	c.HandshakeTimeout = 2 * time.Second
	return c
}

// newRings builds an n-rank world of goroutine-driven rings over loopback,
// each rank with its own transport, and closes everything at test end.
func newRings(t testing.TB, n int, cfg *Config) []*Ring {
	t.Helper()
	trs := make([]*Transport, n)
	addrs := make([]string, n)
	for i := range n {
		tr, err := NewTransport(cfg)
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
		addrs[i] = tr.Addr()
	}
	rings := make([]*Ring, n)
	errs := make([]error, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rings[i], errs[i] = trs[i].NewRing(ctx, RingSpec{Rank: i, Addrs: addrs})
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := range n {
			if rings[i] != nil {
				rings[i].Close()
			}
			trs[i].Close()
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return rings
}

// allReduce runs AllReduce on every ring concurrently.
func allReduce(ctx context.Context, rings []*Ring, bufs [][]float32, op Op) []error {
	errs := make([]error, len(rings))
	var wg sync.WaitGroup
	for i, r := range rings {
		wg.Go(func() { errs[i] = r.AllReduce(ctx, bufs[i], op) })
	}
	wg.Wait()
	return errs
}

func fill(rng *rand.Rand, n int) []float32 {
	b := make([]float32, n)
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	return b
}

// checkReduce runs one all-reduce of random inputs and compares every rank's
// result with the direct sum (or mean) computed in float64.
func checkReduce(t *testing.T, rings []*Ring, bufs [][]float32, op Op, rng *rand.Rand) {
	t.Helper()
	n, l := len(rings), len(bufs[0])
	want := make([]float64, l)
	for r := range n {
		for i := range bufs[r] {
			bufs[r][i] = float32(rng.NormFloat64())
			want[i] += float64(bufs[r][i])
		}
	}
	if op == Mean {
		for i := range want {
			want[i] /= float64(n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := errors.Join(allReduce(ctx, rings, bufs, op)...); err != nil {
		t.Fatalf("%d ranks, %d elements, %v: %v", n, l, op, err)
	}
	for r := range n {
		for i, v := range bufs[r] {
			if math.Abs(float64(v)-want[i]) > 1e-5*float64(n)+1e-5*math.Abs(want[i]) {
				t.Fatalf("%d ranks, %d elements, %v: rank %d element %d = %v, want %v", n, l, op, r, i, v, want[i])
			}
		}
	}
	// Every rank must hold bit-identical results.
	for r := 1; r < n; r++ {
		for i := range bufs[r] {
			if bufs[r][i] != bufs[0][i] {
				t.Fatalf("rank %d element %d = %v differs from rank 0's %v", r, i, bufs[r][i], bufs[0][i])
			}
		}
	}
}

func TestAllReduceMatchesDirectSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 3, 7, 13, 1000, 65537}
	for n := 1; n <= 8; n++ {
		t.Run(fmt.Sprintf("ranks=%d", n), func(t *testing.T) {
			cfg := testConfig()
			cfg.ChunkBytes = 4096 // many chunks per segment, even for small buffers
			rings := newRings(t, n, cfg)
			ls := append([]int{n - 1}, lengths...)
			if !testing.Short() {
				ls = append(ls, 1000003) // prime, ~4 MB
			}
			for _, l := range ls {
				bufs := make([][]float32, n)
				for r := range bufs {
					bufs[r] = make([]float32, l)
				}
				// Consecutive calls on the same buffers, both ops.
				checkReduce(t, rings, bufs, Sum, rng)
				checkReduce(t, rings, bufs, Mean, rng)
				checkReduce(t, rings, bufs, Sum, rng)
			}
		})
	}
}

func TestAllReduceLargePrime(t *testing.T) {
	if testing.Short() {
		t.Skip("large buffer")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{3, 5} {
		cfg := testConfig()
		rings := newRings(t, n, cfg)
		bufs := make([][]float32, n)
		for r := range bufs {
			bufs[r] = make([]float32, 1000003)
		}
		checkReduce(t, rings, bufs, Sum, rng)
		checkReduce(t, rings, bufs, Mean, rng)
	}
}

func TestAllReduceCompressed(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := testConfig()
	cfg.Compress = true
	cfg.ChunkBytes = 64 << 10
	rings := newRings(t, 3, cfg)
	for _, l := range []int{0, 1, 2, 1000, 100003} {
		bufs := make([][]float32, 3)
		for r := range bufs {
			bufs[r] = make([]float32, l)
		}
		checkReduce(t, rings, bufs, Sum, rng)
		// Highly compressible input: zeros.
		for r := range bufs {
			clear(bufs[r])
		}
		if err := errors.Join(allReduce(context.Background(), rings, bufs, Mean)...); err != nil {
			t.Fatal(err)
		}
		for _, b := range bufs {
			for i, v := range b {
				if v != 0 {
					t.Fatalf("element %d = %v, want 0", i, v)
				}
			}
		}
	}
}

func TestAllReduceSteadyStateAllocs(t *testing.T) {
	for _, compress := range []bool{false, true} {
		cfg := testConfig()
		cfg.ChunkBytes = 16 << 10
		cfg.Compress = compress
		rings := newRings(t, 3, cfg)
		bufs := [][]float32{make([]float32, 100000), make([]float32, 100000), make([]float32, 100000)}
		ctx := context.Background()
		// Ranks 1 and 2 run in helper goroutines driven by channels, so the
		// measured function allocates only what rank 0's AllReduce does.
		go1, go2 := make(chan struct{}), make(chan struct{})
		done := make(chan error, 2)
		for i, c := range []chan struct{}{go1, go2} {
			go func() {
				for range c {
					done <- rings[i+1].AllReduce(ctx, bufs[i+1], Sum)
				}
			}()
		}
		step := func() {
			go1 <- struct{}{}
			go2 <- struct{}{}
			if err := rings[0].AllReduce(ctx, bufs[0], Mean); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
		}
		step() // warm up
		allocs := testing.AllocsPerRun(20, step)
		close(go1)
		close(go2)
		// The all-reduce itself must not allocate; the channel handoffs of
		// this harness are allocation-free too. Allow a small slack for
		// runtime timers.
		if allocs > 2 {
			t.Errorf("compress=%v: %.1f allocations per all-reduce in steady state, want ~0", compress, allocs)
		}
		t.Logf("compress=%v: %.1f allocs per step", compress, allocs)
	}
}

func TestAllReduceMismatchedLengths(t *testing.T) {
	rings := newRings(t, 2, testConfig())
	bufs := [][]float32{make([]float32, 100), make([]float32, 101)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := allReduce(ctx, rings, bufs, Sum)
	err := errors.Join(errs...)
	if err == nil || !strings.Contains(err.Error(), "different lengths") {
		t.Fatalf("got %v, want a length mismatch error", err)
	}
}
