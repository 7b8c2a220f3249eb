package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
	"github.com/lens-go/lens/trainer"
)

// dpFixture is a small synthetic corpus and its tokenizer, built once for
// the data-parallel tests of this package.
var dpFixture struct {
	once             sync.Once
	dir, corpus, tok string
	examples         int // pretraining examples at --enc-len 64
	err              error
}

func fixture(t *testing.T) (corpus, tokDir string, examples int) {
	t.Helper()
	f := &dpFixture
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "lens-dp-fixture")
		if f.err != nil {
			return
		}
		f.err = func() error {
			reg := registry.Default()
			if _, err := synth.Generate(context.Background(), reg, synth.Config{Out: filepath.Join(f.dir, "pcaps"), Seed: 3, Flows: 60, MinFlows: 2, Datasets: []string{"ISCX-VPN"}}); err != nil {
				return err
			}
			in, _ := netbench.ExpandInputs([]string{filepath.Join(f.dir, "pcaps")})
			f.corpus = filepath.Join(f.dir, "corpus")
			if _, err := netbench.Ingest(context.Background(), netbench.IngestConfig{Inputs: in, Out: f.corpus, CodeVersion: "test"}); err != nil {
				return err
			}
			if err := runSplit([]string{f.corpus}); err != nil {
				return err
			}
			c, _, s, err := openSplits(f.corpus, "", 1)
			if err != nil {
				return err
			}
			tr, _ := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: 800, MinFrequency: 2})
			pr, pw, _ := os.Pipe()
			go func() { netbench.WritePretrainLines(c, s, reg, pw); pw.Close() }()
			if err := tr.AddReader("pretraining", pr, bbpe.Lines); err != nil {
				return err
			}
			tok, err := tr.Train()
			if err != nil {
				return err
			}
			f.tok = filepath.Join(f.dir, "tok")
			if err := tok.Save(f.tok); err != nil {
				return err
			}
			ex, err := trainer.CorpusExamples(c, s, netbench.SplitPretrain, reg, tok, 64, 0, 1)
			f.examples = len(ex)
			return err
		}()
	})
	if f.err != nil {
		t.Fatal(f.err)
	}
	return f.corpus, f.tok, f.examples
}

func removeFixture() {
	if dpFixture.dir != "" {
		os.RemoveAll(dpFixture.dir)
	}
}

// smokeArgs are the pretrain flags the data-parallel tests share.
func smokeArgs(corpus, tok, out string, steps, batch, every int) []string {
	return []string{"pretrain", "--preset", "smoke", "--corpus", corpus, "--tokenizer", tok, "--out", out,
		"--steps", strconv.Itoa(steps), "--batch", strconv.Itoa(batch), "--checkpoint-every", strconv.Itoa(every),
		"--enc-len", "64", "--dec-len", "16", "--dropout", "0", "--backend", "go", "--log-samples"}
}

func finalCheckpoint(t *testing.T, dir string, step int) *trainer.CheckpointState {
	t.Helper()
	ck, err := trainer.LatestCheckpoint(dir)
	if err != nil || ck == "" {
		t.Fatalf("%s: no checkpoint (%v)", dir, err)
	}
	st, err := trainer.ReadCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	if st.Meta.Step != step {
		t.Fatalf("%s stopped at step %d, want %d", dir, st.Meta.Step, step)
	}
	return st
}

// maxDiff is the largest absolute difference between two parameter sets,
// and the largest absolute value of a.
func maxDiff(a, b [][]float32) (diff, scale float64) {
	for i := range a {
		for j := range a[i] {
			diff = max(diff, math.Abs(float64(a[i][j])-float64(b[i][j])))
			scale = max(scale, math.Abs(float64(a[i][j])))
		}
	}
	return diff, scale
}

