package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/lens-go/lens/collective"
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
	// Reducer and Rank are handed to the Trainer (data-parallel workers).
	// A Summer reducer (RingReducer) with a RandomAccess source makes every
	// worker take its slice of each global batch (see Pretrain); with any
	// other reducer each worker's Source yields its own shard.
	Reducer GradientReducer
	Rank    int
	// Keep is how many of the newest checkpoints are kept (0 means 3; a
	// data-parallel run keeps at least 2 so that a worker one checkpoint
	// ahead of another still holds the other's).
	Keep int
	// Elastic, with a RingReducer, lets the run survive lost workers.
	Elastic *Elastic
	// LogSamples writes samples.jsonl: the identity of every example each
	// step used (see SampleLog).
	LogSamples bool
	// FaultHook, when set, is called in every data-parallel step after the
	// gradients are computed and before they are reduced, with the step
	// number being taken (fault-injection tests kill the process there).
	FaultHook func(step int)
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
	// World is the number of data-parallel workers that took the step
	// (omitted for a single process).
	World int `json:"world,omitempty"`
}

// SampleLog is one line of samples.jsonl (PretrainConfig.LogSamples): the
// examples one worker used in one attempt of one step, written before the
// step's gradients are reduced. Gen numbers the world the worker was in
// (it grows by one at every re-formation), so that of several attempts at a
// step the one with the highest Gen is the one whose update was kept.
type SampleLog struct {
	Gen    int   `json:"gen"`
	Step   int   `json:"step"` // the step number after the update
	Rank   int   `json:"rank"`
	World  int   `json:"world"`
	Start  int64 `json:"start"` // stream position of the global batch
	IDs    []int `json:"ids"`
	Epochs []int `json:"epochs"`
}

