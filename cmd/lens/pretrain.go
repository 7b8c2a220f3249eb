package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lens-go/lens/collective"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/trainer"
	"github.com/lens-go/lens/trainer/masking"
)

func init() {
	commands["pretrain"] = command{summary: "pretrain the Lens T5 with a masking policy (KG-MSP by default) on a corpus's pretraining split", run: runPretrain}
}

// Environment variables 'lens launch' sets for its workers.
const (
	envWorld  = "LENS_WORLD"  // number of worker processes
	envSeeds  = "LENS_SEEDS"  // memberlist addresses to join, comma-separated
	envNode   = "LENS_NODE"   // this worker's unique name
	envSecret = "LENS_SECRET" // shared secret (memberlist keyring and ring handshake)
	envBind   = "LENS_BIND"   // this worker's memberlist address host:port (first worker of a local launch)
)

func runPretrain(args []string) error {
	fs := newFlagSet("pretrain", "--corpus CORPUS --tokenizer DIR --out RUN [--preset tiny] [--masking FILE]", `
Pretrains the T5 v1.1 model of the paper (Section 3.2) on the pretraining
split of CORPUS: every flow's packet lines, then <sep> and its dataset's
context, masked by the policy in --masking (KG-MSP by default). Checkpoints
are written to RUN atomically every --checkpoint-every steps; rerunning the
same command resumes from the newest one exactly. Progress (step, loss,
tokens/s, learning rate, ETA, backend) goes to stderr and RUN/metrics.jsonl.
Under 'lens launch' it trains data-parallel: every step's global batch (N
workers times --batch rows) is the next stretch of one global, per-pass
shuffled order of the examples, each worker takes its slice, and gradients
are averaged, weighted by target tokens, with the ring all-reduce, so that
with --dropout 0 the run equals one process with N times the batch. If a
worker dies or goes silent (--io-timeout), the survivors re-form the ring,
agree on the newest checkpoint and continue from its data position, as
long as at least --min-world workers remain (docs/distributed.md).`)
	preset := fs.String("preset", "tiny", "model and optimisation preset: "+strings.Join(trainer.Presets(), ", "))
	corpus := fs.String("corpus", "", "corpus folder made by 'lens ingest' (required)")
	tokDir := fs.String("tokenizer", "", "tokenizer folder made by 'lens tokenizer train' (required)")
	maskPath := fs.String("masking", "", "masking policy JSON (default: KG-MSP, configs/masking/kgmsp.json)")
	out := fs.String("out", "", "run folder for checkpoints and metrics (required)")
	seed := fs.Uint64("seed", 1, "split seed of the corpus and training seed")
	steps := fs.Int("steps", 0, "optimizer steps (0: the preset's)")
	encLen := fs.Int("enc-len", 0, "encoder input length in tokens; longer flows lose packets from the end (0: the preset's)")
	decLen := fs.Int("dec-len", 0, "decoder target length in tokens (0: the preset's)")
	every := fs.Int("checkpoint-every", 0, "steps between checkpoints (0: the preset's)")
	stopAfter := fs.Int("stop-after", 0, "end this invocation after that many steps, with a checkpoint (a later run resumes)")
	backend := fs.String("backend", "", "compute backend: go, xla, xla:cuda (default: XLA when a PJRT plugin is installed, else go)")
	batch := fs.Int("batch", 0, "rows per micro-batch on each worker (0: the preset's); a world of N workers takes N times as many per step")
	dropout := fs.Float64("dropout", -1, "dropout rate (-1: the preset's; 0 makes data-parallel runs equal to one process on the combined batch)")
	minWorld := fs.Int("min-world", 1, "data-parallel: the fewest workers training continues with after losing some")
	worldWait := fs.Duration("world-wait", 2*time.Minute, "data-parallel: how long survivors wait for --min-world workers (and to re-form)")
	ioTimeout := fs.Duration("io-timeout", 30*time.Second, "data-parallel: deadline of every read and write on the ring; a silent neighbour is dropped after it")
	logSamples := fs.Bool("log-samples", false, "write RUN/samples.jsonl: which examples every step used")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *corpus == "" || *tokDir == "" || *out == "" {
		fs.Usage()
		return errors.New("need --corpus, --tokenizer and --out")
	}
	tok, err := bbpe.Load(*tokDir)
	if err != nil {
		return err
	}
	cfg, err := trainer.Preset(*preset, tok.VocabSize())
	if err != nil {
		return err
	}
	cfg.Seed = *seed
	if *steps > 0 {
		cfg.Steps = *steps
		cfg.WarmupSteps = max(1, *steps/10)
	}
	if *every > 0 {
		cfg.CheckpointEvery = *every
	}
	if *encLen > 0 {
		cfg.EncLen = *encLen
	}
	if *decLen > 0 {
		cfg.DecLen = *decLen
	}
	if *batch > 0 {
		cfg.BatchSize = *batch
	}
	if *dropout >= 0 {
		cfg.Dropout = *dropout
	}
	pol := masking.KGMSP()
	if *maskPath != "" {
		if pol, err = masking.Load(*maskPath); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	c, reg, s, err := openSplits(*corpus, "", *seed)
	if err != nil {
		return err
	}
	reducer, node, err := joinWorld(ctx, *ioTimeout)
	if err != nil {
		return err
	}
	if node != nil {
		defer node.Leave(5 * time.Second)
	}
	// Every worker reads all the pretraining flows: the global batch of a
	// step is cut into the workers' slices by position in one global order
	// (docs/distributed.md), so a worker may need any example after the
	// world changes.
	examples, err := trainer.CorpusExamples(c, s, netbench.SplitPretrain, reg, tok, cfg.EncLen, 0, 1)
	if err != nil {
		return err
	}
	if len(examples) == 0 {
		return fmt.Errorf("%s: no pretraining flows in its split (lens split --pretrain train|unlabelled|DIR chooses them)", *corpus)
	}
	runDir, rank, world := *out, 0, 1
	pc := trainer.PretrainConfig{Model: cfg, Masking: pol, Sentinels: bbpe.NumSentinels, Backend: *backend,
		Progress: os.Stderr, StopAfter: *stopAfter, LogSamples: *logSamples}
	if node != nil {
		// One folder per worker, named after the node: ranks change when
		// the world re-forms, node names do not.
		runDir = filepath.Join(*out, node.Name())
		rank, world = reducer.Rank(), reducer.Size()
		pc.Reducer, pc.Rank = reducer, rank
		pc.Elastic = &trainer.Elastic{Node: node, MinWorld: *minWorld, WaitWorld: *worldWait}
		pc.FaultHook = faultHook(node.Name())
	}
	fmt.Fprintf(os.Stderr, "pretrain: %d examples (rank %d of %d, %d rows per worker), corpus %s, preset %s, masking %s\n",
		len(examples), rank, world, cfg.BatchSize, c.Manifest.ContentHash[:12], *preset, pol.Name)
	return trainer.Pretrain(ctx, pc, trainer.NewMemorySource(examples, true, *seed), runDir)
}

// envFaultKill names a worker and a step ("worker-001@7"): that worker
// kills itself with SIGKILL in that step, after computing its gradients and
// before reducing them. For fault-injection tests only.
const envFaultKill = "LENS_FAULT_KILL"

// envFaultSlow makes every worker sleep that long (a Go duration) in every
// step, so that a test can join a worker while a run is going on.
const envFaultSlow = "LENS_FAULT_SLOW"

// envFaultStop ("worker-001@7") freezes that worker with SIGSTOP in that
// step, as a machine cut off from the network looks to the others; its pid
// goes to the file named by envFaultPIDFile (the test ends it).
const (
	envFaultStop    = "LENS_FAULT_STOP"
	envFaultPIDFile = "LENS_FAULT_PIDFILE"
)

func faultHook(node string) func(int) {
	slow, _ := time.ParseDuration(os.Getenv(envFaultSlow))
	spec := os.Getenv(envFaultKill)
	name, at, ok := strings.Cut(spec, "@")
	step, err := strconv.Atoi(at)
	kill := ok && err == nil && name == node
	stopName, stopAt, _ := strings.Cut(os.Getenv(envFaultStop), "@")
	stopStep, err := strconv.Atoi(stopAt)
	stop := err == nil && stopName == node
	if !kill && !stop && slow <= 0 {
		return nil
	}
	return func(s int) {
		time.Sleep(slow)
		if stop && s == stopStep {
			fmt.Fprintf(os.Stderr, "%s: fault injection: freezing this worker (SIGSTOP) in step %d\n", node, s)
			if f := os.Getenv(envFaultPIDFile); f != "" {
				os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o644)
			}
			freezeSelf()
		}
		if kill && s == step {
			fmt.Fprintf(os.Stderr, "%s: fault injection: killing this worker in step %d\n", node, s)
			p, _ := os.FindProcess(os.Getpid())
			p.Kill()
			select {}
		}
	}
}

