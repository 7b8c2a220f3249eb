package trainer

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/lens-go/lens/trainer/masking"
)

// sumGroup sums buffers across in-process workers (a stand-in for the ring).
type sumGroup struct {
	n                 int
	mu                sync.Mutex
	cond              *sync.Cond
	acc               []float32
	arrived, departed int
	round             int
}

func newSumGroup(n int) *sumGroup {
	g := &sumGroup{n: n}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *sumGroup) sum(buf []float32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.departed > 0 {
		g.cond.Wait()
	}
	if g.arrived == 0 {
		g.acc = make([]float32, len(buf))
	}
	for i, x := range buf {
		g.acc[i] += x
	}
	g.arrived++
	if g.arrived == g.n {
		g.arrived, g.departed = 0, g.n
		g.round++
		g.cond.Broadcast()
	} else {
		for round := g.round; g.round == round; {
			g.cond.Wait()
		}
	}
	copy(buf, g.acc)
	g.departed--
	if g.departed == 0 {
		g.cond.Broadcast()
	}
}

// groupSummer is one worker's Summer on a sumGroup.
type groupSummer struct {
	g    *sumGroup
	rank int
}

func (s *groupSummer) Sum(bufs ...[]float32) error {
	var flat []float32
	for _, b := range bufs {
		flat = append(flat, b...)
	}
	s.g.sum(flat)
	for _, b := range bufs {
		flat = flat[copy(b, flat):]
	}
	return nil
}

func (s *groupSummer) Reduce(grads [][]float32) error {
	if err := s.Sum(grads...); err != nil {
		return err
	}
	for _, g := range grads {
		for i := range g {
			g[i] /= float32(s.g.n)
		}
	}
	return nil
}
func (s *groupSummer) Rank() int { return s.rank }
func (s *groupSummer) Size() int { return s.g.n }

// TestGlobalBatcherSlicesAreTheSingleBatch: for worlds of 2 and 3, the
// workers' micro-batches of every step, stacked in rank order, are row for
// row the micro-batches of one batcher with world times the batch size
// (same examples, same masking), and the token counts add up.
func TestGlobalBatcherSlicesAreTheSingleBatch(t *testing.T) {
	pc := pretrainConfig(t)
	policy, err := pc.Masking.Build(maskingVocab(pc))
	if err != nil {
		t.Fatal(err)
	}
	src := NewMemorySource(syntheticExamples(7, 96, 10, 1), true, 5) // 7 examples: steps straddle passes
	for _, world := range []int{2, 3} {
		one := pc.Model
		one.BatchSize = world * pc.Model.BatchSize
		single, _ := NewGlobalBatcher(&one, src, policy, 0)
		workers := make([]*GlobalBatcher, world)
		for r := range workers {
			workers[r], _ = NewGlobalBatcher(&pc.Model, src, policy, 0)
		}
		for step := range 5 {
			want, err := single.Next(0, 1)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for r, w := range workers {
				got, err := w.Next(r, world)
				if err != nil {
					t.Fatal(err)
				}
				if got.Start != want.Start {
					t.Fatalf("world %d step %d rank %d: start %d, single %d", world, step, r, got.Start, want.Start)
				}
				b, e, d := pc.Model.BatchSize, pc.Model.EncLen, pc.Model.DecLen
				for k, m := range got.Micro {
					if !slices.Equal(m.Enc, want.Micro[k].Enc[r*b*e:(r+1)*b*e]) || !slices.Equal(m.Targets, want.Micro[k].Targets[r*b*d:(r+1)*b*d]) {
						t.Fatalf("world %d step %d rank %d micro %d: rows differ from the single batch's", world, step, r, k)
					}
					ids = append(ids, got.IDs[k*b:(k+1)*b]...)
				}
			}
			// Single IDs are micro by micro; regroup ours the same way.
			var regrouped []int
			b := pc.Model.BatchSize
			for k := range pc.Model.GradAccum {
				for r := range world {
					regrouped = append(regrouped, ids[(r*pc.Model.GradAccum+k)*b:(r*pc.Model.GradAccum+k+1)*b]...)
				}
			}
			if !slices.Equal(regrouped, want.IDs) {
				t.Fatalf("world %d step %d: ids %v, single %v", world, step, regrouped, want.IDs)
			}
		}
		if workers[0].Consumed != single.Consumed {
			t.Fatalf("world %d: consumed %d, single %d", world, workers[0].Consumed, single.Consumed)
		}
	}
}

