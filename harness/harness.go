// Package harness runs the experiments behind each table of the paper and
// Figure 3: it declares which runs fill which cells, runs each once (shared
// runs serve several tables), caches every stage by a content hash of its
// inputs (data, config, code version, seed) so a rerun skips what is done
// and a killed reproduction resumes where it stopped, and collects the
// results that package reports prints.
package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lens-go/lens/baselines"
	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
	"github.com/lens-go/lens/trainer"
)

// Preset scales a whole reproduction.
type Preset struct {
	Name        string
	SynthFlows  int // flows per dataset of the synthetic NetBench
	SynthMin    int // least flows per class
	Vocab       int // tokenizer vocabulary
	Description string

	// The Lens model: trainer preset, sequence lengths, optimizer steps.
	Model          string
	EncLen, DecLen int
	PretrainSteps  int // main pretraining run (KG-MSP, random masking)
	SweepSteps     int // each Table 13 sensitivity run
	ValFlows       int // held-out flows for pretraining validation accuracy
	NetShareSteps  int // GAN training steps

	// Finetuning and the baselines.
	FinetuneEpochs    int
	MaxTrain, MaxTest int   // caps on the flows of one finetuning run (0: all)
	BaselineTasks     []int // tasks the baselines run on (nil: all twelve)
	BaselineEpochs    int
	// Tasks 6 and 8 list about 200 labels in their context: their encoder
	// input is the context plus LongTaskPackets tokens of packets, and the
	// extension scenarios cap their flows at ExtendMax.
	LongTaskPackets int
	ExtendMax       int
	// GenMaxTrain caps the training flows of a generation run (Tables 6 and
	// 7; 0: MaxTrain). One generator learns all five fields of a dataset,
	// so it trains on five examples a flow.
	GenMaxTrain int
}

// Presets are the named scales, smallest first.
var Presets = map[string]Preset{
	"micro": {Name: "micro", SynthFlows: 40, SynthMin: 2, Vocab: 1200, Description: "the test suite's end-to-end run: every stage, tiny data",
		Model: "smoke", EncLen: 96, DecLen: 24, PretrainSteps: 8, SweepSteps: 4, ValFlows: 8, NetShareSteps: 50,
		FinetuneEpochs: 1, MaxTrain: 24, MaxTest: 24, BaselineTasks: []int{1}, BaselineEpochs: 1,
		LongTaskPackets: 16, ExtendMax: 8},
	"smoke": {Name: "smoke", SynthFlows: 120, SynthMin: 3, Vocab: 2000, Description: "CI: minutes on 2 cores",
		Model: "smoke", EncLen: 128, DecLen: 32, PretrainSteps: 40, SweepSteps: 20, ValFlows: 16, NetShareSteps: 300,
		FinetuneEpochs: 3, MaxTrain: 64, MaxTest: 64, BaselineTasks: []int{1, 4, 11}, BaselineEpochs: 2,
		LongTaskPackets: 32, ExtendMax: 24},
	"tiny": {Name: "tiny", SynthFlows: 600, SynthMin: 6, Vocab: 8000, Description: "the whole report on a 2-core machine in under an hour",
		Model: "tiny", EncLen: 256, DecLen: 48, PretrainSteps: 150, SweepSteps: 30, ValFlows: 64, NetShareSteps: 1000,
		FinetuneEpochs: 3, MaxTrain: 160, MaxTest: 160, BaselineEpochs: 2,
		LongTaskPackets: 32, ExtendMax: 24, GenMaxTrain: 48},
	"small": {Name: "small", SynthFlows: 3000, SynthMin: 10, Vocab: 16000, Description: "a workstation or one GPU",
		Model: "small", EncLen: 1024, DecLen: 256, PretrainSteps: 20000, SweepSteps: 2000, ValFlows: 512, NetShareSteps: 5000,
		FinetuneEpochs: 20, BaselineEpochs: 10,
		LongTaskPackets: 512},
	"base": {Name: "base", SynthFlows: 40000, SynthMin: 20, Vocab: 32000, Description: "T5-v1.1-base and Table 17's settings (GPU servers)",
		Model: "base", EncLen: 1500, DecLen: 512, PretrainSteps: 130000, SweepSteps: 13000, ValFlows: 2048, NetShareSteps: 20000,
		FinetuneEpochs: 20, BaselineEpochs: 20,
		LongTaskPackets: 1024},
}

