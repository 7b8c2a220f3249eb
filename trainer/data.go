package trainer

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/lens-go/lens/trainer/masking"
)

// Example is one tokenized example: ids with the field kind and field id of
// every token and the start of the context after <sep> (see masking.Example).
type Example = masking.Example

// Source yields tokenized examples in a fixed order, one pass at a time.
// Corpus readers implement it; MemorySource is the in-memory one.
type Source interface {
	// Next returns the next example of the pass, or io.EOF at its end.
	Next() (Example, error)
	// Rewind starts pass number epoch (0-based) from its beginning. A source
	// may order examples differently per pass, but the order must be a
	// function of epoch alone so that runs resume exactly.
	Rewind(epoch int) error
}

// Seeker is implemented by sources that can jump to the index-th example of
// a pass; others are fast-forwarded with Next on resume.
type Seeker interface {
	Seek(epoch, index int) error
}

// MemorySource serves examples from memory, reshuffled each pass from Seed
// when Shuffle is set.
type MemorySource struct {
	Examples []Example
	Shuffle  bool
	Seed     uint64

	order []int
	pos   int
	// ExampleAt's cached order of pass atEpoch.
	atOrder []int
	atEpoch int
}

// NewMemorySource returns a source over examples.
func NewMemorySource(examples []Example, shuffle bool, seed uint64) *MemorySource {
	s := &MemorySource{Examples: examples, Shuffle: shuffle, Seed: seed}
	_ = s.Rewind(0)
	return s
}

// Rewind implements Source.
func (s *MemorySource) Rewind(epoch int) error {
	s.order = passOrder(len(s.Examples), s.Shuffle, s.Seed, epoch)
	s.pos = 0
	return nil
}

// Seek implements Seeker.
func (s *MemorySource) Seek(epoch, index int) error {
	if err := s.Rewind(epoch); err != nil {
		return err
	}
	if index < 0 || index > len(s.order) {
		return fmt.Errorf("trainer: seek to example %d of a %d-example source", index, len(s.order))
	}
	s.pos = index
	return nil
}

// Next implements Source.
func (s *MemorySource) Next() (Example, error) {
	if s.pos >= len(s.order) {
		return Example{}, io.EOF
	}
	ex := s.Examples[s.order[s.pos]]
	s.pos++
	return ex, nil
}

// DataPosition is where the data stream stands: pass, index within the
// pass, and examples consumed since the start of the run (which also seeds
// each example's masking).
type DataPosition struct {
	Epoch    int   `json:"epoch"`
	Index    int   `json:"index"`
	Consumed int64 `json:"consumed"`
	// World is the number of data-parallel workers when the position was
	// saved (informational: a global stream position does not depend on it).
	World int `json:"world,omitempty"`
}

// Batcher masks examples from a Source and packs them into micro-batches.
type Batcher struct {
	cfg    *Config
	src    Source
	policy masking.Policy
	pos    DataPosition
	// Truncated counts examples cut to fit EncLen or DecLen.
	Truncated int64
	// Dropped counts masked runs left visible for want of sentinels.
	Dropped int64
}

// NewBatcher reads src from pos (the zero position for a new run).
func NewBatcher(cfg *Config, src Source, policy masking.Policy, pos DataPosition) (*Batcher, error) {
	b := &Batcher{cfg: cfg, src: src, policy: policy, pos: pos}
	if sk, ok := src.(Seeker); ok {
		if err := sk.Seek(pos.Epoch, pos.Index); err != nil {
			return nil, err
		}
		return b, nil
	}
	if err := src.Rewind(pos.Epoch); err != nil {
		return nil, err
	}
	for range pos.Index {
		if _, err := src.Next(); err != nil {
			return nil, fmt.Errorf("trainer: fast-forwarding the data to example %d of pass %d: %w", pos.Index, pos.Epoch, err)
		}
	}
	return b, nil
}

// Position is the position of the next example.
func (b *Batcher) Position() DataPosition { return b.pos }

func (b *Batcher) next() (Example, error) {
	for attempt := 0; attempt < 2; attempt++ {
		ex, err := b.src.Next()
		if err == nil {
			b.pos.Index++
			return ex, nil
		}
		if !errors.Is(err, io.EOF) {
			return Example{}, err
		}
		b.pos.Epoch++
		b.pos.Index = 0
		if err := b.src.Rewind(b.pos.Epoch); err != nil {
			return Example{}, err
		}
	}
	return Example{}, fmt.Errorf("trainer: data source is empty")
}

