package collective

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// Handshake on every ring connection (dialer D, acceptor A), after which the
// connection carries frames from D to A only:
//
//	D -> A  "LRH1" nonceD[32]
//	A -> D  "LRH1" nonceA[32] HMAC(k, "acceptor" nonceD nonceA)
//	D -> A  hello[32] HMAC(k, "dialer" nonceA nonceD hello)
//	A -> D  status[1]
//
// k is derived from the shared secret. Each side proves knowledge of the
// secret on the other's fresh nonce; MACs are compared in constant time.
// hello names the ring (world fingerprint) and the dialer's and acceptor's
// ranks; status is statusOK or a refusal.
const (
	nonceSize = 32
	macSize   = sha256.Size
	helloSize = 32

	statusOK        = 0
	statusAuth      = 1
	statusNoRing    = 2
	statusDuplicate = 3
	statusBadHello  = 4
)

var handshakeMagic = [4]byte{'L', 'R', 'H', '1'}

// ErrAuth is wrapped by errors from a peer that failed to prove the secret or
// that refused ours.
var ErrAuth = errors.New("authentication failed")

// errNoRing means the acceptor has no ring endpoint waiting for this
// connection (yet); the dialer retries.
var errNoRing = errors.New("peer has no matching ring endpoint")

// ringKey derives the HMAC key for ring connections from the shared secret.
func ringKey(secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte("lens/collective/ring-hmac/v1\x00"))
	h.Write(secret)
	return h.Sum(nil)
}

// MemberlistKey derives memberlist's 32-byte AES-256 keyring key from the
// shared secret: SHA-256(secret).
func MemberlistKey(secret []byte) []byte {
	k := sha256.Sum256(secret)
	return k[:]
}

// hello identifies the ring a connection belongs to.
type hello struct {
	world    uint64 // fingerprint of the world (ranks and addresses)
	from, to uint32 // dialer's rank, acceptor's rank
	size     uint32 // ranks in the world
}

func (h *hello) put(b []byte) {
	clear(b[:helloSize])
	binary.LittleEndian.PutUint64(b[0:], h.world)
	binary.LittleEndian.PutUint32(b[8:], h.from)
	binary.LittleEndian.PutUint32(b[12:], h.to)
	binary.LittleEndian.PutUint32(b[16:], h.size)
}

func (h *hello) get(b []byte) {
	h.world = binary.LittleEndian.Uint64(b[0:])
	h.from = binary.LittleEndian.Uint32(b[8:])
	h.to = binary.LittleEndian.Uint32(b[12:])
	h.size = binary.LittleEndian.Uint32(b[16:])
}

func mac(key []byte, label string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// dialHandshake runs the dialer's side on conn (deadline set by the caller).
func dialHandshake(conn net.Conn, key []byte, h hello) error {
	peer := conn.RemoteAddr().String()
	var nd [nonceSize]byte
	if _, err := rand.Read(nd[:]); err != nil {
		return err
	}
	msg := make([]byte, 0, 4+nonceSize+helloSize+macSize)
	msg = append(append(msg, handshakeMagic[:]...), nd[:]...)
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("handshake with %s: send nonce: %w", peer, err)
	}
	var in [4 + nonceSize + macSize]byte
	if _, err := io.ReadFull(conn, in[:]); err != nil {
		return fmt.Errorf("handshake with %s: read challenge at byte 0 of %d: %w", peer, len(in), err)
	}
	if [4]byte(in[:4]) != handshakeMagic {
		return fmt.Errorf("handshake with %s: bad magic %q: %w", peer, in[:4], ErrAuth)
	}
	na := in[4 : 4+nonceSize]
	if !hmac.Equal(in[4+nonceSize:], mac(key, "acceptor", nd[:], na)) {
		return fmt.Errorf("handshake with %s: peer did not prove the shared secret: %w", peer, ErrAuth)
	}
	var hb [helloSize]byte
	h.put(hb[:])
	msg = append(append(msg[:0], hb[:]...), mac(key, "dialer", na, nd[:], hb[:])...)
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("handshake with %s: send proof: %w", peer, err)
	}
	var st [1]byte
	if _, err := io.ReadFull(conn, st[:]); err != nil {
		return fmt.Errorf("handshake with %s: read status: %w", peer, err)
	}
	switch st[0] {
	case statusOK:
		return nil
	case statusAuth:
		return fmt.Errorf("handshake with %s: peer refused our proof of the secret: %w", peer, ErrAuth)
	case statusNoRing:
		return fmt.Errorf("handshake with %s (rank %d): %w", peer, h.to, errNoRing)
	case statusDuplicate:
		return fmt.Errorf("handshake with %s (rank %d): peer already has a left neighbour for this ring", peer, h.to)
	case statusBadHello:
		return fmt.Errorf("handshake with %s (rank %d): peer refused hello (rank out of range)", peer, h.to)
	}
	return fmt.Errorf("handshake with %s: unknown status %d", peer, st[0])
}

// acceptHandshake runs the acceptor's side up to the status byte, which the
// caller sends once it knows whether a ring endpoint takes the connection.
func acceptHandshake(conn net.Conn, key []byte) (hello, error) {
	peer := conn.RemoteAddr().String()
	var h hello
	var in [4 + nonceSize]byte
	if _, err := io.ReadFull(conn, in[:]); err != nil {
		return h, fmt.Errorf("handshake from %s: read nonce: %w", peer, err)
	}
	if [4]byte(in[:4]) != handshakeMagic {
		return h, fmt.Errorf("handshake from %s: bad magic %q: %w", peer, in[:4], ErrAuth)
	}
	nd := in[4:]
	var na [nonceSize]byte
	if _, err := rand.Read(na[:]); err != nil {
		return h, err
	}
	out := make([]byte, 0, 4+nonceSize+macSize)
	out = append(append(append(out, handshakeMagic[:]...), na[:]...), mac(key, "acceptor", nd, na[:])...)
	if _, err := conn.Write(out); err != nil {
		return h, fmt.Errorf("handshake from %s: send challenge: %w", peer, err)
	}
	var proof [helloSize + macSize]byte
	if _, err := io.ReadFull(conn, proof[:]); err != nil {
		return h, fmt.Errorf("handshake from %s: read proof: %w", peer, err)
	}
	hb := proof[:helloSize]
	if !hmac.Equal(proof[helloSize:], mac(key, "dialer", na[:], nd, hb)) {
		conn.Write([]byte{statusAuth})
		return h, fmt.Errorf("handshake from %s: peer did not prove the shared secret: %w", peer, ErrAuth)
	}
	h.get(hb)
	return h, nil
}