// TestDataParallelEqualsSingleProcess: 'lens launch --local N -- pretrain
// --batch B' (N = 2 and 4) ends with the parameters of one 'lens pretrain
// --batch N*B' process after the same steps, to float tolerance (dropout
// off: dropout masks are drawn per worker). This needs the global data
// order (the workers' slices of a step are exactly the single process's
// batch, with the same masking) and token-weighted averaging (the workers'
// target-token counts differ, so a plain mean of their per-token means
// would be a different gradient).
func TestDataParallelEqualsSingleProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	corpus, tok, _ := fixture(t)
	const steps, global = 4, 4
	dir := t.TempDir()
	single := filepath.Join(dir, "single")
	start := time.Now()
	if err := runPretrain(smokeArgs(corpus, tok, single, steps, global, steps)[1:]); err != nil {
		t.Fatal(err)
	}
	t.Logf("single process, batch %d: %s", global, time.Since(start).Round(time.Millisecond))
	want := finalCheckpoint(t, single, steps)
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	for _, n := range []int{2, 4} {
		out := filepath.Join(dir, fmt.Sprintf("dp%d", n))
		start := time.Now()
		if err := runLaunch(append([]string{"--local", strconv.Itoa(n), "--"}, smokeArgs(corpus, tok, out, steps, global/n, steps)...)); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d workers, batch %d each: %s", n, global/n, time.Since(start).Round(time.Millisecond))
		var first [][]float32
		for r := range n {
			st := finalCheckpoint(t, filepath.Join(out, fmt.Sprintf("worker-%03d", r)), steps)
			if st.Meta.Data.Consumed != want.Meta.Data.Consumed {
				t.Fatalf("%d workers: worker %d consumed %d examples, the single process %d", n, r, st.Meta.Data.Consumed, want.Meta.Data.Consumed)
			}
			if r == 0 {
				first = st.Params
			} else if d, _ := maxDiff(first, st.Params); d != 0 {
				t.Fatalf("%d workers: worker %d differs from worker 0 by %g", n, r, d)
			}
		}
		d, scale := maxDiff(want.Params, first)
		t.Logf("%d workers: largest parameter difference to the single process %.3g (largest parameter %.3g)", n, d, scale)
		if d > 2e-5 {
			t.Fatalf("%d workers: parameters differ from the single process by up to %g", n, d)
		}
	}
}

