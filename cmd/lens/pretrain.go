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
	"github.com/lens-go/lens/netbench/registry"
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
Under 'lens launch' it trains data-parallel: each worker reads its own shard
and gradients are averaged with the ring all-reduce every step.`)
	preset := fs.String("preset", "tiny", "model and optimisation preset: "+strings.Join(trainer.Presets(), ", "))
	corpus := fs.String("corpus", "", "corpus folder made by 'lens ingest' (required)")
	tokDir := fs.String("tokenizer", "", "tokenizer folder made by 'lens tokenizer train' (required)")
	maskPath := fs.String("masking", "", "masking policy JSON (default: KG-MSP, configs/masking/kgmsp.json)")
	out := fs.String("out", "", "run folder for checkpoints and metrics (required)")
	seed := fs.Uint64("seed", 1, "split seed of the corpus and training seed")
	steps := fs.Int("steps", 0, "optimizer steps (0: the preset's)")
	every := fs.Int("checkpoint-every", 0, "steps between checkpoints (0: the preset's)")
	stopAfter := fs.Int("stop-after", 0, "end this invocation after that many steps, with a checkpoint (a later run resumes)")
	backend := fs.String("backend", "", "compute backend: go, xla, xla:cuda (default: XLA when a PJRT plugin is installed, else go)")
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
	pol := masking.KGMSP()
	if *maskPath != "" {
		if pol, err = masking.Load(*maskPath); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	c, s, err := openSplits(*corpus, "", *seed)
	if err != nil {
		return err
	}
	rank, world, reducer, node, err := joinWorld(ctx)
	if err != nil {
		return err
	}
	if node != nil {
		defer node.Leave(5 * time.Second)
	}
	examples, err := trainer.CorpusExamples(c, s, netbench.SplitPretrain, registry.Default(), tok, cfg.EncLen, rank, world)
	if err != nil {
		return err
	}
	if len(examples) == 0 {
		return fmt.Errorf("%s: no pretraining flows in this worker's shard", *corpus)
	}
	runDir := *out
	if world > 1 {
		runDir = filepath.Join(*out, "rank-"+strconv.Itoa(rank))
	}
	fmt.Fprintf(os.Stderr, "pretrain: %d examples (rank %d of %d), corpus %s, preset %s, masking %s\n",
		len(examples), rank, world, c.Manifest.ContentHash[:12], *preset, pol.Name)
	pc := trainer.PretrainConfig{Model: cfg, Masking: pol, Sentinels: bbpe.NumSentinels, Backend: *backend,
		Progress: os.Stderr, StopAfter: *stopAfter, Reducer: reducer, Rank: rank}
	return trainer.Pretrain(ctx, pc, trainer.NewMemorySource(examples, true, *seed), runDir)
}

// joinWorld joins the data-parallel world 'lens launch' set up through the
// environment; without one it is a world of one.
func joinWorld(ctx context.Context) (rank, world int, reducer trainer.GradientReducer, node *collective.Node, err error) {
	w := os.Getenv(envWorld)
	if w == "" {
		return 0, 1, nil, nil, nil
	}
	world, err = strconv.Atoi(w)
	if err != nil || world < 1 {
		return 0, 0, nil, nil, fmt.Errorf("%s=%q: not a world size", envWorld, w)
	}
	cfg := collective.DefaultConfig()
	cfg.NodeName = os.Getenv(envNode)
	cfg.Secret = []byte(os.Getenv(envSecret))
	if cfg.NodeName == "" || len(cfg.Secret) == 0 {
		return 0, 0, nil, nil, fmt.Errorf("%s and %s must be set for a data-parallel worker", envNode, envSecret)
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
		return 0, 0, nil, nil, err
	}
	if err = node.Join(ctx); err != nil {
		return 0, 0, nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	wd, err := node.WaitForWorld(wctx, world)
	if err != nil {
		return 0, 0, nil, nil, fmt.Errorf("waiting for %d workers: %w", world, err)
	}
	rings, err := node.NewRings(ctx, wd)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	r := rings[0]
	fmt.Fprintf(os.Stderr, "worker %s: rank %d of %d\n", cfg.NodeName, r.Rank(), r.Size())
	return r.Rank(), r.Size(), &trainer.RingReducer{Ring: r, Ctx: ctx}, node, nil
}
