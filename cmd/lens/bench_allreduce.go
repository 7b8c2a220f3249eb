package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lens-go/lens/collective"
)

// benchAllreduce runs the collective ring all-reduce on loopback with every
// combination of --ranks and --sizes and prints one row each:
// ranks bytes time_ms algbw_GBps busbw_GBps, with algbw = bytes/time and
// busbw = algbw*2(n-1)/n as nccl-tests defines them for all-reduce.
func benchAllreduce(args []string) error {
	fs := newFlagSet("bench allreduce", "[--ranks 2,4] [--sizes 1MiB,16MiB,64MiB] [--iters N] [--compress] [--procs]", `
Measure the collective package's ring all-reduce (float32 sum) over loopback
TCP. Ranks run as goroutines of this process, or with --procs as separate
processes. time_ms is the median over --iters calls after --warmup untimed
ones; algbw = bytes/time, busbw = algbw * 2(n-1)/n (nccl-tests).`)
	ranksF := fs.String("ranks", "2,4", "comma-separated rank counts")
	sizesF := fs.String("sizes", "1MiB,16MiB,64MiB", "comma-separated buffer sizes (B, KiB, MiB, GiB)")
	iters := fs.Int("iters", 10, "timed iterations per row")
	warmup := fs.Int("warmup", 2, "untimed iterations per row")
	compress := fs.Bool("compress", false, "zstd-compress chunks on the wire")
	chunk := fs.String("chunk", "1MiB", "pipeline chunk size")
	sockbuf := fs.String("sockbuf", "4MiB", "SO_SNDBUF/SO_RCVBUF per ring connection (0: OS autotuning)")
	procs := fs.Bool("procs", false, "run each rank as a separate process")
	worker := fs.String("worker", "", "internal: RANK/ADDR,ADDR,... for a --procs child")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ranks, sizes []int
	for _, s := range strings.Split(*ranksF, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--ranks: bad rank count %q", s)
		}
		ranks = append(ranks, n)
	}
	for _, s := range strings.Split(*sizesF, ",") {
		n, err := parseBytes(s)
		if err != nil {
			return fmt.Errorf("--sizes: %w", err)
		}
		sizes = append(sizes, n)
	}
	cb, err := parseBytes(*chunk)
	if err != nil {
		return fmt.Errorf("--chunk: %w", err)
	}
	if *iters < 1 {
		return errors.New("--iters must be >= 1")
	}
	cfg := collective.DefaultConfig()
	cfg.Secret = []byte("lens bench allreduce loopback")
	cfg.Compress = *compress
	cfg.ChunkBytes = cb
	if cfg.SocketBufferBytes, err = parseBytes(*sockbuf); err != nil {
		return fmt.Errorf("--sockbuf: %w", err)
	}
	cfg.IOTimeout = time.Minute
	if *worker != "" {
		return benchWorker(cfg, *worker, sizes, *iters, *warmup)
	}
	fmt.Printf("# lens ring all-reduce sum float32, loopback TCP, chunk %d B, socket buffers %d B, compress %v, %s\n", cb, cfg.SocketBufferBytes, *compress, map[bool]string{false: "goroutine ranks", true: "process ranks"}[*procs])
	fmt.Printf("%5s %12s %10s %11s %11s\n", "ranks", "bytes", "time_ms", "algbw_GBps", "busbw_GBps")
	for _, n := range ranks {
		var times []time.Duration
		if *procs {
			times, err = benchProcs(args, n, sizes)
		} else {
			times, err = benchGoroutines(cfg, n, sizes, *iters, *warmup)
		}
		if err != nil {
			return fmt.Errorf("%d ranks: %w", n, err)
		}
		for i, size := range sizes {
			sec := times[i].Seconds()
			algbw := 0.0
			if sec > 0 {
				algbw = float64(size) / sec / 1e9
			}
			busbw := algbw * 2 * float64(n-1) / float64(n)
			fmt.Printf("%5d %12d %10.3f %11.3f %11.3f\n", n, size, sec*1e3, algbw, busbw)
		}
	}
	return nil
}

