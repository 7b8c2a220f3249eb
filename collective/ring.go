package collective

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// Op is the reduction applied by AllReduce.
type Op int

const (
	// Sum leaves every rank with the element-wise sum over ranks.
	Sum Op = iota
	// Mean leaves every rank with the element-wise mean over ranks.
	Mean
)

func (o Op) String() string {
	switch o {
	case Sum:
		return "sum"
	case Mean:
		return "mean"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// ErrClosed is returned by AllReduce on a ring that was closed.
var ErrClosed = errors.New("collective: ring closed")

// RingSpec describes one rank's place in a world.
type RingSpec struct {
	// Rank is this endpoint's rank, 0 <= Rank < len(Addrs).
	Rank int
	// Addrs holds the transport address of every rank, in rank order.
	Addrs []string
}

// Ring is one rank's endpoint of a ring all-reduce. Its left neighbour
// (rank-1) sends to it and it sends to its right neighbour (rank+1), each on
// its own authenticated TCP connection served by a persistent sender and
// receiver goroutine. AllReduce calls must be made one at a time, by every
// rank, with buffers of equal length. After any error the ring is broken and
// every later call returns that error: build a new ring.
type Ring struct {
	cfg        Config
	rank, size int
	world      uint64
	ce         int // elements per chunk
	left       net.Conn
	right      net.Conn
	leftAddr   string
	rightAddr  string
	seq        uint64

	mu        sync.Mutex
	err       error
	broken    chan struct{}
	wg        sync.WaitGroup
	sendJob   chan job
	recvJob   chan job
	sendDone  chan struct{}
	recvd     chan recvMsg
	free      chan []float32
	ready     atomic.Int64 // send items whose data is final
	sent      atomic.Int64 // send items written to the socket
	readyWake chan struct{}
	sentWake  chan struct{}
	prefix    []int64 // receiver: index of the first send item of each step

	// sender state
	whdr   [headerSize]byte
	iovArr [2][]byte
	iov    net.Buffers
	enc    *zstd.Encoder
	shufS  []byte
	compS  []byte
	// receiver state
	rhdr  [headerSize]byte
	dec   *zstd.Decoder
	shufR []byte
	compR []byte
}

type job struct {
	buf []float32
	seq uint64
	op  Op
}

type recvMsg struct {
	step, off, cnt int
	data           []float32
}

// NewRing connects rank spec.Rank of the world spec.Addrs: it waits for its
// left neighbour's connection on t and dials its right neighbour, retrying
// until ctx ends. Every rank of the world must call NewRing with the same
// Addrs.
func (t *Transport) NewRing(ctx context.Context, spec RingSpec) (*Ring, error) {
	n := len(spec.Addrs)
	if n == 0 || spec.Rank < 0 || spec.Rank >= n {
		return nil, fmt.Errorf("collective: rank %d out of range for a world of %d", spec.Rank, n)
	}
	if !littleEndian() {
		return nil, errors.New("collective: big-endian hosts are not supported (wire format is little-endian float32)")
	}
	r := &Ring{
		cfg:    t.cfg,
		rank:   spec.Rank,
		size:   n,
		world:  Fingerprint(spec.Addrs),
		ce:     t.cfg.ChunkBytes / 4,
		broken: make(chan struct{}),
	}
	if n == 1 {
		return r, nil
	}
	ln, rn := (r.rank+n-1)%n, (r.rank+1)%n
	r.leftAddr, r.rightAddr = spec.Addrs[ln], spec.Addrs[rn]
	s, unregister := t.register(r.world, r.rank, n)
	defer unregister()

	type dialed struct {
		c   net.Conn
		err error
	}
	dc := make(chan dialed, 1)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		c, err := t.dial(dctx, r.rightAddr, hello{world: r.world, from: uint32(r.rank), to: uint32(rn), size: uint32(n)})
		dc <- dialed{c, err}
	}()
	var err error
	for err == nil && (r.left == nil || r.right == nil) {
		select {
		case c := <-s.conn:
			r.left = c
		case d := <-dc:
			dc = nil
			if d.err != nil {
				err = fmt.Errorf("collective: rank %d: connect to right neighbour rank %d at %s: %w", r.rank, rn, r.rightAddr, d.err)
			}
			r.right = d.c
		case <-ctx.Done():
			if r.left == nil {
				err = fmt.Errorf("collective: rank %d: waiting for left neighbour rank %d (%s) to connect: %w", r.rank, ln, r.leftAddr, ctx.Err())
			} else {
				err = fmt.Errorf("collective: rank %d: connecting to right neighbour rank %d (%s): %w", r.rank, rn, r.rightAddr, ctx.Err())
			}
		}
	}
	if err == nil {
		tune(r.left, t.cfg.SocketBufferBytes)
		tune(r.right, t.cfg.SocketBufferBytes)
		if w := t.cfg.WrapConn; w != nil {
			r.left, r.right = w(r.left), w(r.right)
		}
		r.start()
		return r, nil
	}
	cancel()
	if dc != nil {
		if d := <-dc; d.c != nil {
			d.c.Close()
		}
	}
	unregister()
	select {
	case c := <-s.conn:
		c.Close()
	default:
	}
	if r.left != nil {
		r.left.Close()
	}
	if r.right != nil {
		r.right.Close()
	}
	return nil, err
}

func (r *Ring) start() {
	nb := r.cfg.RecvBuffers
	r.sendJob = make(chan job, 1)
	r.recvJob = make(chan job, 1)
	r.sendDone = make(chan struct{}, 1)
	r.recvd = make(chan recvMsg, nb+64)
	r.free = make(chan []float32, nb)
	for range nb {
		r.free <- make([]float32, r.ce)
	}
	r.readyWake = make(chan struct{}, 1)
	r.sentWake = make(chan struct{}, 1)
	r.prefix = make([]int64, 2*(r.size-1)+1)
	if r.cfg.Compress {
		r.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		r.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(r.cfg.ChunkBytes)))
		r.shufS = make([]byte, r.cfg.ChunkBytes)
		r.compS = make([]byte, 0, r.cfg.MaxFrameBytes)
		r.shufR = make([]byte, 0, r.cfg.ChunkBytes)
		r.compR = make([]byte, r.cfg.MaxFrameBytes)
	}
	r.wg.Add(2)
	go r.sendLoop()
	go r.recvLoop()
}