func maskingVocab(pc PretrainConfig) masking.Vocab {
	return masking.Vocab{Size: pc.Model.VocabSize, EOS: pc.Model.EOSID, Sentinels: pc.Sentinels}
}

// TestBroadcastFile sends an odd-sized file from rank 1 to ranks 0 and 2.
func TestBroadcastFile(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.IntN(256))
	}
	g := newSumGroup(3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for rank := range 3 {
		path := filepath.Join(dir, string(rune('a'+rank)))
		if rank == 1 {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		wg.Go(func() { errs[rank] = broadcastFile(&groupSummer{g, rank}, rank == 1, rank != 1, path) })
	}
	wg.Wait()
	for rank := range 3 {
		if errs[rank] != nil {
			t.Fatal(errs[rank])
		}
		got, err := os.ReadFile(filepath.Join(dir, string(rune('a'+rank))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("rank %d: %d bytes (%v), want the %d sent", rank, len(got), err, len(data))
		}
	}
}

// TestDataParallelPretrainInProcess: two in-process workers with half the
// batch and two accumulation steps end where one process does (dropout
// off), also when one worker lost its newest checkpoint before resuming:
// the workers agree on the newest step, the other sends it, and both go on.
func TestDataParallelPretrainInProcess(t *testing.T) {
	pc := pretrainConfig(t)
	pc.Model.Dropout = 0
	pc.Model.Steps, pc.Model.CheckpointEvery, pc.Keep = 4, 2, 3
	examples := syntheticExamples(9, 96, 10, 1)
	single := pc
	single.Model.BatchSize *= 2
	dir := t.TempDir()
	var logs [2]bytes.Buffer
	run := func(pc PretrainConfig, stopAfter int) {
		pc.Model.Steps, pc.StopAfter = 6, stopAfter
		g := newSumGroup(2)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for r := range 2 {
			w := pc
			w.Reducer, w.Rank = &groupSummer{g, r}, r
			w.Progress = &logs[r]
			wg.Go(func() {
				errs[r] = Pretrain(context.Background(), w, NewMemorySource(examples, true, 3), filepath.Join(dir, "w", string(rune('0'+r))))
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	params := func(d string, step int) [][]float32 {
		st, err := ReadCheckpoint(filepath.Join(d, CheckpointName(step)))
		if err != nil {
			t.Fatal(err)
		}
		return st.Params
	}
	check := func(step int) {
		want := params(filepath.Join(dir, "single"), step)
		for r := range 2 {
			got := params(filepath.Join(dir, "w", string(rune('0'+r))), step)
			d := 0.0
			for i := range got {
				for j := range got[i] {
					d = max(d, math.Abs(float64(got[i][j]-want[i][j])))
				}
			}
			if d > 2e-5 {
				t.Fatalf("step %d worker %d: parameters differ from one process by %g", step, r, d)
			}
		}
	}
	single.Model.Steps = 6
	if err := Pretrain(context.Background(), single, NewMemorySource(examples, true, 3), filepath.Join(dir, "single")); err != nil {
		t.Fatal(err)
	}
	run(pc, 4)
	check(4)
	if err := os.Remove(filepath.Join(dir, "w", "1", CheckpointName(4))); err != nil {
		t.Fatal(err)
	}
	run(pc, 0)
	check(6)
	if !bytes.Contains(logs[1].Bytes(), []byte("1 worker(s) lack the checkpoint of step 4; rank 0 sends it")) {
		t.Fatalf("worker 1's log does not show the checkpoint transfer:\n%s", logs[1].String())
	}
}
