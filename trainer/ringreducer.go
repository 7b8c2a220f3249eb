package trainer

import (
	"context"

	"github.com/lens-go/lens/collective"
)

// RingReducer averages gradients over the workers of a collective ring: it
// packs every gradient into one buffer (reused across steps), all-reduces
// the mean, and unpacks it in place.
type RingReducer struct {
	Ring *collective.Ring
	Ctx  context.Context
	buf  []float32
}

// Reduce implements GradientReducer.
func (r *RingReducer) Reduce(grads [][]float32) error {
	n := 0
	for _, g := range grads {
		n += len(g)
	}
	if cap(r.buf) < n {
		r.buf = make([]float32, n)
	}
	r.buf = r.buf[:n]
	off := 0
	for _, g := range grads {
		off += copy(r.buf[off:], g)
	}
	ctx := r.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if err := r.Ring.AllReduce(ctx, r.buf, collective.Mean); err != nil {
		return err
	}
	off = 0
	for _, g := range grads {
		off += copy(g, r.buf[off:off+len(g)])
	}
	return nil
}
