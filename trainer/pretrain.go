package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/lens-go/lens/trainer/masking"
)

// PretrainConfig is one pretraining run: the model and optimisation, the
// masking policy, the tokenizer facts the policy needs, and the backend.
type PretrainConfig struct {
	Model   Config
	Masking masking.Config
	// Sentinels is the number of <extra_id_i> tokens of the tokenizer.
	Sentinels int
	// Backend is passed to NewBackend ("" means $LENS_BACKEND, then auto).
	Backend string
	// Progress receives one line every Model.LogEvery steps (nil: silent).
	Progress io.Writer
	// StopAfter, when positive, ends this invocation after that many steps
	// (with a checkpoint), as an interruption would; a later call resumes.
	StopAfter int
	// Reducer and Rank are handed to the Trainer (data-parallel workers;
	// each worker's Source yields its own shard).
	Reducer GradientReducer
	Rank    int
	// Keep is how many of the newest checkpoints are kept (0 means 3).
	Keep int
}

// StepLog is one line of metrics.jsonl.
type StepLog struct {
	Step      int     `json:"step"`
	Loss      float64 `json:"loss"`
	GradNorm  float64 `json:"grad_norm"`
	LR        float64 `json:"lr"`
	TokensPS  float64 `json:"tokens_per_s"`
	ElapsedS  float64 `json:"elapsed_s"`
	Epoch     int     `json:"epoch"`
	Examples  int64   `json:"examples"`
	Backend   string  `json:"backend"`
	Truncated int64   `json:"truncated"`
}

// Pretrain trains a model on data with the configured masking policy,
// writing checkpoints (every Model.CheckpointEvery steps and at the end),
// metrics.jsonl and run.json under out. If out already holds a checkpoint,
// the run resumes from the newest one exactly where it stopped: same
// weights, optimizer state, step, data position and masking. On context
// cancellation it saves a checkpoint and returns ctx.Err().
func Pretrain(ctx context.Context, cfg PretrainConfig, data Source, out string) error {
	mc := cfg.Model
	if err := mc.Validate(); err != nil {
		return err
	}
	policy, err := cfg.Masking.Build(masking.Vocab{Size: mc.VocabSize, EOS: mc.EOSID, Sentinels: cfg.Sentinels})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	backend, backendName, err := NewBackend(cfg.Backend)
	if err != nil {
		return err
	}
	tr, err := New(mc, backend, backendName)
	if err != nil {
		return err
	}
	defer tr.Close()
	tr.Reducer, tr.Rank = cfg.Reducer, cfg.Rank
	extra, _ := json.Marshal(map[string]any{"masking": cfg.Masking, "sentinels": cfg.Sentinels})

	var pos DataPosition
	latest, err := LatestCheckpoint(out)
	if err != nil {
		return err
	}
	if latest != "" {
		meta, err := tr.LoadCheckpoint(latest)
		if err != nil {
			return err
		}
		pos = meta.Data
		// Steps logged after the checkpoint are redone: drop their lines.
		if err := truncateMetrics(filepath.Join(out, "metrics.jsonl"), meta.Step); err != nil {
			return err
		}
		logf(cfg.Progress, "resuming from %s (step %d, pass %d, example %d) on backend %s\n",
			latest, meta.Step, pos.Epoch, pos.Index, backendName)
	} else {
		run, _ := json.MarshalIndent(map[string]any{"config": tr.Cfg, "masking": cfg.Masking,
			"sentinels": cfg.Sentinels, "backend": backendName, "params": NumParams(tr.Specs)}, "", "  ")
		if err := writeAtomic(filepath.Join(out, "run.json"), append(run, '\n')); err != nil {
			return err
		}
	}
	batcher, err := NewBatcher(&tr.Cfg, data, policy, pos)
	if err != nil {
		return err
	}
	metrics, err := os.OpenFile(filepath.Join(out, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer metrics.Close()

	save := func() error {
		path := filepath.Join(out, CheckpointName(tr.Step))
		if err := tr.SaveCheckpoint(path, batcher.Position(), extra); err != nil {
			return err
		}
		return pruneCheckpoints(out, cfg.Keep)
	}
	start, startStep := time.Now(), tr.Step
	last := start
	for done := 0; tr.Step < mc.Steps; done++ {
		if cfg.StopAfter > 0 && done == cfg.StopAfter {
			return save()
		}
		if err := ctx.Err(); err != nil {
			if serr := save(); serr != nil {
				return serr
			}
			return err
		}
		micro := make([]Batch, mc.GradAccum)
		for i := range micro {
			if micro[i], err = batcher.Next(); err != nil {
				return err
			}
		}
		res, err := tr.TrainStep(micro)
		if err != nil {
			return err
		}
		now := time.Now()
		rec := StepLog{Step: res.Step, Loss: res.Loss, GradNorm: res.GradNorm, LR: res.LR,
			TokensPS: float64(mc.Tokens()) / now.Sub(last).Seconds(), ElapsedS: now.Sub(start).Seconds(),
			Epoch: batcher.Position().Epoch, Examples: batcher.Position().Consumed, Backend: backendName,
			Truncated: batcher.Truncated}
		last = now
		line, _ := json.Marshal(rec)
		if _, err := metrics.Write(append(line, '\n')); err != nil {
			return err
		}
		if mc.LogEvery > 0 && (res.Step%mc.LogEvery == 0 || res.Step == mc.Steps) {
			perStep := now.Sub(start) / time.Duration(res.Step-startStep)
			eta := perStep * time.Duration(mc.Steps-res.Step)
			logf(cfg.Progress, "step %d/%d  loss %.4f  tokens/s %.0f  lr %.3g  eta %s  backend %s\n",
				res.Step, mc.Steps, res.Loss, float64(mc.Tokens())/perStep.Seconds(), res.LR, eta.Round(time.Second), backendName)
		}
		if mc.CheckpointEvery > 0 && res.Step%mc.CheckpointEvery == 0 && res.Step < mc.Steps {
			if err := save(); err != nil {
				return err
			}
		}
	}
	return save()
}

// truncateMetrics keeps the lines of a metrics log up to step.
func truncateMetrics(path string, step int) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept []byte
	for line := range bytes.Lines(data) {
		var rec StepLog
		if json.Unmarshal(line, &rec) == nil && rec.Step <= step {
			kept = append(kept, line...)
		}
	}
	if len(kept) == len(data) {
		return nil
	}
	return writeAtomic(path, kept)
}

// pruneCheckpoints removes all but the keep newest checkpoints in dir.
func pruneCheckpoints(dir string, keep int) error {
	if keep <= 0 {
		keep = 3
	}
	names, err := filepath.Glob(filepath.Join(dir, "step-*.ckpt"))
	if err != nil {
		return err
	}
	sort.Strings(names) // zero-padded step numbers sort in step order
	for _, n := range names[:max(len(names)-keep, 0)] {
		if err := os.Remove(n); err != nil {
			return err
		}
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}