// Config configures a reproduction.
type Config struct {
	Out         string // output folder: stages, results.json, report.*
	Preset      string
	Seeds       int // finetuning seeds per cell (>= 1)
	Tables      []string
	DataDir     string // a corpus made by 'lens ingest'; empty means synthetic NetBench
	SynthSeed   uint64
	CodeVersion string
	Backend     string // the compute backend requested ("" = automatic)
	Log         io.Writer
	Registry    *registry.Registry
}

// Harness is one reproduction in progress.
type Harness struct {
	cfg    Config
	preset Preset
	reg    *registry.Registry
	log    io.Writer
	set    *result.Set

	corpus  *netbench.Corpus
	splits  *netbench.Splits
	tok     *bbpe.Tokenizer
	tokDir  string
	dataSrc string

	backend          string            // the backend that actually ran
	examples         []trainer.Example // pretraining examples, built once
	pretrained       string            // KG-MSP checkpoint
	pretrainedRandom string            // random-masking checkpoint

	// the baselines' pretraining, run once and shared by every task
	baselinePre     []baselines.Example
	baselinePreDone map[string]*baselines.Pretrained
}

// New checks cfg and prepares a harness.
func New(cfg Config) (*Harness, error) {
	p, ok := Presets[cfg.Preset]
	if !ok {
		var names []string
		for n := range Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown preset %q (have %s)", cfg.Preset, strings.Join(names, ", "))
	}
	if cfg.Out == "" {
		return nil, errors.New("no output folder")
	}
	if cfg.Seeds <= 0 {
		cfg.Seeds = 1
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Registry == nil {
		cfg.Registry = registry.Default()
	}
	if cfg.SynthSeed == 0 {
		cfg.SynthSeed = 1
	}
	return &Harness{cfg: cfg, preset: p, reg: cfg.Registry, log: cfg.Log, set: &result.Set{Notes: map[string]string{}}}, nil
}

// hashOf is the content hash of a stage's identity.
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // identities are plain data
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

// stage runs fn in OUT/name unless a previous run with the same identity
// finished there; a stage that was interrupted or whose identity changed is
// started again from an empty folder (stages that resume inside, like
// training, keep their own checkpoints in sub-folders named by identity).
func (h *Harness) stage(name string, identity any, fn func(dir string) error) (string, error) {
	id := hashOf(identity)
	dir := filepath.Join(h.cfg.Out, name)
	marker := filepath.Join(dir, ".done")
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == id {
		fmt.Fprintf(h.log, "[%s] %-10s cached (%s)\n", ts(), name, id)
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	fmt.Fprintf(h.log, "[%s] %-10s running (%s)\n", ts(), name, id)
	if err := fn(dir); err != nil {
		return "", fmt.Errorf("stage %s: %w", name, err)
	}
	if err := os.WriteFile(marker, []byte(id+"\n"), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(h.log, "[%s] %-10s done in %s\n", ts(), name, time.Since(start).Round(time.Millisecond))
	return dir, nil
}

func ts() string { return time.Now().Format("15:04:05") }

// Run performs every stage the requested tables need and returns the results.
func (h *Harness) Run(ctx context.Context) (*result.Set, error) {
	if err := os.MkdirAll(h.cfg.Out, 0o755); err != nil {
		return nil, err
	}
	if err := h.data(ctx); err != nil {
		return nil, err
	}
	if err := h.tokenizer(ctx); err != nil {
		return nil, err
	}
	if err := h.dataTables(); err != nil {
		return nil, err
	}
	if err := h.models(ctx); err != nil {
		return nil, err
	}
	if err := h.set.Save(filepath.Join(h.cfg.Out, "results.json")); err != nil {
		return nil, err
	}
	return h.set, nil
}

// Results returns the results gathered so far.
func (h *Harness) Results() *result.Set { return h.set }

// data makes (or opens) the corpus, its splits, and audits them.
func (h *Harness) data(ctx context.Context) error {
	if h.cfg.DataDir != "" {
		c, err := netbench.OpenCorpus(h.cfg.DataDir)
		if err != nil {
			return err
		}
		h.corpus = c
		h.dataSrc = "corpus " + h.cfg.DataDir
	} else {
		scfg := synth.Config{Seed: h.cfg.SynthSeed, Flows: h.preset.SynthFlows, MinFlows: h.preset.SynthMin}
		synthID := hashOf(scfg)
		pcaps, err := h.stage("synth", struct {
			synth.Config
			Code string
		}{scfg, h.cfg.CodeVersion}, func(dir string) error {
			c := scfg
			c.Out = dir
			sum, err := synth.Generate(ctx, h.reg, c)
			if err == nil {
				fmt.Fprintf(h.log, "           synthetic NetBench: %d captures, %d flows, %d frames\n", sum.Captures, sum.Flows, sum.Frames)
			}
			return err
		})
		if err != nil {
			return err
		}
		cdir, err := h.stage("corpus", struct {
			Synth string
			Code  string
		}{synthID, h.cfg.CodeVersion}, func(dir string) error {
			in, err := netbench.ExpandInputs([]string{pcaps})
			if err != nil {
				return err
			}
			m, err := netbench.Ingest(ctx, netbench.IngestConfig{Inputs: in, Out: dir, CodeVersion: h.cfg.CodeVersion})
			if err == nil {
				fmt.Fprintf(h.log, "           %s", m.Summary())
			}
			return err
		})
		if err != nil {
			return err
		}
		if h.corpus, err = netbench.OpenCorpus(cdir); err != nil {
			return err
		}
		h.dataSrc = fmt.Sprintf("synthetic NetBench (seed %d, %d flows/dataset)", h.cfg.SynthSeed, h.preset.SynthFlows)
	}
	s, err := netbench.LoadSplits(h.corpus, h.cfg.SynthSeed)
	if err != nil {
		if s, err = netbench.Split(h.corpus, h.reg, netbench.SplitConfig{Seed: h.cfg.SynthSeed}); err != nil {
			return err
		}
		if h.cfg.DataDir == "" {
			if err := s.Save(h.corpus.Dir); err != nil {
				return err
			}
		}
	}
	h.splits = s
	a, err := netbench.RunAudit(h.corpus, h.reg, s)
	if err != nil {
		return err
	}
	if len(a.Leaks) > 0 {
		return fmt.Errorf("the splits leak: %s", strings.Join(a.Leaks, "; "))
	}
	fmt.Fprintf(h.log, "[%s] audit      no leak (corpus %s, split %s)\n", ts(), short(h.corpus.Manifest.ContentHash), s.Hash())
	return nil
}

// tokenizer trains the BBPE tokenizer on the pretraining split.
func (h *Harness) tokenizer(ctx context.Context) error {
	id := struct {
		Corpus, Split string
		Vocab         int
		Code          string
	}{h.corpus.Manifest.ContentHash, h.splits.Hash(), h.preset.Vocab, h.cfg.CodeVersion}
	dir, err := h.stage("tokenizer", id, func(dir string) error {
		tr, err := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: h.preset.Vocab, MinFrequency: 2})
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(netbench.WritePretrainLines(h.corpus, h.splits, h.reg, pw)) }()
		if err := tr.AddReader("corpus "+short(h.corpus.Manifest.ContentHash)+" pretraining split", pr, bbpe.Lines); err != nil {
			return err
		}
		if err := tr.AddReader("registry contexts and prompts", strings.NewReader(strings.Join(netbench.RegistryText(h.reg), "\n")), bbpe.Lines); err != nil {
			return err
		}
		tok, err := tr.Train()
		if err != nil {
			return err
		}
		return tok.Save(dir)
	})
	if err != nil {
		return err
	}
	h.tokDir = dir
	h.tok, err = bbpe.Load(dir)
	return err
}

