package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lens-go/lens/collective"
)

// Elastic lets a data-parallel Pretrain survive the loss of workers. The
// Reducer must be a *RingReducer on a ring of Node. When a step's
// all-reduce fails (a neighbour's connection breaks or times out after
// collective.Config.IOTimeout, or memberlist declares a member of the ring
// failed or gone, which aborts the ring), every survivor drops the step,
// re-forms the ring from the members memberlist reports alive
// (collective.Node.Reform, new ranks), and the new world agrees on the
// checkpoint to continue from (see agreeCheckpoint); training then goes on
// from that checkpoint's global data position with the new world size.
type Elastic struct {
	Node *collective.Node
	// MinWorld is the smallest world training continues with (at least 1).
	// Below it the survivors wait up to WaitWorld for members to return,
	// then give up with an error. A MinWorld above half the original world
	// keeps both sides of a network partition from training on.
	MinWorld int
	// WaitWorld bounds the wait for MinWorld members, and each re-formation
	// (0 means 2 minutes).
	WaitWorld time.Duration
}

// commError marks a failure of the collective (as opposed to the model or
// the disk): an elastic run recovers from it.
type commError struct{ err error }

func (e *commError) Error() string { return e.err.Error() }
func (e *commError) Unwrap() error { return e.err }

// weightedStep takes one data-parallel optimizer step. The loss of a
// micro-batch is the mean over its non-padding target tokens, so the
// gradient of a combined batch is the token-weighted mean of the workers'
// gradients: every worker scales its micro-batch gradient by its share of
// that micro-batch's global token count (summed across the workers first)
// and by 1/GradAccum, and the scaled gradients are summed. The result is
// what one process computes on the combined micro-batches (TrainStep
// averages micro-batches with equal weights; so does this).
func weightedStep(tr *Trainer, s Summer, sb StepBatches, hook func(int)) (StepResult, error) {
	a := len(sb.Micro)
	totals := make([]float32, a)
	for k, n := range sb.Tokens {
		totals[k] = float32(n)
	}
	if err := s.Sum(totals); err != nil {
		return StepResult{}, &commError{fmt.Errorf("trainer: summing token counts: %w", err)}
	}
	var sum [][]float32
	var loss float64
	for k, b := range sb.Micro {
		l, grads, err := tr.Gradients(b, k)
		if err != nil {
			return StepResult{}, err
		}
		w := float32(0)
		if totals[k] > 0 {
			w = float32(sb.Tokens[k]) / totals[k] / float32(a)
		}
		loss += float64(w) * l
		if sum == nil {
			for _, g := range grads {
				for i := range g {
					g[i] *= w
				}
			}
			sum = grads
			continue
		}
		for j := range sum {
			for i, g := range grads[j] {
				sum[j][i] += w * g
			}
		}
	}
	if hook != nil {
		hook(tr.Step + 1)
	}
	lossBuf := []float32{float32(loss)}
	if err := s.Sum(append(sum, lossBuf)...); err != nil {
		return StepResult{}, &commError{fmt.Errorf("trainer: gradient reduction: %w", err)}
	}
	norm, lr, err := tr.Apply(sum)
	if err != nil {
		return StepResult{}, err
	}
	return StepResult{Step: tr.Step, Loss: float64(lossBuf[0]), GradNorm: norm, LR: lr}, nil
}

// agreeCheckpoint makes the workers of the current world continue from the
// same state. Every worker tells the others the step of its newest
// checkpoint and its generation; they take the newest step S any of them
// has (a worker whose all-reduce completed just before a failure may be
// one checkpoint ahead; its state is valid, since every worker contributed
// to that step), the lowest rank holding S sends its checkpoint file to the
// workers that lack it (a returning or new worker included) through the
// ring, and every worker loads S and its global data position. The
// generation becomes one more than the highest any worker had.
func agreeCheckpoint(ctx context.Context, cfg PretrainConfig, tr *Trainer, s Summer, out string, gb *GlobalBatcher, gen *int) error {
	world, rank := s.Size(), s.Rank()
	mine, err := latestStep(out)
	if err != nil {
		return err
	}
	v := make([]float32, 2*world)
	v[rank], v[world+rank] = float32(mine+1), float32(*gen)
	if err := s.Sum(v); err != nil {
		return &commError{fmt.Errorf("trainer: agreeing on a checkpoint: %w", err)}
	}
	steps := make([]int, world)
	best, src, newGen := -1, -1, 0
	for r := range world {
		steps[r] = int(v[r]) - 1
		if steps[r] > best {
			best, src = steps[r], r
		}
		newGen = max(newGen, int(v[world+r])+1)
	}
	if best < 0 {
		return fmt.Errorf("trainer: no worker of the world has a checkpoint")
	}
	path := filepath.Join(out, CheckpointName(best))
	lacking := 0
	for _, st := range steps {
		if st != best {
			lacking++
		}
	}
	if lacking > 0 {
		logf(cfg.Progress, "rank %d: %d worker(s) lack the checkpoint of step %d; rank %d sends it\n", rank, lacking, best, src)
		if err := broadcastFile(s, rank == src, steps[rank] != best, path); err != nil {
			return err
		}
	}
	st, err := ReadCheckpoint(path)
	if err != nil {
		return err
	}
	// A worker started with other shapes (say, another --batch) than the
	// world's must not train with it.
	if err := CheckResumeShape(out, path, st.Meta.Config, tr.Cfg); err != nil {
		return err
	}
	meta, err := tr.loadState(path, st)
	if err != nil {
		return err
	}
	gb.Consumed = meta.Data.Consumed
	if err := truncateMetrics(filepath.Join(out, "metrics.jsonl"), meta.Step); err != nil {
		return err
	}
	*gen = newGen
	tr.Rank = rank
	logf(cfg.Progress, "world of %d (generation %d): rank %d, continuing from step %d at stream position %d (pass %d, example %d)\n",
		world, newGen, rank, meta.Step, meta.Data.Consumed, gb.Position().Epoch, gb.Position().Index)
	return ctx.Err()
}