// readSamples reads a samples.jsonl.
func readSamples(t *testing.T, path string) []trainer.SampleLog {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []trainer.SampleLog
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s trainer.SampleLog
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestKillOneOfThreeWorkers kills worker 1 of 3 (SIGKILL, in the middle of
// step 5, after its gradients and before the all-reduce). The two survivors
// notice, re-form a ring of 2, reload the checkpoint of step 3 and finish
// all steps; the launch succeeds with --max-failures 1. From every worker's
// samples.jsonl (the examples each attempt of each step used; of several
// attempts at a step the last generation's is the one kept) the test
// rebuilds the global data stream and checks that it is contiguous, that
// every step's batch came from all workers of its world, that no example
// is used twice within a pass and every pass that was completed used every
// example, and that the final checkpoints' data position counts exactly
// the examples used.
func TestKillOneOfThreeWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	corpus, tok, n := fixture(t)
	const steps, batch, every, killAt = 10, 2, 3, 5
	out := filepath.Join(t.TempDir(), "run")
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	t.Setenv(envFaultKill, "worker-001@"+strconv.Itoa(killAt))
	start := time.Now()
	args := append([]string{"--local", "3", "--max-failures", "1", "--"}, smokeArgs(corpus, tok, out, steps, batch, every)...)
	args = append(args, "--min-world", "2", "--world-wait", "40s", "--io-timeout", "10s")
	if err := runLaunch(args); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 workers, one killed in step %d: %s", killAt, time.Since(start).Round(time.Millisecond))
	survivors := []string{"worker-000", "worker-002"}
	a := finalCheckpoint(t, filepath.Join(out, survivors[0]), steps)
	b := finalCheckpoint(t, filepath.Join(out, survivors[1]), steps)
	if d, _ := maxDiff(a.Params, b.Params); d != 0 {
		t.Fatalf("the survivors' parameters differ by %g", d)
	}
	if a.Meta.Data.World != 2 {
		t.Fatalf("final world %d, want 2", a.Meta.Data.World)
	}
	checkStream(t, out, []string{"worker-000", "worker-001", "worker-002"}, steps, batch, every, n, a, b)
}

// checkStream rebuilds the global data stream of a run in which worker-001
// of 3 was lost after step every's checkpoint, from the workers'
// samples.jsonl, and checks it (see TestKillOneOfThreeWorkers).
func checkStream(t *testing.T, out string, workers []string, steps, batch, every, n int, a, b *trainer.CheckpointState) {
	t.Helper()
	// Gather every attempt of every step, keep the last generation's.
	type attempt struct {
		gen  int
		recs []trainer.SampleLog
	}
	final := map[int]*attempt{}
	maxGen := 0
	for _, w := range workers {
		for _, s := range readSamples(t, filepath.Join(out, w, "samples.jsonl")) {
			maxGen = max(maxGen, s.Gen)
			at := final[s.Step]
			if at == nil || s.Gen > at.gen {
				at = &attempt{gen: s.Gen}
				final[s.Step] = at
			}
			if s.Gen == at.gen {
				at.recs = append(at.recs, s)
			}
		}
	}
	if maxGen < 2 {
		t.Fatalf("no re-formed world in the sample logs (highest generation %d)", maxGen)
	}
	var stream []int // example ids in stream order
	var epochs []int
	for step := 1; step <= steps; step++ {
		at := final[step]
		if at == nil {
			t.Fatalf("step %d: no samples logged", step)
		}
		recs := at.recs
		slices.SortFunc(recs, func(x, y trainer.SampleLog) int { return x.Rank - y.Rank })
		world := recs[0].World
		if len(recs) != world {
			t.Fatalf("step %d (generation %d): %d workers logged samples, world is %d", step, at.gen, len(recs), world)
		}
		// Steps after the reloaded checkpoint (step 3) were redone by 2.
		if step > every && world != 2 || step <= every && world != 3 {
			t.Fatalf("step %d: world %d (generation %d)", step, world, at.gen)
		}
		for r, s := range recs {
			if s.Rank != r || s.World != world || s.Start != int64(len(stream)) || len(s.IDs) != batch {
				t.Fatalf("step %d: record %+v; want rank %d of %d starting at stream position %d", step, s, r, world, len(stream))
			}
		}
		for _, s := range recs {
			stream = append(stream, s.IDs...)
			epochs = append(epochs, s.Epochs...)
		}
	}
	if a.Meta.Data.Consumed != int64(len(stream)) || b.Meta.Data.Consumed != int64(len(stream)) {
		t.Fatalf("checkpoints count %d and %d examples consumed, the steps used %d", a.Meta.Data.Consumed, b.Meta.Data.Consumed, len(stream))
	}
	for pass := 0; pass*n < len(stream); pass++ {
		seen := map[int]bool{}
		for i := pass * n; i < min(len(stream), (pass+1)*n); i++ {
			if epochs[i] != pass {
				t.Fatalf("stream position %d is in pass %d, logged as pass %d", i, pass, epochs[i])
			}
			if seen[stream[i]] {
				t.Fatalf("pass %d uses example %d twice", pass, stream[i])
			}
			seen[stream[i]] = true
		}
		if (pass+1)*n <= len(stream) && len(seen) != n {
			t.Fatalf("complete pass %d used %d distinct examples of %d", pass, len(seen), n)
		}
	}
	t.Logf("%d examples per pass; %d steps used %d stream positions; %d generations", n, steps, len(stream), maxGen)
}

// TestFrozenWorker: worker 1 of 3 freezes (SIGSTOP) in step 5, as a node
// cut off from the network looks: its sockets stay open and silent. The
// survivors' reads time out (--io-timeout 2s) or memberlist declares it
// failed, whichever comes first; they re-form without it and finish, with
// the same data accounting as TestKillOneOfThreeWorkers.
func TestFrozenWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	corpus, tok, n := fixture(t)
	const steps, batch, every, stopAt = 10, 2, 3, 5
	dir := t.TempDir()
	out, pidFile := filepath.Join(dir, "run"), filepath.Join(dir, "frozen.pid")
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	t.Setenv(envFaultStop, "worker-001@"+strconv.Itoa(stopAt))
	t.Setenv(envFaultPIDFile, pidFile)
	start := time.Now()
	args := append([]string{"--local", "3", "--max-failures", "1", "--"}, smokeArgs(corpus, tok, out, steps, batch, every)...)
	args = append(args, "--min-world", "2", "--world-wait", "40s", "--io-timeout", "2s")
	done := make(chan error, 1)
	go func() { done <- runLaunch(args) }()
	// The frozen worker never exits by itself: kill it once the survivors
	// have finished (or the test gives up).
	for {
		s0, _ := latestStepIn(filepath.Join(out, "worker-000"))
		s2, _ := latestStepIn(filepath.Join(out, "worker-002"))
		if s0 == steps && s2 == steps || time.Since(start) > 90*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(string(b)); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("launch did not return after the frozen worker was killed")
	}
	t.Logf("3 workers, one frozen in step %d: %s", stopAt, time.Since(start).Round(time.Millisecond))
	a := finalCheckpoint(t, filepath.Join(out, "worker-000"), steps)
	b := finalCheckpoint(t, filepath.Join(out, "worker-002"), steps)
	if d, _ := maxDiff(a.Params, b.Params); d != 0 {
		t.Fatalf("the survivors' parameters differ by %g", d)
	}
	checkStream(t, out, []string{"worker-000", "worker-001", "worker-002"}, steps, batch, every, n, a, b)
}