func parseBytes(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suf string
		m   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	n := int(f * float64(mult))
	if n%4 != 0 {
		return 0, fmt.Errorf("size %d is not a whole number of float32", n)
	}
	return n, nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// benchGoroutines runs n ranks in this process and returns the median time
// of one all-reduce per size, measured from a common start to the last
// rank's return.
func benchGoroutines(cfg *collective.Config, n int, sizes []int, iters, warmup int) ([]time.Duration, error) {
	trs := make([]*collective.Transport, n)
	addrs := make([]string, n)
	for i := range n {
		tr, err := collective.NewTransport(cfg)
		if err != nil {
			return nil, err
		}
		defer tr.Close()
		trs[i], addrs[i] = tr, tr.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rings := make([]*collective.Ring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { rings[i], errs[i] = trs[i].NewRing(ctx, collective.RingSpec{Rank: i, Addrs: addrs}) })
	}
	wg.Wait()
	for _, r := range rings {
		if r != nil {
			defer r.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []time.Duration
	for _, size := range sizes {
		bufs := make([][]float32, n)
		rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
		for i := range bufs {
			bufs[i] = make([]float32, size/4)
			for k := range bufs[i] {
				bufs[i][k] = float32(rng.NormFloat64() * 1e-3)
			}
		}
		var times []time.Duration
		for it := range warmup + iters {
			t0 := time.Now()
			for i := range n {
				wg.Go(func() { errs[i] = rings[i].AllReduce(context.Background(), bufs[i], collective.Sum) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			if it >= warmup {
				times = append(times, time.Since(t0))
			}
		}
		out = append(out, median(times))
	}
	return out, nil
}

// benchProcs re-runs this binary once per rank with --worker and reads the
// median times that rank 0 prints.
func benchProcs(args []string, n int, sizes []int) ([]time.Duration, error) {
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmds := make([]*exec.Cmd, n)
	var out io.ReadCloser
	for i := range n {
		a := append([]string{"bench", "allreduce"}, args...)
		a = append(a, "--worker", strconv.Itoa(i)+"/"+strings.Join(addrs, ","))
		c := exec.Command(self, a...)
		c.Stderr = os.Stderr
		if i == 0 {
			if out, err = c.StdoutPipe(); err != nil {
				return nil, err
			}
		}
		if err := c.Start(); err != nil {
			return nil, err
		}
		cmds[i] = c
	}
	var times []time.Duration
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		ns, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
		if err == nil {
			times = append(times, time.Duration(ns))
		}
	}
	var errs []error
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("rank %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(times) != len(sizes) {
		return nil, fmt.Errorf("rank 0 reported %d timings for %d sizes", len(times), len(sizes))
	}
	return times, nil
}

// benchWorker is one --procs rank. Before each timed call the ranks
// synchronise with a one-element all-reduce; rank 0 prints the median time
// per size in nanoseconds.
func benchWorker(cfg *collective.Config, spec string, sizes []int, iters, warmup int) error {
	rs, list, ok := strings.Cut(spec, "/")
	rank, err := strconv.Atoi(rs)
	if !ok || err != nil {
		return fmt.Errorf("--worker: bad spec %q", spec)
	}
	addrs := strings.Split(list, ",")
	cfg.ListenAddr = addrs[rank]
	tr, err := collective.NewTransport(cfg)
	if err != nil {
		return err
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ring, err := tr.NewRing(ctx, collective.RingSpec{Rank: rank, Addrs: addrs})
	if err != nil {
		return err
	}
	defer ring.Close()
	bg := context.Background()
	barrier := make([]float32, 1)
	for _, size := range sizes {
		rng := rand.New(rand.NewPCG(uint64(rank), uint64(size)))
		buf := make([]float32, size/4)
		for k := range buf {
			buf[k] = float32(rng.NormFloat64() * 1e-3)
		}
		var times []time.Duration
		for it := range warmup + iters {
			if err := ring.AllReduce(bg, barrier, collective.Sum); err != nil {
				return err
			}
			t0 := time.Now()
			if err := ring.AllReduce(bg, buf, collective.Sum); err != nil {
				return err
			}
			if it >= warmup {
				times = append(times, time.Since(t0))
			}
		}
		if rank == 0 {
			fmt.Println(int64(median(times)))
		}
	}
	return nil
}