// latestStep is the step of the newest checkpoint in dir, -1 if none.
func latestStep(dir string) (int, error) {
	p, err := LatestCheckpoint(dir)
	if err != nil || p == "" {
		return -1, err
	}
	n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "step-"), ".ckpt")
	step, err := strconv.Atoi(n)
	if err != nil {
		return -1, fmt.Errorf("trainer: checkpoint name %s: %w", p, err)
	}
	if step > 1<<24 {
		return -1, fmt.Errorf("trainer: step %d too large to agree on through float32", step)
	}
	return step, nil
}

// broadcastFile sends the file at path from the worker with send set to
// the workers with recv set, through Sum (the others add zeros): first its
// length, then its bytes, 16 bits per float32 so that every value is an
// exact small integer. Receivers write it atomically; the checkpoint's own
// sha256 verifies it when loaded.
func broadcastFile(s Summer, send, recv bool, path string) error {
	var data []byte
	if send {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return err
		}
	}
	n := uint64(len(data))
	head := make([]float32, 4)
	for i := range head {
		head[i] = float32((n >> (16 * i)) & 0xffff)
	}
	if err := s.Sum(head); err != nil {
		return &commError{fmt.Errorf("trainer: sending checkpoint %s: %w", filepath.Base(path), err)}
	}
	n = 0
	for i := range head {
		n |= uint64(head[i]) << (16 * i)
	}
	if !send {
		data = make([]byte, n)
	}
	const chunk = 1 << 22 // floats per all-reduce (16 MiB of float32, 8 MiB of file)
	buf := make([]float32, 0, chunk)
	for off := 0; off < int(n); off += 2 * chunk {
		end := min(int(n), off+2*chunk)
		buf = buf[:(end-off+1)/2]
		for i := range buf {
			buf[i] = 0
			if send {
				lo := uint32(data[off+2*i])
				if off+2*i+1 < end {
					lo |= uint32(data[off+2*i+1]) << 8
				}
				buf[i] = float32(lo)
			}
		}
		if err := s.Sum(buf); err != nil {
			return &commError{fmt.Errorf("trainer: sending checkpoint %s: %w", filepath.Base(path), err)}
		}
		if recv {
			for i, f := range buf {
				u := uint32(f)
				if f < 0 || f > math.MaxUint16 || float32(u) != f {
					return fmt.Errorf("trainer: checkpoint transfer: value %v is not a 16-bit word", f)
				}
				data[off+2*i] = byte(u)
				if off+2*i+1 < end {
					data[off+2*i+1] = byte(u >> 8)
				}
			}
		}
	}
	if !recv {
		return nil
	}
	return writeAtomic(path, data)
}

// recoverWorld re-forms the ring after cause broke it, waiting for at
// least MinWorld members, and agrees on the checkpoint to continue from.
func recoverWorld(ctx context.Context, cfg PretrainConfig, tr *Trainer, out string, gb *GlobalBatcher, gen *int, cause error) (Summer, error) {
	e := cfg.Elastic
	rr, ok := cfg.Reducer.(*RingReducer)
	if !ok || e.Node == nil {
		return nil, fmt.Errorf("trainer: elastic pretraining needs a *RingReducer and a collective.Node: %w", cause)
	}
	wait := e.WaitWorld
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	logf(cfg.Progress, "step %d: %v; re-forming the world\n", tr.Step+1, cause)
	deadline := time.Now().Add(wait)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		w, rings, err := e.Node.Reform(rctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("trainer: could not re-form a world (of at least %d workers) within %s after %v: %w", max(e.MinWorld, 1), wait, cause, err)
		}
		if w.Size() < max(e.MinWorld, 1) {
			logf(cfg.Progress, "world of %d %v is below the minimum of %d; waiting for members\n", w.Size(), w.Nodes(), e.MinWorld)
			wctx, cancel := context.WithDeadline(ctx, deadline)
			_, err := e.Node.WaitForWorld(wctx, e.MinWorld)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("trainer: the world shrank to %d, below the minimum of %d: %w", w.Size(), e.MinWorld, err)
			}
			continue
		}
		rr.Ring = rings[0]
		err = agreeCheckpoint(ctx, cfg, tr, rr, out, gb, gen)
		var ce *commError
		if errors.As(err, &ce) && time.Now().Before(deadline) {
			logf(cfg.Progress, "agreeing on a checkpoint failed (%v); re-forming again\n", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		return rr, nil
	}
}