// Rank is this endpoint's rank; Size the number of ranks in the ring.
func (r *Ring) Rank() int { return r.rank }

// Size is the number of ranks in the ring.
func (r *Ring) Size() int { return r.size }

// Err returns the error that broke the ring, or nil.
func (r *Ring) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close closes the ring's connections; a running AllReduce returns ErrClosed.
func (r *Ring) Close() error {
	r.Abort(ErrClosed)
	r.wg.Wait()
	return nil
}

// Abort breaks the ring with err: connections are closed, a running
// AllReduce returns err and later ones return it at once.
func (r *Ring) Abort(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	r.err = err
	close(r.broken)
	if r.left != nil {
		r.left.Close()
	}
	if r.right != nil {
		r.right.Close()
	}
}

// segment bounds of segment i of a buffer of l elements cut in n parts.
func segBounds(i, l, n int) (lo, hi int) {
	return int(int64(i) * int64(l) / int64(n)), int(int64(i+1) * int64(l) / int64(n))
}

func (r *Ring) mod(i int) int { return ((i % r.size) + r.size) % r.size }

// sendSeg and recvSeg are the segments sent and received at a step: steps
// 0..n-2 are the reduce-scatter, n-1..2n-3 the all-gather.
func (r *Ring) sendSeg(step int) int {
	if step < r.size-1 {
		return r.mod(r.rank - step)
	}
	return r.mod(r.rank + 1 - (step - (r.size - 1)))
}

func (r *Ring) recvSeg(step int) int {
	if step < r.size-1 {
		return r.mod(r.rank - step - 1)
	}
	return r.mod(r.rank - (step - (r.size - 1)))
}

