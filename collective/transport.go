package collective

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log"
	"net"
	"strconv"
	"sync"
	"time"
)

// Transport is one process's collective TCP listener. Every ring endpoint of
// the process (one per local worker, one set per ring generation) receives
// its left neighbour's connection through it; connections are matched to
// endpoints by the world fingerprint and rank named in the authenticated
// hello.
type Transport struct {
	cfg Config
	key []byte
	ln  net.Listener
	log *log.Logger

	mu      sync.Mutex
	slots   map[slotKey]*slot
	changed chan struct{} // closed and replaced whenever slots change
	done    chan struct{}
	wg      sync.WaitGroup
}

type slotKey struct {
	world uint64
	rank  uint32
}

type slot struct {
	size  uint32
	taken bool
	conn  chan net.Conn
}

// NewTransport listens on cfg.ListenAddr.
func NewTransport(cfg *Config) (*Transport, error) {
	c := *cfg
	if err := c.check(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("collective: listen on %s: %w", c.ListenAddr, err)
	}
	t := &Transport{
		cfg:     c,
		key:     ringKey(c.Secret),
		ln:      ln,
		log:     c.logger(),
		slots:   map[slotKey]*slot{},
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr is the address peers dial to reach this transport.
func (t *Transport) Addr() string { return t.ln.Addr().String() }

// Close stops accepting connections. Rings already built keep theirs.
func (t *Transport) Close() error {
	t.mu.Lock()
	select {
	case <-t.done:
		t.mu.Unlock()
		return nil
	default:
	}
	close(t.done)
	t.mu.Unlock()
	err := t.ln.Close()
	t.wg.Wait()
	return err
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			t.log.Printf("collective: accept on %s: %v", t.Addr(), err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if err := t.serve(conn); err != nil {
				t.log.Printf("collective: refused connection: %v", err)
				conn.Close()
			}
		}()
	}
}

// serve authenticates conn and hands it to the ring endpoint it names,
// waiting up to HandshakeTimeout for that endpoint to be registered.
func (t *Transport) serve(conn net.Conn) error {
	deadline := time.Now().Add(t.cfg.HandshakeTimeout)
	conn.SetDeadline(deadline)
	h, err := acceptHandshake(conn, t.key)
	if err != nil {
		return err
	}
	k := slotKey{h.world, h.to}
	timer := time.NewTimer(time.Until(deadline) / 2)
	defer timer.Stop()
	for {
		t.mu.Lock()
		s, ok := t.slots[k]
		changed := t.changed
		if ok {
			if s.taken {
				t.mu.Unlock()
				conn.Write([]byte{statusDuplicate})
				return fmt.Errorf("from %s: rank %d already has a left neighbour", conn.RemoteAddr(), h.to)
			}
			if s.size != h.size || (h.from+1)%h.size != h.to {
				t.mu.Unlock()
				conn.Write([]byte{statusBadHello})
				return fmt.Errorf("from %s: hello from rank %d to rank %d of %d does not fit a ring of %d", conn.RemoteAddr(), h.from, h.to, h.size, s.size)
			}
			s.taken = true
			t.mu.Unlock()
			if _, err := conn.Write([]byte{statusOK}); err != nil {
				t.mu.Lock()
				s.taken = false
				t.mu.Unlock()
				return fmt.Errorf("from %s: send status: %w", conn.RemoteAddr(), err)
			}
			conn.SetDeadline(time.Time{})
			s.conn <- conn
			t.mu.Lock()
			gone := t.slots[k] != s
			t.mu.Unlock()
			if gone {
				// The endpoint gave up (its NewRing failed) meanwhile.
				select {
				case c := <-s.conn:
					c.Close()
				default:
				}
			}
			return nil
		}
		t.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			conn.Write([]byte{statusNoRing})
			conn.Close()
			return nil // the dialer retries
		case <-t.done:
			return errors.New("transport closed")
		}
	}
}

// register announces that rank of world waits for its left neighbour.
func (t *Transport) register(world uint64, rank, size int) (*slot, func()) {
	k := slotKey{world, uint32(rank)}
	s := &slot{size: uint32(size), conn: make(chan net.Conn, 1)}
	t.mu.Lock()
	t.slots[k] = s
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
	return s, func() {
		t.mu.Lock()
		if t.slots[k] == s {
			delete(t.slots, k)
		}
		t.mu.Unlock()
	}
}

// dial connects to the acceptor of rank h.to at addr, retrying refused
// connections and "no ring yet" answers until ctx ends. An authentication
// failure is returned at once.
func (t *Transport) dial(ctx context.Context, addr string, h hello) (net.Conn, error) {
	var last error
	backoff := 5 * time.Millisecond
	for {
		conn, err := t.dialOnce(ctx, addr, h)
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, ErrAuth) {
			return nil, err
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial rank %d at %s: %w (last error: %v)", h.to, addr, ctx.Err(), last)
		case <-t.done:
			return nil, fmt.Errorf("dial rank %d at %s: transport closed", h.to, addr)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func (t *Transport) dialOnce(ctx context.Context, addr string, h hello) (net.Conn, error) {
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(t.cfg.HandshakeTimeout))
	if err := dialHandshake(conn, t.key, h); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// tune sets TCP_NODELAY and socket buffer sizes.
func tune(conn net.Conn, bufBytes int) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	tc.SetNoDelay(true)
	if bufBytes > 0 {
		tc.SetReadBuffer(bufBytes)
		tc.SetWriteBuffer(bufBytes)
	}
}

// Fingerprint identifies a world: the ordered list of rank addresses.
func Fingerprint(addrs []string) uint64 {
	h := fnv.New64a()
	for i, a := range addrs {
		h.Write([]byte(strconv.Itoa(i)))
		h.Write([]byte{0})
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
