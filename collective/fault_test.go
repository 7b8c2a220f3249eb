package collective

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStrangerRefusedByRingHandshake(t *testing.T) {
	cfg := testConfig()
	tr, err := NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Rank 1 of a 2-rank world waits for rank 0 (its left neighbour).
	addrs := []string{"127.0.0.1:1", tr.Addr()}
	ringErr := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	go func() {
		_, err := tr.NewRing(ctx, RingSpec{Rank: 1, Addrs: addrs})
		ringErr <- err
	}()
	h := hello{world: Fingerprint(addrs), from: 0, to: 1, size: 2}

	// A stranger running the honest protocol with the wrong secret rejects
	// our proof (it cannot check it) and we never accept it.
	wrong := ringKey([]byte("not the secret"))
	conn, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	err = dialHandshake(conn, wrong, h)
	conn.Close()
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("stranger's handshake: got %v, want ErrAuth", err)
	}

	// A stranger that ignores our proof and sends a forged one is refused
	// with statusAuth.
	conn, err = net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	msg := append(handshakeMagic[:], make([]byte, nonceSize)...)
	conn.Write(msg)
	in := make([]byte, 4+nonceSize+macSize)
	if _, err := readFull(conn, in); err != nil {
		t.Fatal(err)
	}
	var hb [helloSize]byte
	h.put(hb[:])
	conn.Write(append(hb[:], mac(wrong, "dialer", in[4:4+nonceSize], make([]byte, nonceSize), hb[:])...))
	st := make([]byte, 1)
	if _, err := readFull(conn, st); err != nil || st[0] != statusAuth {
		t.Fatalf("forged proof: status %v (err %v), want statusAuth", st, err)
	}

	// A stranger acceptor: our dialer refuses it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		acceptHandshake(c, wrong)
	}()
	_, err = tr.dial(ctx, ln.Addr().String(), hello{size: 2, to: 1})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("dialing a stranger: got %v, want ErrAuth", err)
	}
	// The ring endpoint never got a left neighbour.
	if err := <-ringErr; err == nil {
		t.Fatal("ring formed with a stranger")
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestFrameValidation(t *testing.T) {
	want := header{typ: frameData, step: 2, seq: 7, offset: 1024, total: 4096, count: 256, length: 1024}
	good := make([]byte, headerSize)
	want.put(good)
	var h header
	if err := h.parse(good, &want, 4096); err != nil {
		t.Fatalf("valid header refused: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(h *header, b []byte)
		limit int
		msg   string
	}{
		{"bad magic", func(_ *header, b []byte) { b[0] = 'X' }, 4096, "bad magic"},
		{"unknown type", func(h *header, _ []byte) { h.typ = 9 }, 4096, "unknown type"},
		{"unknown flags", func(h *header, _ []byte) { h.flags = 0x80 }, 4096, "unknown flags"},
		{"oversized", func(h *header, _ []byte) { h.length = 1 << 30 }, 4096, "oversized payload"},
		{"wrong seq", func(h *header, _ []byte) { h.seq = 8 }, 4096, "call sequence"},
		{"wrong total", func(h *header, _ []byte) { h.total = 4097 }, 4096, "different lengths"},
		{"wrong step", func(h *header, _ []byte) { h.step = 3 }, 4096, "step 3"},
		{"wrong offset", func(h *header, _ []byte) { h.offset = 0 }, 4096, "chunk [0, +256)"},
		{"length mismatch", func(h *header, _ []byte) { h.length = 1000 }, 4096, "payload 1000 bytes for 256 float32"},
	}
	for _, c := range cases {
		hh := want
		b := make([]byte, headerSize)
		c.edit(&hh, b)
		if b[0] == 0 {
			hh.put(b)
		} else {
			good2 := make([]byte, headerSize)
			hh.put(good2)
			good2[0] = b[0]
			b = good2
		}
		err := h.parse(b, &want, c.limit)
		if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want malformed frame error containing %q", c.name, err, c.msg)
		}
	}
}

// TestMalformedFrameOnTheWire sends garbage and an oversized frame to a ring
// endpoint through an authenticated connection and checks the receiver's
// error names the peer, the rank and the byte offset.
func TestMalformedFrameOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame func() []byte
		msg   string
	}{
		{"garbage", func() []byte {
			return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
		}, "bad magic"},
		{"oversized", func() []byte {
			b := make([]byte, headerSize)
			h := header{typ: frameData, seq: 1, total: 64, count: 32, length: 1 << 31}
			h.put(b)
			return b
		}, "oversized payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tr, err := NewTransport(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			// Fake rank 0: our own listener, so rank 1's dial to it succeeds.
			fake, err := NewTransport(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			addrs := []string{fake.Addr(), tr.Addr()}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var ring *Ring
			var rerr error
			var wg sync.WaitGroup
			wg.Go(func() { ring, rerr = tr.NewRing(ctx, RingSpec{Rank: 1, Addrs: addrs}) })
			// Rank 0's half: accept rank 1's dial on the fake transport
			// and dial rank 1 as an authenticated but misbehaving sender.
			s, unregister := fake.register(Fingerprint(addrs), 0, 2)
			defer unregister()
			conn, err := fake.dial(ctx, tr.Addr(), hello{world: Fingerprint(addrs), from: 0, to: 1, size: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			in := <-s.conn
			defer in.Close()
			wg.Wait()
			if rerr != nil {
				t.Fatal(rerr)
			}
			defer ring.Close()
			conn.Write(tc.frame())
			err = ring.AllReduce(ctx, make([]float32, 64), Sum)
			if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tc.msg) ||
				!strings.Contains(err.Error(), "rank 1: receive from rank 0") || !strings.Contains(err.Error(), "byte offset") {
				t.Fatalf("got %v, want malformed frame error naming peer, rank and offset, containing %q", err, tc.msg)
			}
			t.Log(err)
		})
	}
}