func (r *Ring) chunks(seg, l int) int {
	lo, hi := segBounds(seg, l, r.size)
	return (hi - lo + r.ce - 1) / r.ce
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// AllReduce replaces buf, on every rank, with the element-wise reduction of
// the ranks' buffers. All ranks must call it with the same length. If ctx
// ends or any I/O fails the ring is broken and the error is returned;
// every read and write is bounded by Config.IOTimeout.
func (r *Ring) AllReduce(ctx context.Context, buf []float32, op Op) error {
	if err := r.Err(); err != nil {
		return err
	}
	if op != Sum && op != Mean {
		return fmt.Errorf("collective: rank %d: unknown op %v", r.rank, op)
	}
	n, l := r.size, len(buf)
	if n == 1 || l == 0 {
		r.seq++
		return nil
	}
	r.seq++
	j := job{buf: buf, seq: r.seq, op: op}
	r.ready.Store(int64(r.chunks(r.sendSeg(0), l)))
	r.sent.Store(0)
	r.sendJob <- j
	r.recvJob <- j
	steps := 2 * (n - 1)
	total := 0
	for s := range steps {
		total += r.chunks(r.recvSeg(s), l)
	}
	scale := 1 / float32(n)
	done := ctx.Done()
	for range total {
		select {
		case m := <-r.recvd:
			if m.step < n-1 {
				dst := buf[m.off : m.off+m.cnt]
				if m.step == n-2 && op == Mean {
					addScale(dst, m.data, scale)
				} else {
					add(dst, m.data)
				}
				r.free <- m.data[:cap(m.data)]
			}
			if m.step < steps-1 {
				r.ready.Add(1)
				wake(r.readyWake)
			}
		case <-r.broken:
			return r.Err()
		case <-done:
			r.Abort(fmt.Errorf("collective: rank %d: all-reduce call %d: %w", r.rank, r.seq, ctx.Err()))
			return r.Err()
		}
	}
	select {
	case <-r.sendDone:
		return nil
	case <-r.broken:
		return r.Err()
	case <-done:
		r.Abort(fmt.Errorf("collective: rank %d: all-reduce call %d: %w", r.rank, r.seq, ctx.Err()))
		return r.Err()
	}
}

func (r *Ring) sendLoop() {
	defer r.wg.Done()
	for {
		select {
		case j := <-r.sendJob:
			if err := r.sendCall(j); err != nil {
				r.Abort(err)
				return
			}
			r.sendDone <- struct{}{}
		case <-r.broken:
			return
		}
	}
}

func (r *Ring) recvLoop() {
	defer r.wg.Done()
	for {
		select {
		case j := <-r.recvJob:
			if err := r.recvCall(j); err != nil {
				r.Abort(err)
				return
			}
		case <-r.broken:
			return
		}
	}
}

var errBroken = errors.New("ring broken")

func (r *Ring) sendCall(j job) error {
	l := len(j.buf)
	var k int64
	for step := range 2 * (r.size - 1) {
		lo, hi := segBounds(r.sendSeg(step), l, r.size)
		for off := lo; off < hi; off += r.ce {
			cnt := min(r.ce, hi-off)
			for r.ready.Load() <= k {
				select {
				case <-r.readyWake:
				case <-r.broken:
					return errBroken
				}
			}
			if err := r.writeFrame(j, step, off, cnt); err != nil {
				return fmt.Errorf("collective: rank %d: send to rank %d (%s), call %d step %d, byte offset %d: %w",
					r.rank, r.mod(r.rank+1), r.rightAddr, j.seq, step, 4*off, err)
			}
			k++
			r.sent.Store(k)
			wake(r.sentWake)
		}
	}
	return nil
}

func (r *Ring) writeFrame(j job, step, off, cnt int) error {
	payload := f32bytes(j.buf[off : off+cnt])
	h := header{typ: frameData, step: uint32(step), seq: j.seq, offset: uint64(off), total: uint64(len(j.buf)), count: uint32(cnt)}
	if r.enc != nil {
		shuffle(r.shufS[:len(payload)], payload)
		c := r.enc.EncodeAll(r.shufS[:len(payload)], r.compS[:0])
		if len(c) < len(payload) && len(c) <= r.cfg.MaxFrameBytes {
			payload = c
			h.flags = flagCompressed
		}
		if cap(c) > cap(r.compS) {
			r.compS = c[:0]
		}
	}
	h.length = uint32(len(payload))
	h.put(r.whdr[:])
	r.right.SetWriteDeadline(time.Now().Add(r.cfg.IOTimeout))
	r.iovArr[0], r.iovArr[1] = r.whdr[:], payload
	r.iov = r.iovArr[:]
	_, err := r.iov.WriteTo(r.right)
	r.iovArr[0], r.iovArr[1] = nil, nil
	return err
}

func (r *Ring) recvCall(j job) error {
	l, n := len(j.buf), r.size
	for s := range len(r.prefix) - 1 {
		r.prefix[s+1] = r.prefix[s] + int64(r.chunks(r.sendSeg(s), l))
	}
	for step := range 2 * (n - 1) {
		lo, hi := segBounds(r.recvSeg(step), l, n)
		c := int64(0)
		for off := lo; off < hi; off, c = off+r.ce, c+1 {
			cnt := min(r.ce, hi-off)
			var dst []float32
			if step < n-1 {
				select {
				case dst = <-r.free:
				case <-r.broken:
					return errBroken
				}
				dst = dst[:cnt]
			} else {
				// The all-gather writes the caller's buffer in place: wait
				// until the reduce-scatter send of this chunk (same segment,
				// step step-(n-1)) has left, so the sender never reads it
				// while it is overwritten.
				need := r.prefix[step-(n-1)] + c + 1
				for r.sent.Load() < need {
					select {
					case <-r.sentWake:
					case <-r.broken:
						return errBroken
					}
				}
				dst = j.buf[off : off+cnt]
			}
			if err := r.readFrame(j, step, off, dst); err != nil {
				return fmt.Errorf("collective: rank %d: receive from rank %d (%s), call %d step %d, byte offset %d: %w",
					r.rank, r.mod(r.rank-1), r.leftAddr, j.seq, step, 4*off, err)
			}
			select {
			case r.recvd <- recvMsg{step: step, off: off, cnt: cnt, data: dst}:
			case <-r.broken:
				return errBroken
			}
		}
	}
	return nil
}

func (r *Ring) readFrame(j job, step, off int, dst []float32) error {
	r.left.SetReadDeadline(time.Now().Add(r.cfg.IOTimeout))
	if _, err := io.ReadFull(r.left, r.rhdr[:]); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	want := header{seq: j.seq, step: uint32(step), offset: uint64(off), total: uint64(len(j.buf)), count: uint32(len(dst))}
	var h header
	if err := h.parse(r.rhdr[:], &want, r.cfg.MaxFrameBytes); err != nil {
		return err
	}
	out := f32bytes(dst)
	if h.flags&flagCompressed == 0 {
		if _, err := io.ReadFull(r.left, out); err != nil {
			return fmt.Errorf("read payload (%d bytes): %w", len(out), err)
		}
		return nil
	}
	if r.dec == nil {
		return fmt.Errorf("%w: compressed frame but Config.Compress is off here", errMalformed)
	}
	comp := r.compR[:h.length]
	if _, err := io.ReadFull(r.left, comp); err != nil {
		return fmt.Errorf("read compressed payload (%d bytes): %w", len(comp), err)
	}
	plain, err := r.dec.DecodeAll(comp, r.shufR[:0])
	if err != nil {
		return fmt.Errorf("%w: zstd: %v", errMalformed, err)
	}
	if len(plain) != len(out) {
		return fmt.Errorf("%w: compressed payload decodes to %d bytes, want %d", errMalformed, len(plain), len(out))
	}
	if cap(plain) > cap(r.shufR) {
		r.shufR = plain[:0]
	}
	unshuffle(out, plain)
	return nil
}

// f32bytes views f as its little-endian bytes without copying.
func f32bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f))
}

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// shuffle splits 4-byte words into byte planes (all byte 0s, then all byte
// 1s, ...), which lets zstd find the redundancy in float exponents.
func shuffle(dst, src []byte) {
	n := len(src) / 4
	p0, p1, p2, p3 := dst[:n], dst[n:2*n], dst[2*n:3*n], dst[3*n:4*n]
	for i := range n {
		w := src[4*i : 4*i+4 : 4*i+4]
		p0[i], p1[i], p2[i], p3[i] = w[0], w[1], w[2], w[3]
	}
}

func unshuffle(dst, src []byte) {
	n := len(dst) / 4
	p0, p1, p2, p3 := src[:n], src[n:2*n], src[2*n:3*n], src[3*n:4*n]
	for i := range n {
		w := dst[4*i : 4*i+4 : 4*i+4]
		w[0], w[1], w[2], w[3] = p0[i], p1[i], p2[i], p3[i]
	}
}
