package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/trainer"
	"github.com/lens-go/lens/trainer/masking"
)

// modelConfig is the Lens T5 configuration of this preset.
func (h *Harness) modelConfig() (trainer.Config, error) {
	cfg, err := trainer.Preset(h.preset.Model, h.tok.VocabSize())
	if err != nil {
		return cfg, err
	}
	cfg.EncLen, cfg.DecLen = h.preset.EncLen, h.preset.DecLen
	cfg.Seed = h.cfg.SynthSeed
	return cfg, nil
}

// pretrainRun pretrains the Lens model with a masking policy for steps
// optimizer steps (cached by identity; an interrupted run resumes from its
// last checkpoint) and returns the newest checkpoint.
func (h *Harness) pretrainRun(ctx context.Context, variant string, pol masking.Config, steps int) (string, error) {
	cfg, err := h.modelConfig()
	if err != nil {
		return "", err
	}
	cfg.Steps = steps
	cfg.WarmupSteps = max(1, steps/10)
	cfg.CheckpointEvery = max(10, steps/4)
	cfg.LogEvery = max(1, steps/10)
	id := struct {
		Corpus, Split, Tokenizer string
		Model                    trainer.Config
		Masking                  masking.Config
		Code, Backend            string
	}{h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash(), cfg, pol, h.cfg.CodeVersion, h.cfg.Backend}
	name := "pretrain-" + variant
	dir := filepath.Join(h.cfg.Out, name+"-"+hashOf(id))
	if ck, err := trainer.LatestCheckpoint(dir); err == nil && ck != "" {
		if st, err := trainer.ReadCheckpoint(ck); err == nil && st.Meta.Step >= steps {
			fmt.Fprintf(h.log, "[%s] %-10s cached (%s)\n", ts(), name, filepath.Base(dir))
			return ck, nil
		}
	}
	if h.examples == nil {
		ex, err := trainer.CorpusExamples(h.corpus, h.splits, netbench.SplitPretrain, h.reg, h.tok, cfg.EncLen, 0, 1)
		if err != nil {
			return "", err
		}
		if len(ex) == 0 {
			return "", errors.New("no pretraining examples fit the model's input length")
		}
		h.examples = ex
	}
	fmt.Fprintf(h.log, "[%s] %-10s running: %d steps on %d flows, %s masking\n", ts(), name, steps, len(h.examples), pol.Name)
	start := time.Now()
	pc := trainer.PretrainConfig{Model: cfg, Masking: pol, Sentinels: bbpe.NumSentinels, Backend: h.cfg.Backend, Progress: h.progress()}
	if err := trainer.Pretrain(ctx, pc, trainer.NewMemorySource(h.examples, true, cfg.Seed), dir); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(h.log, "[%s] %-10s done in %s\n", ts(), name, time.Since(start).Round(time.Second))
	return trainer.LatestCheckpoint(dir)
}

// progress is where training progress lines go.
func (h *Harness) progress() io.Writer { return prefixed{h.log, "           "} }

type prefixed struct {
	w      io.Writer
	prefix string
}

