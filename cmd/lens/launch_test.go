package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lens-go/lens/collective"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
	"github.com/lens-go/lens/trainer"
)

// TestMain lets the test binary act as the lens command for the worker
// processes 'lens launch' starts (they re-execute os.Executable()).
func TestMain(m *testing.M) {
	if os.Getenv("LENS_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	removeFixture()
	os.Exit(code)
}

// TestLaunchLocalDataParallel starts two worker processes with 'lens launch
// --local 2 -- pretrain': each takes its own half of every global batch,
// and because every step averages the two workers' gradients with the ring
// all-reduce, both end with bit-identical parameters (without the
// all-reduce their different data would make them diverge at step 1).
func TestLaunchLocalDataParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	dir := t.TempDir()
	reg := registry.Default()
	if _, err := synth.Generate(context.Background(), reg, synth.Config{Out: filepath.Join(dir, "pcaps"), Seed: 3, Flows: 60, MinFlows: 2, Datasets: []string{"ISCX-VPN"}}); err != nil {
		t.Fatal(err)
	}
	in, _ := netbench.ExpandInputs([]string{filepath.Join(dir, "pcaps")})
	corpus := filepath.Join(dir, "corpus")
	if _, err := netbench.Ingest(context.Background(), netbench.IngestConfig{Inputs: in, Out: corpus, CodeVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := runSplit([]string{corpus}); err != nil {
		t.Fatal(err)
	}
	c, _, s, err := openSplits(corpus, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: 800, MinFrequency: 2})
	pr, pw, _ := os.Pipe()
	go func() { netbench.WritePretrainLines(c, s, reg, pw); pw.Close() }()
	if err := tr.AddReader("pretraining", pr, bbpe.Lines); err != nil {
		t.Fatal(err)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	tokDir := filepath.Join(dir, "tok")
	if err := tok.Save(tokDir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	out := filepath.Join(dir, "run")
	err = runLaunch([]string{"--local", "2", "--", "pretrain", "--preset", "smoke", "--corpus", corpus, "--tokenizer", tokDir,
		"--out", out, "--steps", "6", "--enc-len", "128", "--dec-len", "32", "--checkpoint-every", "6", "--backend", "go"})
	if err != nil {
		t.Fatal(err)
	}
	var params [2][][]float32
	for r := range 2 {
		ck, err := trainer.LatestCheckpoint(filepath.Join(out, fmt.Sprintf("worker-%03d", r)))
		if err != nil || ck == "" {
			t.Fatalf("rank %d: no checkpoint (%v)", r, err)
		}
		st, err := trainer.ReadCheckpoint(ck)
		if err != nil {
			t.Fatal(err)
		}
		if st.Meta.Step != 6 {
			t.Fatalf("rank %d stopped at step %d", r, st.Meta.Step)
		}
		params[r] = st.Params
	}
	for i := range params[0] {
		if !slices.Equal(params[0][i], params[1][i]) {
			t.Fatalf("parameter %d differs between the ranks: the gradients were not averaged", i)
		}
	}
}

func TestLaunchOutcome(t *testing.T) {
	killed := errors.New("signal: killed")
	for _, tc := range []struct {
		errs  []error
		limit int
		note  string // "" when none
		err   string // "" when nil
	}{
		{[]error{nil, nil}, -1, "", ""},
		{[]error{nil, killed, nil}, -1,
			"launch: the run finished on 2 of 3 workers (worker-000, worker-002); lost: worker-001 (signal: killed) (--fail-on-loss makes a lost worker an error)", ""},
		{[]error{nil, killed, nil}, 1, "launch: the run finished on 2 of 3 workers", ""},
		{[]error{nil, killed, nil}, 0, "",
			"1 of 3 workers lost: worker-001 (signal: killed); --fail-on-loss is set, so this fails although worker-000, worker-002 finished the run"},
		{[]error{killed, killed, nil}, 1, "", "2 of 3 workers lost: worker-000 (signal: killed), worker-001 (signal: killed); --max-failures 1 is set"},
		{[]error{killed, killed}, -1, "", "all 2 workers failed: worker-000 (signal: killed), worker-001 (signal: killed)"},
	} {
		note, err := launchOutcome(tc.errs, tc.limit)
		if !strings.HasPrefix(note, tc.note) || (tc.note == "") != (note == "") {
			t.Errorf("%v, limit %d: note %q, want %q", tc.errs, tc.limit, note, tc.note)
		}
		if (err == nil) != (tc.err == "") || err != nil && !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("%v, limit %d: error %v, want %q", tc.errs, tc.limit, err, tc.err)
		}
	}
}

// TestWaitForWorldReportsWhoJoined: a node waiting for a world of 3 with
// 2 members, and a third node that was refused for a bad key, prints who
// has joined (name and memberlist address) and the refused host, and its
// error at the deadline says the same.
func TestWaitForWorldReportsWhoJoined(t *testing.T) {
	node := func(name, secret string, seeds ...string) *collective.Node {
		cfg := collective.DefaultConfig()
		cfg.NodeName, cfg.Secret, cfg.Seeds = name, []byte(secret), seeds
		n, err := collective.NewNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Shutdown() })
		return n
	}
	ctx := context.Background()
	a := node("a", "secret")
	b := node("b", "secret", a.GossipAddr())
	if err := b.Join(ctx); err != nil {
		t.Fatal(err)
	}
	stranger := node("stranger", "another secret", a.GossipAddr())
	if err := stranger.Join(ctx); err == nil || !strings.Contains(err.Error(), "refused this node: bad key") {
		t.Fatalf("stranger joined: %v", err)
	}
	var out bytes.Buffer
	_, err := waitForWorld(ctx, a, 3, 2500*time.Millisecond, 500*time.Millisecond, &out)
	joined := fmt.Sprintf("joined 2 (a %s, b %s); refused for a bad key: 127.0.0.1 (1 attempt)", a.GossipAddr(), b.GossipAddr())
	if !strings.Contains(out.String(), "a: waiting for a world of 3: "+joined+"\n") {
		t.Fatalf("output does not say who joined (%s):\n%s", joined, out.String())
	}
	if err == nil || !strings.Contains(err.Error(), "node a: no world of 3 after 2.5s: "+joined) {
		t.Fatalf("error %v does not say who joined", err)
	}
	if n := strings.Count(out.String(), "\n"); n < 2 || n > 3 {
		t.Errorf("%d lines in 2.5 s, want one after a second and one every 0.5 s without change:\n%s", n, out.String())
	}
	t.Logf("%s%v", out.String(), err)
	// Once the world is there, it returns it.
	c := node("c", "secret", a.GossipAddr())
	if err := c.Join(ctx); err != nil {
		t.Fatal(err)
	}
	if w, err := waitForWorld(ctx, a, 3, 10*time.Second, time.Second, io.Discard); err != nil || w.Size() != 3 {
		t.Fatalf("world %v, %v", w.Nodes(), err)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until out holds want, failing the test after limit.
func waitFor(t *testing.T, out *syncBuffer, want string, limit time.Duration) {
	t.Helper()
	for start := time.Now(); !strings.Contains(out.String(), want); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > limit {
			t.Fatalf("no %q after %s in:\n%s", want, limit, out.String())
		}
	}
}

// TestLaunchRefusesWrongSecret runs 'lens launch --listen ADDR --world 2 --
// pretrain' as a process, then 'lens launch --join ADDR' with another
// secret: the newcomer exits non-zero within 10 s saying the cluster
// refused it for a bad key, and the listener, still waiting, prints who has
// joined (itself) and the refused attempt.
func TestLaunchRefusesWrongSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	if runtime.GOOS == "windows" {
		t.Skip("stops the listener with SIGINT")
	}
	corpus, tok, _ := fixture(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	lens := func(ctx context.Context, secret string, args ...string) (*exec.Cmd, *syncBuffer) {
		c := exec.CommandContext(ctx, self, append(args, smokeArgs(corpus, tok, out, 4, 2, 2)...)...)
		c.Env = append(os.Environ(), "LENS_TEST_AS_MAIN=1", envSecret+"="+secret)
		var buf syncBuffer
		c.Stdout, c.Stderr = &buf, &buf
		return c, &buf
	}
	listener, lout := lens(context.Background(), "the cluster's secret", "launch", "--listen", addr, "--world", "2", "--name", "listener", "--")
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- listener.Wait() }()
	t.Cleanup(func() { // launch interrupts its worker, which then exits
		listener.Process.Signal(os.Interrupt)
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Errorf("the listener did not stop on SIGINT:\n%s", lout.String())
			listener.Process.Kill()
		}
	})
	waitFor(t, lout, "listener: waiting for a world of 2: joined 1 (listener "+addr+")\n", time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	joiner, jout := lens(ctx, "another secret", "launch", "--join", addr, "--world", "2", "--name", "intruder", "--")
	start := time.Now()
	err = joiner.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("the joiner with a wrong secret ended with %v after %s, want a non-zero exit:\n%s", err, took, jout.String())
	}
	if took > 10*time.Second {
		t.Fatalf("the refusal took %s, want under 10 s", took)
	}
	want := "the cluster at " + addr + " refused this node: bad key"
	if !strings.Contains(jout.String(), want) {
		t.Fatalf("the joiner's output does not say %q:\n%s", want, jout.String())
	}
	t.Logf("joiner exited %d after %s:\n%s", exit.ExitCode(), took.Round(time.Millisecond), jout.String())
	waitFor(t, lout, "listener: waiting for a world of 2: joined 1 (listener "+addr+"); refused for a bad key: 127.0.0.1 (1 attempt)\n", 15*time.Second)
	t.Logf("listener:\n%s", lout.String())
}

