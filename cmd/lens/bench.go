package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/dissect"
)

// benchmarks lists the `lens bench` subcommands.
var benchmarks = map[string]command{
	"ingest":    {summary: "frames per second and peak memory of read + dissect + flows on a capture", run: benchIngest},
	"allreduce": {summary: "ring all-reduce bandwidth over loopback TCP (nccl-tests columns)", run: benchAllreduce},
	"train":     {summary: "T5 training step speed: tokens/s and share of the backend's matmul rate", run: benchTrain},
}

func init() {
	commands["bench"] = command{summary: "measure speed: " + benchNames(), run: runBench}
}

func benchNames() string {
	names := make([]string, 0, len(benchmarks))
	for n := range benchmarks {
		names = append(names, n)
	}
	sort.Strings(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func runBench(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(os.Stderr, "Usage: lens bench WHAT [flags]\n\n")
		for n, c := range benchmarks {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, c.summary)
		}
		if len(args) == 0 {
			return errors.New("name a benchmark")
		}
		return nil
	}
	b, ok := benchmarks[args[0]]
	if !ok {
		return fmt.Errorf("unknown benchmark %q (have %s)", args[0], benchNames())
	}
	return b.run(args[1:])
}

func benchIngest(args []string) error {
	fs := newFlagSet("bench ingest", "[--procs N] [--repeat N] CAPTURE", `
Reads and dissects CAPTURE and groups its frames into flows (nothing is
written), --repeat times, and reports frames per second and the process's
peak resident memory. With --procs 1 (the default) it runs on one core.`)
	procs := fs.Int("procs", 1, "GOMAXPROCS for the run")
	repeat := fs.Int("repeat", 3, "passes over the capture; the best is reported")
	profile := fs.String("cpuprofile", "", "write a CPU profile of all passes to this `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one CAPTURE")
	}
	runtime.GOMAXPROCS(*procs)
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var best, bestCPU time.Duration
	var frames int
	for i := 0; i < *repeat; i++ {
		cpu0 := cpuTime()
		n, el, err := ingestPass(fs.Arg(0))
		if err != nil {
			return err
		}
		cpu := cpuTime() - cpu0
		frames = n
		if best == 0 || el < best {
			best = el
		}
		if bestCPU == 0 || cpu < bestCPU {
			bestCPU = cpu
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	// Wall time is what a user waits; CPU time is steadier on a shared machine.
	fmt.Printf("capture %s\nframes %d\nprocs %d\nbest_seconds %.4f\nframes_per_s %.0f\nframes_per_cpu_s %.0f\npeak_rss_MiB %.1f\n",
		fs.Arg(0), frames, *procs, best.Seconds(), float64(frames)/best.Seconds(),
		float64(frames)/bestCPU.Seconds(), float64(ru.Maxrss)/1024)
	return nil
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ingestPass(path string) (int, time.Duration, error) {
	start := time.Now()
	r, err := capture.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	d := dissect.New(dissect.Config{})
	flows := 0
	ft := netbench.NewFlowTable(netbench.FlowTableConfig{}, path, "", func(*netbench.Flow) error { flows++; return nil })
	var (
		fr capture.Frame
		p  dissect.Packet
		n  int
	)
	for {
		if err := r.Next(&fr); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return n, 0, err
		}
		n++
		d.Dissect(&fr, &p)
		if err := ft.Add(&p, fr.Time); err != nil {
			return n, 0, err
		}
	}
	ft.Close()
	return n, time.Since(start), nil
}