func (p prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

// tokHash names the tokenizer by the hash of its tokenizer.json.
func (h *Harness) tokHash() string {
	b, err := os.ReadFile(filepath.Join(h.tokDir, "tokenizer.json"))
	if err != nil {
		return ""
	}
	return hashOf(string(b))
}

// pretrainAccuracy is the masked-span token accuracy (teacher forced) of a
// pretrained checkpoint on held-out flows (the test split: no labels are
// used) masked with the same policy.
func (h *Harness) pretrainAccuracy(ckpt string, pol masking.Config) (float64, error) {
	cfg, err := h.modelConfig()
	if err != nil {
		return 0, err
	}
	policy, err := pol.Build(masking.Vocab{Size: cfg.VocabSize, EOS: cfg.EOSID, Sentinels: bbpe.NumSentinels})
	if err != nil {
		return 0, err
	}
	val, err := trainer.CorpusExamples(h.corpus, h.splits, netbench.SplitTest, h.reg, h.tok, cfg.EncLen, 0, 1)
	if err != nil {
		return 0, err
	}
	if len(val) > h.preset.ValFlows {
		val = val[:h.preset.ValFlows]
	}
	backend, name, err := trainer.NewBackend(h.cfg.Backend)
	if err != nil {
		return 0, err
	}
	h.backend = name
	tr, err := trainer.New(cfg, backend, name)
	if err != nil {
		return 0, err
	}
	defer tr.Close()
	if _, err := tr.LoadCheckpoint(ckpt); err != nil {
		return 0, err
	}
	var correct, total int
	for i := 0; i < len(val); i += cfg.BatchSize {
		b := trainer.Batch{Rows: cfg.BatchSize, Enc: make([]int32, cfg.BatchSize*cfg.EncLen), Targets: make([]int32, cfg.BatchSize*cfg.DecLen)}
		for row := 0; row < cfg.BatchSize && i+row < len(val); row++ {
			m, err := policy.Mask(val[i+row], rand.New(rand.NewPCG(cfg.Seed, uint64(i+row))))
			if err != nil {
				return 0, err
			}
			copy(b.Enc[row*cfg.EncLen:], m.Input[:min(len(m.Input), cfg.EncLen)])
			copy(b.Targets[row*cfg.DecLen:], m.Target[:min(len(m.Target), cfg.DecLen)])
		}
		c, n, err := tr.TokenAccuracy(b)
		if err != nil {
			return 0, err
		}
		correct += c
		total += n
	}
	if total == 0 {
		return 0, errors.New("no validation tokens")
	}
	return float64(correct) / float64(total), nil
}

// lensPretraining runs the pretraining runs the tables need: KG-MSP (the
// model every Lens cell starts from), random masking (Table 12 and the
// w/o KG-MSP ablation) and, for Table 13, the theta and k sweeps; each
// reports its validation accuracy.
func (h *Harness) lensPretraining(ctx context.Context) error {
	type run struct {
		variant string
		pol     masking.Config
		steps   int
		table13 bool
	}
	runs := []run{{"", masking.KGMSP(), h.preset.PretrainSteps, false}, {"random-masking", masking.Random(), h.preset.PretrainSteps, false}}
	if h.wants("13a") {
		for _, th := range []float64{0.3, 0.6, 0.9} {
			p := masking.KGMSP()
			if err := p.Set("theta", th); err != nil {
				return err
			}
			runs = append(runs, run{fmt.Sprintf("theta=%.2f", th), p, h.preset.SweepSteps, true})
		}
	}
	if h.wants("13b") {
		for _, k := range []float64{0.25, 0.5, 0.75} {
			p := masking.KGMSP()
			if err := p.Set("k", k); err != nil {
				return err
			}
			runs = append(runs, run{fmt.Sprintf("k=%.2f", k), p, h.preset.SweepSteps, true})
		}
	}
	for _, r := range runs {
		name := r.variant
		if name == "" {
			name = "kgmsp"
		}
		ck, err := h.pretrainRun(ctx, name, r.pol, r.steps)
		if err != nil {
			return err
		}
		if r.variant == "" {
			h.pretrained = ck
		} else if r.variant == "random-masking" {
			h.pretrainedRandom = ck
		}
		acc, err := h.pretrainAccuracy(ck, r.pol)
		if err != nil {
			return err
		}
		h.set.Put(result.Run{ID: hashOf([]any{"pretrain", name, ck}), Kind: result.KindPretrain, Method: "Lens", Variant: r.variant,
			Seed: h.cfg.SynthSeed, Metrics: result.Metrics{"AC": acc}, Prov: h.provenance(r.pol)})
		fmt.Fprintf(h.log, "           validation masked-token accuracy %.4f (%s)\n", acc, name)
	}
	return nil
}

// wants reports whether table id was asked for (all are by default).
func (h *Harness) wants(id string) bool {
	if len(h.cfg.Tables) == 0 {
		return true
	}
	for _, t := range h.cfg.Tables {
		if t == id {
			return true
		}
	}
	return false
}
