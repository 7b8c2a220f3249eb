package collective

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
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

// slowConn paces writes to a link rate, simulating a slower network than
// loopback. Like a socket send buffer of window worth of bytes in front of the link,
// a write returns as soon as the link's backlog is under the window, so the
// sender can compress the next chunk while the link drains the last one.
type slowConn struct {
	net.Conn
	bytesPerSec float64
	window      time.Duration // backlog the "send buffer" holds
	next        time.Time     // when the link will have drained what was written
}

func (c *slowConn) Write(p []byte) (int, error) {
	now := time.Now()
	if c.next.Before(now) {
		c.next = now
	}
	c.next = c.next.Add(time.Duration(float64(len(p)) / c.bytesPerSec * float64(time.Second)))
	n, err := c.Conn.Write(p)
	if d := time.Until(c.next) - c.window; d > 0 {
		time.Sleep(d)
	}
	return n, err
}

// BenchmarkCompression compares plain and zstd-compressed all-reduce of
// gradient-like float32 (normal, sd 1e-3) with 2 ranks over links paced to
// the given rate (0 = unpaced loopback).
func BenchmarkCompression(b *testing.B) {
	for _, gbit := range []float64{0.1, 0.5, 1, 2.5, 10, 0} {
		for _, compress := range []bool{false, true} {
			size := 16 << 20
			if gbit > 0 && gbit < 1 {
				size = 4 << 20
			}
			name := fmt.Sprintf("link=%gGbit/compress=%v", gbit, compress)
			if gbit == 0 {
				name = fmt.Sprintf("link=loopback/compress=%v", compress)
			}
			b.Run(name, func(b *testing.B) {
				cfg := testConfig()
				cfg.Compress = compress
				if gbit > 0 {
					rate := gbit * 1e9 / 8
					window := time.Duration(float64(cfg.ChunkBytes) / rate * float64(time.Second))
					cfg.WrapConn = func(c net.Conn) net.Conn { return &slowConn{Conn: c, bytesPerSec: rate, window: window} }
				}
				benchAllReduce(b, 2, size, cfg)
			})
		}
	}
}

// TestCompressionRatio logs zstd's ratio and speed on shuffled and unshuffled
// gradient-like chunks, the numbers behind the Compress decision.
func TestCompressionRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	f := make([]float32, 1<<18) // one 1 MiB chunk
	for i := range f {
		f[i] = float32(rng.NormFloat64() * 1e-3)
	}
	src := f32bytes(f)
	shuf := make([]byte, len(src))
	shuffle(shuf, src)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	for _, in := range []struct {
		name string
		b    []byte
	}{{"raw", src}, {"shuffled", shuf}} {
		var c []byte
		const reps = 20
		t0 := time.Now()
		for range reps {
			c = enc.EncodeAll(in.b, c[:0])
		}
		encT := time.Since(t0) / reps
		var d []byte
		t0 = time.Now()
		for range reps {
			d, _ = dec.DecodeAll(c, d[:0])
		}
		decT := time.Since(t0) / reps
		t.Logf("%-8s ratio %.3f  encode %.0f MB/s  decode %.0f MB/s", in.name, float64(len(c))/float64(len(in.b)),
			float64(len(in.b))/encT.Seconds()/1e6, float64(len(in.b))/decT.Seconds()/1e6)
	}
}