// Pretrain trains a model on data with the configured masking policy,
// writing checkpoints (every Model.CheckpointEvery steps and at the end),
// metrics.jsonl and run.json under out. If out already holds a checkpoint,
// the run resumes from the newest one exactly where it stopped: same
// weights, optimizer state, step, data position and masking. A corrupt
// newest checkpoint is set aside and the run resumes from the one before
// (ResumeCheckpoint); a resume that changes the model's or the batches'
// shape is refused (CheckResumeShape); a broken or missing run.json is
// written again from the checkpoint, the broken one kept as run.json.bad.
// On context cancellation it saves a checkpoint and returns ctx.Err().
//
// When data is a RandomAccess source (MemorySource is) the examples are
// read as one global stream (see GlobalBatcher). With a Reducer that is a
// Summer (RingReducer is) the run is data-parallel over Reducer.Size()
// workers, each handed the same, whole data: worker Reducer.Rank() takes
// its slice of every global batch, the gradients are averaged weighted by
// target-token counts so that the result equals a single process on the
// combined batch, and with Elastic set the run survives the loss of
// workers (see Elastic and docs/distributed.md). With any other Reducer
// each worker's Source must yield its own shard (the older scheme).
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
	ra, global := data.(RandomAccess)
	summer, dp := cfg.Reducer.(Summer)
	if dp && !global {
		return fmt.Errorf("trainer: data-parallel pretraining with a %T reducer needs a RandomAccess source", cfg.Reducer)
	}
	if cfg.Elastic != nil && !dp {
		return fmt.Errorf("trainer: elastic pretraining needs a Summer reducer (RingReducer)")
	}
	extra, _ := json.Marshal(map[string]any{"masking": cfg.Masking, "sentinels": cfg.Sentinels})
	metricsPath := filepath.Join(out, "metrics.jsonl")

	var pos DataPosition
	latest, st, err := resumePoint(out, tr.Cfg, cfg.Progress)
	if err != nil {
		return err
	}
	if latest != "" && !dp {
		meta, err := tr.loadState(latest, st)
		if err != nil {
			return err
		}
		pos = meta.Data
		// Steps logged after the checkpoint are redone: drop their lines.
		if err := truncateMetrics(metricsPath, meta.Step); err != nil {
			return err
		}
		logf(cfg.Progress, "resuming from %s (step %d, pass %d, example %d) on backend %s\n",
			latest, meta.Step, pos.Epoch, pos.Index, backendName)
	}
	st = nil // a data-parallel run loads the checkpoint its world agrees on
	if latest == "" {
		run, err := runRecord(tr.Cfg, extra, backendName, NumParams(tr.Specs))
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(out, runRecordName), run); err != nil {
			return err
		}
	}
	// Exactly one of batcher (legacy per-worker shards) and gb (global stream).
	var batcher *Batcher
	var gb *GlobalBatcher
	position := func() DataPosition {
		if gb != nil {
			p := gb.Position()
			if dp {
				p.World = summer.Size()
			}
			return p
		}
		return batcher.Position()
	}
	if global {
		if gb, err = NewGlobalBatcher(&tr.Cfg, ra, policy, pos.Consumed); err != nil {
			return err
		}
	} else if batcher, err = NewBatcher(&tr.Cfg, data, policy, pos); err != nil {
		return err
	}
	save := func() error {
		path := filepath.Join(out, CheckpointName(tr.Step))
		if err := tr.SaveCheckpoint(path, position(), extra); err != nil {
			return err
		}
		keep := cfg.Keep
		if dp && keep == 1 {
			keep = 2
		}
		return pruneCheckpoints(out, keep)
	}
	var samples *os.File
	if cfg.LogSamples {
		if samples, err = os.OpenFile(filepath.Join(out, "samples.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return err
		}
		defer samples.Close()
	}
	// A data-parallel run starts from the checkpoint the workers agree on
	// (the newest any of them has; a fresh run first saves step 0 so that
	// there always is one).
	gen := 0
	if dp {
		if latest == "" {
			if err := save(); err != nil {
				return err
			}
		}
		if err := agreeCheckpoint(ctx, cfg, tr, summer, out, gb, &gen); err != nil {
			var ce *commError
			if cfg.Elastic == nil || !errors.As(err, &ce) || ctx.Err() != nil {
				return err
			}
			if summer, err = recoverWorld(ctx, cfg, tr, out, gb, &gen, err); err != nil {
				return err
			}
		}
	}
	metrics, err := os.OpenFile(metricsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() { metrics.Close() }()

	// recoverOrFail re-forms the world after a collective failure (and on
	// growth, cause nil); any other error ends the run.
	recoverOrFail := func(cause error) error {
		var ce *commError
		if cause != nil && (cfg.Elastic == nil || !errors.As(cause, &ce) || ctx.Err() != nil) {
			return cause
		}
		if cause == nil {
			cause = errors.New("new members are waiting to join")
		}
		var err error
		if summer, err = recoverWorld(ctx, cfg, tr, out, gb, &gen, cause); err != nil {
			return err
		}
		// Recovery rewrote metrics.jsonl (lines after the reloaded step).
		metrics.Close()
		metrics, err = os.OpenFile(metricsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		return err
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
		var res StepResult
		if gb == nil {
			micro := make([]Batch, mc.GradAccum)
			for i := range micro {
				if micro[i], err = batcher.Next(); err != nil {
					return err
				}
			}
			if res, err = tr.TrainStep(micro); err != nil {
				return err
			}
		} else {
			rank, world := 0, 1
			if dp {
				rank, world = summer.Rank(), summer.Size()
			}
			sb, err := gb.Next(rank, world)
			if err != nil {
				return err
			}
			if samples != nil {
				line, _ := json.Marshal(SampleLog{Gen: gen, Step: tr.Step + 1, Rank: rank, World: world, Start: sb.Start, IDs: sb.IDs, Epochs: sb.Epochs})
				if _, err := samples.Write(append(line, '\n')); err != nil {
					return err
				}
			}
			if !dp {
				res, err = tr.TrainStep(sb.Micro)
			} else {
				res, err = weightedStep(tr, summer, sb, cfg.FaultHook)
			}
			if err != nil {
				if err := recoverOrFail(err); err != nil {
					return err
				}
				continue
			}
		}
		now := time.Now()
		pos := position()
		rec := StepLog{Step: res.Step, Loss: res.Loss, GradNorm: res.GradNorm, LR: res.LR,
			TokensPS: float64(mc.Tokens()*max(pos.World, 1)) / now.Sub(last).Seconds(), ElapsedS: now.Sub(start).Seconds(),
			Epoch: pos.Epoch, Examples: pos.Consumed, Backend: backendName, World: pos.World}
		if gb != nil {
			rec.Truncated = gb.Truncated
		} else {
			rec.Truncated = batcher.Truncated
		}
		last = now
		line, _ := json.Marshal(rec)
		if _, err := metrics.Write(append(line, '\n')); err != nil {
			return err
		}
		if mc.LogEvery > 0 && (res.Step%mc.LogEvery == 0 || res.Step == mc.Steps) {
			perStep := now.Sub(start) / time.Duration(max(res.Step-startStep, 1))
			eta := perStep * time.Duration(mc.Steps-res.Step)
			logf(cfg.Progress, "step %d/%d  loss %.4f  tokens/s %.0f  lr %.3g  eta %s  backend %s\n",
				res.Step, mc.Steps, res.Loss, float64(mc.Tokens()*max(pos.World, 1))/perStep.Seconds(), res.LR, eta.Round(time.Second), backendName)
		}
		if mc.CheckpointEvery > 0 && res.Step%mc.CheckpointEvery == 0 && res.Step < mc.Steps {
			if err := save(); err != nil {
				return err
			}
			// New workers join at checkpoint boundaries: if any worker sees
			// more members than the world holds, all re-form (the newcomers
			// receive this checkpoint) and go on from here.
			if cfg.Elastic != nil && cfg.Elastic.Node != nil {
				grow := []float32{0}
				if collective.NewWorld(cfg.Elastic.Node.Members()).Size() > summer.Size() {
					grow[0] = 1
				}
				if err := summer.Sum(grow); err != nil {
					err = &commError{fmt.Errorf("trainer: checking for new members: %w", err)}
					if err := recoverOrFail(err); err != nil {
						return err
					}
				} else if grow[0] > 0 {
					if err := recoverOrFail(nil); err != nil {
						return err
					}
				}
			}
		}
	}
	if err := save(); err != nil {
		return err
	}
	if dp && summer.Size() > 1 {
		// Best effort: let every worker finish its last step before any of
		// them leaves the cluster (a leave aborts rings that contain it).
		_ = summer.Sum(make([]float32, 1))
	}
	return nil
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