// Next returns the next micro-batch of cfg.BatchSize rows.
func (b *Batcher) Next() (Batch, error) {
	c := b.cfg
	batch := Batch{Rows: c.BatchSize, Enc: make([]int32, c.BatchSize*c.EncLen), Targets: make([]int32, c.BatchSize*c.DecLen)}
	for i := range batch.Enc {
		batch.Enc[i] = c.PadID
	}
	for i := range batch.Targets {
		batch.Targets[i] = c.PadID
	}
	for row := range c.BatchSize {
		ex, err := b.next()
		if err != nil {
			return Batch{}, err
		}
		ex, cut := fitExample(ex, c.EncLen-1)
		r := rand.New(rand.NewPCG(c.Seed, uint64(b.pos.Consumed)))
		b.pos.Consumed++
		m, err := b.policy.Mask(ex, r)
		if err != nil {
			return Batch{}, fmt.Errorf("trainer: example %d of pass %d: %w", b.pos.Index-1, b.pos.Epoch, err)
		}
		b.Dropped += int64(m.Dropped)
		if len(m.Target) > c.DecLen {
			m.Target, cut = m.Target[:c.DecLen], true
		}
		if cut {
			b.Truncated++
		}
		copy(batch.Enc[row*c.EncLen:], m.Input)
		copy(batch.Targets[row*c.DecLen:], m.Target)
	}
	return batch, nil
}

// fitExample cuts ex to at most maxTokens tokens, shortening the traffic
// before the context so that the context after <sep> survives.
func fitExample(ex Example, maxTokens int) (Example, bool) {
	n := len(ex.IDs)
	if n <= maxTokens {
		return ex, false
	}
	tail := n - ex.ContextStart // context tokens
	if ex.ContextStart < n && ex.ContextStart > 0 {
		tail++ // and <sep>
	}
	keep := maxTokens - tail
	if keep < 0 {
		return Example{IDs: ex.IDs[:maxTokens], Kinds: ex.Kinds[:maxTokens], Fields: ex.Fields[:maxTokens],
			ContextStart: min(ex.ContextStart, maxTokens)}, true
	}
	cut := func(s []int32) []int32 { return append(append([]int32(nil), s[:keep]...), s[n-tail:]...) }
	out := Example{IDs: cut(ex.IDs), Fields: cut(ex.Fields), ContextStart: ex.ContextStart - (n - maxTokens)}
	out.Kinds = append(append(out.Kinds, ex.Kinds[:keep]...), ex.Kinds[n-tail:]...)
	return out, true
}

// RandomAccess is a Source whose passes can be read at any position. Every
// pass is a permutation of the same Len examples, a function of the epoch
// alone, so that all data-parallel workers see the same global order.
type RandomAccess interface {
	Source
	// Len is the number of examples in one pass.
	Len() int
	// ExampleAt returns the example at position i of pass epoch and its
	// identity (an index into the unshuffled examples, the same in every
	// pass).
	ExampleAt(epoch, i int) (ex Example, id int, err error)
}

// Len implements RandomAccess.
func (s *MemorySource) Len() int { return len(s.Examples) }

// ExampleAt implements RandomAccess. Its order for pass epoch is the one
// Rewind(epoch) gives.
func (s *MemorySource) ExampleAt(epoch, i int) (Example, int, error) {
	if i < 0 || i >= len(s.Examples) {
		return Example{}, 0, fmt.Errorf("trainer: example %d of a %d-example source", i, len(s.Examples))
	}
	if s.atOrder == nil || s.atEpoch != epoch {
		s.atOrder, s.atEpoch = passOrder(len(s.Examples), s.Shuffle, s.Seed, epoch), epoch
	}
	id := s.atOrder[i]
	return s.Examples[id], id, nil
}