// provenance names the data and code of every run of this reproduction.
func (h *Harness) provenance(config any) result.Provenance {
	return result.Provenance{
		DataSource: h.dataSrc, Synthetic: h.cfg.DataDir == "", DataHash: h.corpus.Manifest.ContentHash,
		SplitHash: h.splits.Hash(), ConfigHash: hashOf(config), Preset: h.preset.Name,
		Backend: h.backendName(), CodeVersion: h.cfg.CodeVersion,
	}
}

// dataTables computes Tables 9 to 11 from the corpus.
func (h *Harness) dataTables() error {
	count := func(t string) int { return len(h.tok.AppendIDs(nil, []byte(t))) }
	st, err := netbench.ComputeStats(h.corpus, h.splits, count, fmt.Sprintf("the BBPE tokenizer (%d tokens)", h.tok.VocabSize()))
	if err != nil {
		return err
	}
	d := &result.Data{PacketsPerFlow: st.PacketsPerFlow, TokensPerFlow: st.TokensPerFlow, Tokenizer: st.TokenizerName,
		Shares: map[string][3]float64{}, TaskClasses: map[int]int{}, Prov: h.provenance("data")}
	for _, ds := range st.PerDataset {
		d.Shares[ds.Dataset] = [3]float64{ds.Pretrain, ds.Finetune, ds.Test}
	}
	for _, t := range h.reg.Tasks {
		d.TaskClasses[t.ID] = len(t.Labels)
	}
	h.set.Data = d
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