// TestPeerDiesMidAllReduce kills rank 2's connections while the others are
// inside an all-reduce: they must return an error well within IOTimeout.
func TestPeerDiesMidAllReduce(t *testing.T) {
	cfg := testConfig()
	cfg.IOTimeout = 2 * time.Second
	cfg.ChunkBytes = 4096
	rings := newRings(t, 4, cfg)
	bufs := make([][]float32, 4)
	for i := range bufs {
		bufs[i] = make([]float32, 1<<20)
	}
	start := time.Now()
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 { // rank 3 never calls: it "hangs"; then it dies.
		wg.Go(func() { errs[i] = rings[i].AllReduce(context.Background(), bufs[i], Sum) })
	}
	time.Sleep(100 * time.Millisecond)
	rings[3].Close() // the process dies: its sockets close
	wg.Wait()
	el := time.Since(start)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("rank %d: all-reduce succeeded with a dead peer", i)
		}
		t.Logf("rank %d after %v: %v", i, el, err)
	}
	if el > cfg.IOTimeout+time.Second {
		t.Fatalf("took %v, want within the %v deadline", el, cfg.IOTimeout)
	}
	// Later calls fail at once.
	if err := rings[0].AllReduce(context.Background(), bufs[0], Sum); err == nil {
		t.Fatal("broken ring accepted another call")
	}
}

// TestStalledPeerHitsDeadline: a peer that stays connected but never sends
// (hung process, dead host) is caught by the read deadline.
func TestStalledPeerHitsDeadline(t *testing.T) {
	cfg := testConfig()
	cfg.IOTimeout = 500 * time.Millisecond
	rings := newRings(t, 3, cfg)
	start := time.Now()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { errs[i] = rings[i].AllReduce(context.Background(), make([]float32, 1000), Mean) })
	}
	wg.Wait()
	el := time.Since(start)
	for i, err := range errs {
		var ne net.Error
		if err == nil {
			t.Fatalf("rank %d: no error", i)
		}
		if !errors.As(err, &ne) || !ne.Timeout() {
			// A rank may instead see its neighbour's abort (EOF/reset).
			t.Logf("rank %d: %v", i, err)
		}
	}
	if el > cfg.IOTimeout+2*time.Second { // slack for a loaded machine
		t.Fatalf("stalled peer detected after %v, deadline %v", el, cfg.IOTimeout)
	}
	t.Logf("detected after %v: %v", el, errs[0])
}

func TestContextCancelStopsAllReduce(t *testing.T) {
	rings := newRings(t, 2, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := rings[0].AllReduce(ctx, make([]float32, 100), Sum) // rank 1 never joins
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context deadline", err)
	}
}