// passOrder is the order of pass epoch over n examples: the identity, or a
// permutation seeded by (seed, epoch).
func passOrder(n int, shuffle bool, seed uint64, epoch int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if shuffle {
		r := rand.New(rand.NewPCG(seed, uint64(epoch)))
		r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// GlobalBatcher cuts a RandomAccess source into the global batches of a
// data-parallel world. The data is one global stream, the passes one after
// the other; position g of the stream is example g mod Len of pass g div
// Len. An optimizer step with world workers, GradAccum micro-batches and
// BatchSize rows takes the next GradAccum*world*BatchSize positions: global
// micro-batch k is the next world*BatchSize of them, and worker r takes
// rows [r*BatchSize, (r+1)*BatchSize) of it. The union over the workers of
// a step is therefore exactly the batch a single process with batch
// world*BatchSize takes at the same stream position, every example is used
// once per pass across the world whatever the world size, and the masking
// of an example depends only on the run seed and its stream position
// (pass and index), not on which worker draws it.
type GlobalBatcher struct {
	cfg    *Config
	src    RandomAccess
	policy masking.Policy
	// Consumed is the stream position of the next step.
	Consumed int64
	// Truncated counts examples cut to fit EncLen or DecLen (this worker's).
	Truncated int64
	// Dropped counts masked runs left visible for want of sentinels.
	Dropped int64
}

// NewGlobalBatcher reads src from stream position consumed.
func NewGlobalBatcher(cfg *Config, src RandomAccess, policy masking.Policy, consumed int64) (*GlobalBatcher, error) {
	if src.Len() == 0 {
		return nil, fmt.Errorf("trainer: data source is empty")
	}
	return &GlobalBatcher{cfg: cfg, src: src, policy: policy, Consumed: consumed}, nil
}

// Position is the data position of the next step.
func (b *GlobalBatcher) Position() DataPosition {
	n := int64(b.src.Len())
	return DataPosition{Epoch: int(b.Consumed / n), Index: int(b.Consumed % n), Consumed: b.Consumed}
}

// StepBatches is one worker's share of one optimizer step.
type StepBatches struct {
	Micro []Batch
	// Tokens is the number of non-padding target tokens of each micro-batch
	// (the loss is their mean).
	Tokens []int
	// IDs are the identities of the examples, micro-batch by micro-batch,
	// with the pass each was drawn from.
	IDs, Epochs []int
	// Start is the stream position of the step's first example (all workers).
	Start int64
}

// Next returns rank's micro-batches of the next step of a world of world
// workers and advances the stream by the whole global batch.
func (b *GlobalBatcher) Next(rank, world int) (StepBatches, error) {
	c := b.cfg
	if world < 1 || rank < 0 || rank >= world {
		return StepBatches{}, fmt.Errorf("trainer: rank %d of a world of %d", rank, world)
	}
	n := int64(b.src.Len())
	out := StepBatches{Start: b.Consumed}
	for k := range c.GradAccum {
		batch := Batch{Rows: c.BatchSize, Enc: make([]int32, c.BatchSize*c.EncLen), Targets: make([]int32, c.BatchSize*c.DecLen)}
		for i := range batch.Enc {
			batch.Enc[i] = c.PadID
		}
		for i := range batch.Targets {
			batch.Targets[i] = c.PadID
		}
		tokens := 0
		for row := range c.BatchSize {
			g := b.Consumed + int64((k*world+rank)*c.BatchSize+row)
			epoch, index := int(g/n), int(g%n)
			ex, id, err := b.src.ExampleAt(epoch, index)
			if err != nil {
				return StepBatches{}, err
			}
			ex, cut := fitExample(ex, c.EncLen-1)
			m, err := b.policy.Mask(ex, rand.New(rand.NewPCG(c.Seed, uint64(g))))
			if err != nil {
				return StepBatches{}, fmt.Errorf("trainer: example %d of pass %d: %w", index, epoch, err)
			}
			b.Dropped += int64(m.Dropped)
			if len(m.Target) > c.DecLen {
				m.Target, cut = m.Target[:c.DecLen], true
			}
			if cut {
				b.Truncated++
			}
			copy(batch.Enc[row*c.EncLen:], m.Input)
			copy(batch.Targets[row*c.DecLen:], m.Target)
			for _, t := range m.Target {
				if t != c.PadID {
					tokens++
				}
			}
			out.IDs = append(out.IDs, id)
			out.Epochs = append(out.Epochs, epoch)
		}
		out.Micro = append(out.Micro, batch)
		out.Tokens = append(out.Tokens, tokens)
	}
	b.Consumed += int64(c.GradAccum * world * c.BatchSize)
	return out, nil
}