// TestWorkerJoinsAtCheckpoint: two workers start a run ('lens launch --local
// 2 --listen ADDR'); a third ('lens launch --join ADDR --world 1') joins
// while it runs. At the next checkpoint boundary the two see the new member,
// all three re-form the ring, the newcomer receives the checkpoint through
// the ring, and the run finishes with three workers holding identical
// parameters and a contiguous data stream (no example twice in a pass).
func TestWorkerJoinsAtCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	corpus, tok, n := fixture(t)
	const steps, batch, every = 32, 2, 4
	out := filepath.Join(t.TempDir(), "run")
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	t.Setenv(envSecret, "join-test-secret")
	t.Setenv(envFaultSlow, "200ms") // keep the run going while the newcomer starts
	args := append(smokeArgs(corpus, tok, out, steps, batch, every), "--world-wait", "40s", "--io-timeout", "10s")
	start := time.Now()
	first := make(chan error, 1)
	go func() { first <- runLaunch(append([]string{"--local", "2", "--listen", addr, "--"}, args...)) }()
	// Join once the run has saved its first checkpoint after step 0.
	for {
		if st, _ := latestStepIn(filepath.Join(out, "worker-000")); st >= every {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("the first two workers made no progress")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := runLaunch(append([]string{"--join", addr, "--world", "1", "--name", "worker-005", "--"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	t.Logf("2 workers, a third joining: %s", time.Since(start).Round(time.Millisecond))
	var params [][]float32
	for _, w := range []string{"worker-000", "worker-001", "worker-005"} {
		st := finalCheckpoint(t, filepath.Join(out, w), steps)
		if st.Meta.Data.World != 3 {
			t.Fatalf("%s: final world %d, want 3", w, st.Meta.Data.World)
		}
		if params == nil {
			params = st.Params
		} else if d, _ := maxDiff(params, st.Params); d != 0 {
			t.Fatalf("%s differs from worker-000 by %g", w, d)
		}
	}
	// The stream: one record set per step (the last generation's), contiguous.
	final := map[int][]trainer.SampleLog{}
	gens := map[int]int{}
	for _, w := range []string{"worker-000", "worker-001", "worker-005"} {
		for _, s := range readSamples(t, filepath.Join(out, w, "samples.jsonl")) {
			if g, ok := gens[s.Step]; !ok || s.Gen > g {
				gens[s.Step], final[s.Step] = s.Gen, nil
			}
			if s.Gen == gens[s.Step] {
				final[s.Step] = append(final[s.Step], s)
			}
		}
	}
	var stream, epochs []int
	worlds := map[int]bool{}
	for step := 1; step <= steps; step++ {
		recs := final[step]
		slices.SortFunc(recs, func(x, y trainer.SampleLog) int { return x.Rank - y.Rank })
		if len(recs) == 0 || len(recs) != recs[0].World {
			t.Fatalf("step %d: %d records %+v", step, len(recs), recs)
		}
		worlds[recs[0].World] = true
		for r, s := range recs {
			if s.Rank != r || s.Start != int64(len(stream)) {
				t.Fatalf("step %d: record %+v, want rank %d starting at %d", step, s, r, len(stream))
			}
		}
		for _, s := range recs {
			stream = append(stream, s.IDs...)
			epochs = append(epochs, s.Epochs...)
		}
	}
	if !worlds[2] || !worlds[3] {
		t.Fatalf("world sizes seen: %v, want 2 then 3", worlds)
	}
	for pass := 0; pass*n < len(stream); pass++ {
		seen := map[int]bool{}
		for i := pass * n; i < min(len(stream), (pass+1)*n); i++ {
			if epochs[i] != pass || seen[stream[i]] {
				t.Fatalf("stream position %d: example %d of pass %d (logged pass %d) used twice or out of pass", i, stream[i], pass, epochs[i])
			}
			seen[stream[i]] = true
		}
	}
	if params != nil && finalCheckpoint(t, filepath.Join(out, "worker-005"), steps).Meta.Data.Consumed != int64(len(stream)) {
		t.Fatalf("data position does not count the %d examples used", len(stream))
	}
}

// latestStepIn is the step of the newest checkpoint in dir (-1: none).
func latestStepIn(dir string) (int, error) {
	p, err := trainer.LatestCheckpoint(dir)
	if err != nil || p == "" {
		return -1, err
	}
	var step int
	_, err = fmt.Sscanf(filepath.Base(p), "step-%d.ckpt", &step)
	return step, err
}

// TestBelowMinWorld: with --min-world 2, losing one of two workers leaves a
// world of one; the survivor waits --world-wait (long enough for memberlist
// to declare the dead worker failed, a few seconds) for a member to return
// and then fails with an error that says so, without training on alone.
func TestBelowMinWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	corpus, tok, _ := fixture(t)
	const steps, killAt = 8, 3
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	t.Setenv(envFaultKill, "worker-001@"+strconv.Itoa(killAt))
	// Capture the workers' stderr (launch copies it to ours).
	logFile, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = logFile
	args := append([]string{"--local", "2", "--"}, smokeArgs(corpus, tok, out, steps, 2, 2)...)
	args = append(args, "--min-world", "2", "--world-wait", "12s", "--io-timeout", "5s")
	err = runLaunch(args)
	os.Stderr = stderr
	logFile.Close()
	logs, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	if err == nil {
		t.Fatalf("launch succeeded with one of two workers lost and --min-world 2:\n%s", logs)
	}
	if !strings.Contains(string(logs), "below the minimum of 2") {
		t.Fatalf("no below-minimum error in the workers' output:\n%s", logs)
	}
	if st, _ := latestStepIn(filepath.Join(out, "worker-000")); st >= steps {
		t.Fatalf("the survivor trained on alone to step %d", st)
	}
}