// joinWorld joins the data-parallel world 'lens launch' set up through the
// environment; without one it returns a nil node (a world of one).
func joinWorld(ctx context.Context, ioTimeout time.Duration) (reducer *trainer.RingReducer, node *collective.Node, err error) {
	w := os.Getenv(envWorld)
	if w == "" {
		return nil, nil, nil
	}
	world, err := strconv.Atoi(w)
	if err != nil || world < 1 {
		return nil, nil, fmt.Errorf("%s=%q: not a world size", envWorld, w)
	}
	cfg := collective.DefaultConfig()
	cfg.NodeName = os.Getenv(envNode)
	cfg.Secret = []byte(os.Getenv(envSecret))
	cfg.IOTimeout = ioTimeout
	if cfg.NodeName == "" || len(cfg.Secret) == 0 {
		return nil, nil, fmt.Errorf("%s and %s must be set for a data-parallel worker", envNode, envSecret)
	}
	if b := os.Getenv(envBind); b != "" {
		host, port, _ := strings.Cut(b, ":")
		cfg.BindAddr = host
		cfg.BindPort, _ = strconv.Atoi(port)
	}
	if s := os.Getenv(envSeeds); s != "" {
		cfg.Seeds = strings.Split(s, ",")
	}
	node, err = collective.NewNode(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err = node.Join(ctx); err != nil {
		return nil, nil, err
	}
	if _, err := waitForWorld(ctx, node, world, 2*time.Minute, 10*time.Second, os.Stderr); err != nil {
		return nil, nil, err
	}
	// Reform rather than NewRings(wd): a worker joining a running world
	// keeps trying, with fresh member views, until the others re-form with
	// it at their next checkpoint.
	_, rings, err := node.Reform(ctx)
	if err != nil {
		return nil, nil, err
	}
	r := rings[0]
	fmt.Fprintf(os.Stderr, "worker %s: rank %d of %d\n", cfg.NodeName, r.Rank(), r.Size())
	return &trainer.RingReducer{Ring: r, Ctx: ctx}, node, nil
}