// TestLaunchReportsLostWorker: with 'lens launch --local 2', worker 1 is
// killed (SIGKILL) in step 3 and worker 0 finishes the run alone: launch
// succeeds and notes the lost worker; with --fail-on-loss the same run is
// an error that names the lost worker and the flag.
func TestLaunchReportsLostWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	corpus, tok, _ := fixture(t)
	const steps, killAt = 6, 3
	dir := t.TempDir()
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	t.Setenv(envFaultKill, "worker-001@"+strconv.Itoa(killAt))
	for _, failOnLoss := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprintf("run-%v", failOnLoss))
		args := []string{"--local", "2"}
		if failOnLoss {
			args = append(args, "--fail-on-loss")
		}
		args = append(append(args, "--"), smokeArgs(corpus, tok, out, steps, 2, 2)...)
		args = append(args, "--io-timeout", "5s", "--world-wait", "30s")
		logFile, err := os.Create(out + ".stderr")
		if err != nil {
			t.Fatal(err)
		}
		stderr := os.Stderr
		os.Stderr = logFile
		start := time.Now()
		err = runLaunch(args)
		os.Stderr = stderr
		logFile.Close()
		logs, _ := os.ReadFile(out + ".stderr")
		t.Logf("--fail-on-loss %v: %s, error %v", failOnLoss, time.Since(start).Round(time.Millisecond), err)
		finalCheckpoint(t, filepath.Join(out, "worker-000"), steps)
		if !failOnLoss {
			want := "launch: the run finished on 1 of 2 workers (worker-000); lost: worker-001 (signal: killed) (--fail-on-loss makes a lost worker an error)\n"
			if err != nil || !strings.Contains(string(logs), want) {
				t.Fatalf("got error %v; want success and the note %q in:\n%s", err, want, logs)
			}
			continue
		}
		want := "1 of 2 workers lost: worker-001 (signal: killed); --fail-on-loss is set, so this fails although worker-000 finished the run"
		if err == nil || err.Error() != want {
			t.Fatalf("got error %v, want %q", err, want)
		}
	}
}
