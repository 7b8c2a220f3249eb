package collective

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// benchAllReduce times one all-reduce of size bytes across n goroutine ranks
// on loopback. b.SetBytes(size) makes "MB/s" the algorithm bandwidth
// (algbw); the bus bandwidth is algbw * 2(n-1)/n, reported as busbw_GB/s.
func benchAllReduce(b *testing.B, n, size int, cfg *Config) {
	rings := newRings(b, n, cfg)
	rng := rand.New(rand.NewPCG(1, 1))
	bufs := make([][]float32, n)
	for i := range bufs {
		bufs[i] = fill(rng, size/4)
	}
	ctx := context.Background()
	start := make([]chan struct{}, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 1; i < n; i++ {
		start[i] = make(chan struct{})
		go func() {
			for range start[i] {
				errs[i] = rings[i].AllReduce(ctx, bufs[i], Sum)
				wg.Done()
			}
		}()
	}
	defer func() {
		for i := 1; i < n; i++ {
			close(start[i])
		}
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		wg.Add(n - 1)
		for i := 1; i < n; i++ {
			start[i] <- struct{}{}
		}
		if err := rings[0].AllReduce(ctx, bufs[0], Sum); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	algbw := float64(size) / sec / 1e9
	b.ReportMetric(algbw*2*float64(n-1)/float64(n), "busbw_GB/s")
}

func BenchmarkAllReduce(b *testing.B) {
	for _, n := range []int{2, 4} {
		for _, size := range []int{1 << 20, 16 << 20, 64 << 20} {
			b.Run(fmt.Sprintf("ranks=%d/bytes=%d", n, size), func(b *testing.B) {
				cfg := testConfig()
				benchAllReduce(b, n, size, cfg)
			})
		}
	}
}
