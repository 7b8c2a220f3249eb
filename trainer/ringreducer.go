package trainer

import (
	"context"

	"github.com/lens-go/lens/collective"
)

// Summer is a GradientReducer that can also sum vectors across the workers
// and knows the worker's place in the world. Pretrain uses it for
// token-weighted gradient averaging and to agree on checkpoints.
type Summer interface {
	GradientReducer
	// Sum replaces every buffer, in place, by its element-wise sum over the
	// workers. All workers must call it with buffers of the same lengths.
	Sum(bufs ...[]float32) error
	// Rank is this worker's rank, Size the number of workers.
	Rank() int
	Size() int
}

// RingReducer averages gradients over the workers of a collective ring: it
// packs every gradient into one buffer (reused across steps), all-reduces
// the mean, and unpacks it in place. It is a Summer. Ring may be replaced
// between calls (Pretrain does after re-forming the world).
type RingReducer struct {
	Ring *collective.Ring
	Ctx  context.Context
	buf  []float32
}

// Reduce implements GradientReducer.
func (r *RingReducer) Reduce(grads [][]float32) error { return r.allReduce(grads, collective.Mean) }

// Sum implements Summer.
func (r *RingReducer) Sum(bufs ...[]float32) error { return r.allReduce(bufs, collective.Sum) }

// Rank implements Summer.
func (r *RingReducer) Rank() int { return r.Ring.Rank() }

// Size implements Summer.
func (r *RingReducer) Size() int { return r.Ring.Size() }

func (r *RingReducer) allReduce(bufs [][]float32, op collective.Op) error {
	n := 0
	for _, g := range bufs {
		n += len(g)
	}
	if cap(r.buf) < n {
		r.buf = make([]float32, n)
	}
	r.buf = r.buf[:n]
	off := 0
	for _, g := range bufs {
		off += copy(r.buf[off:], g)
	}
	ctx := r.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if err := r.Ring.AllReduce(ctx, r.buf, op); err != nil {
		return err
	}
	off = 0
	for _, g := range bufs {
		off += copy(g, r.buf[off:off+len(g)])
	}
	return nil
}
