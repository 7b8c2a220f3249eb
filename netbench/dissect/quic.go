package dissect

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders IETF QUIC as tshark's packet-quic.c does. tshark
// derives the Initial keys from the client's first Destination Connection
// ID, so Initial packets show their packet number and frames ("Initial,
// DCID=…, SCID=…, PKN: 0, CRYPTO, PADDING"); Handshake, 0-RTT and 1-RTT
// packets need TLS secrets tshark does not have and show only their header
// ("Handshake, DCID=…, SCID=…", "Protected Payload (KP0), DCID=…"). The
// connection tracking follows tshark's: connection IDs learnt from the
// long headers identify the connection (and the length of a short header's
// DCID) and the direction of each datagram.

type quicApp struct{}

func init() {
	// tshark tries the UDP heuristics registered last first: QUIC, then
	// GQUIC, then DNS (registered alphabetically, prepended).
	udpHeurs = append(udpHeurs, quicHeuristic, gquicHeuristic, dnsUDPHeuristic)
}

// QUIC long packet types, as tshark numbers them internally.
const (
	quicInitial   = 0
	quic0RTT      = 1
	quicHandshake = 2
	quicRetry     = 3
	quicShort     = 0xff
)

var quicLongTypeNames = [...]string{quicInitial: "Initial", quic0RTT: "0-RTT", quicHandshake: "Handshake", quicRetry: "Retry"}

func quicIsV2(v uint32) bool { return v == 0x6b3343cf || v == 0x709a50c4 }

// quicLongType maps the type bits of a long header to tshark's internal type.
func quicLongType(first byte, version uint32) int {
	t := int(first>>4) & 3
	if !quicIsV2(version) {
		return t
	}
	return [4]int{quicRetry, quicInitial, quic0RTT, quicHandshake}[t]
}

// quicDraftVersion is quic_draft_version.
func quicDraftVersion(v uint32) int {
	switch {
	case v>>8 == 0xff0000:
		return int(v & 0xff)
	case v == 0xfaceb001:
		return 22
	case v == 0xfaceb002 || v == 0xfaceb00e:
		return 27
	case v == 0x51303530 || v == 0x54303530 || v == 0x54303531:
		return 27
	case v&0x0f0f0f0f == 0x0a0a0a0a:
		return 29
	case v == 1:
		return 34
	case quicIsV2(v):
		return 100
	}
	return 0
}

func quicDraftMax(v uint32, max int) bool {
	d := quicDraftVersion(v)
	return d != 0 && d <= max
}

// quicCID is a connection ID.
type quicCID struct {
	n int
	b [20]byte
}

func (c *quicCID) bytes() []byte { return c.b[:c.n] }

func quicCIDFrom(b []byte) quicCID {
	var c quicCID
	c.n = copy(c.b[:], b)
	return c
}

// quicKeys are the packet protection keys of one direction.
type quicKeys struct {
	aead cipher.AEAD
	iv   [12]byte
	hp   cipher.Block
}

// quicConn is tshark's quic_info_data_t, reduced to what the Info column needs.
type quicConn struct {
	version       uint32
	serverDir     int // udpDatagram.dir of packets the server sends
	clientCIDs    []quicCID
	serverCIDs    []quicCID
	clientDCID    quicCID // DCID of the first client Initial
	clientDCIDSet bool
	initial       [2]*quicKeys // [0] client, [1] server
	keysDCID      quicCID      // the DCID the Initial keys were derived from
	keysSet       bool
	maxPN         [2][3]uint64 // [from server][space]
}

// quicConvState is the QUIC state of one UDP conversation: the connections
// seen on it, newest last.
type quicConvState struct {
	conns   []*quicConn
	cidLens uint32 // lengths of the connection IDs learnt (quic_cid_lengths)
	scratch []byte // header and plaintext of the Initial being decrypted
}

func (qs *quicConvState) latest() *quicConn {
	if len(qs.conns) == 0 {
		return nil
	}
	return qs.conns[len(qs.conns)-1]
}

func quicState(u *udpDatagram) *quicConvState {
	if qs, ok := u.conv.state.(*quicConvState); ok {
		return qs
	}
	qs := &quicConvState{}
	u.conv.state = qs
	return qs
}

// quicHeuristic is dissect_quic_heur.
func quicHeuristic(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 13 {
		return false
	}
	if b[0]&0x80 == 0 {
		// A short header claims the datagram only when it belongs to a
		// connection already known on this conversation.
		qs, ok := u.conv.state.(*quicConvState)
		if !ok || qs.cidLens == 0 || len(b) < 19 {
			return false
		}
		dcid := b[1:]
		if len(dcid) > 20 {
			dcid = dcid[:20]
		}
		if conn, _ := qs.findShort(u, dcid); conn == nil {
			return false
		}
	} else if quicDraftVersion(binary.BigEndian.Uint32(b[1:])) < 11 {
		return false
	}
	u.conv.app = quicApp{}
	c.quic(u)
	return true
}

func (quicApp) dissect(c *ctx, u *udpDatagram) bool {
	c.quic(u)
	return true
}

// findDCID is quic_connection_find_dcid.
func (qs *quicConvState) findDCID(u *udpDatagram, dcid []byte, lookup, short bool) (*quicConn, bool) {
	if lookup && len(dcid) > 0 && (len(dcid) > 20 || qs.cidLens&(1<<uint(len(dcid))) == 0) && short {
		// A short header's DCID of an unknown length matches nothing.
		return nil, false
	}
	if lookup && len(dcid) > 0 && len(dcid) <= 20 && qs.cidLens&(1<<uint(len(dcid))) != 0 {
		for i := len(qs.conns) - 1; i >= 0; i-- {
			conn := qs.conns[i]
			for k := range conn.clientCIDs {
				if bytes.Equal(conn.clientCIDs[k].bytes(), dcid) {
					fromServer := true
					for j := range conn.serverCIDs {
						if bytes.Equal(conn.serverCIDs[j].bytes(), dcid) {
							fromServer = u.dir == conn.serverDir
						}
					}
					return conn, fromServer
				}
			}
		}
		for i := len(qs.conns) - 1; i >= 0; i-- {
			conn := qs.conns[i]
			for k := range conn.serverCIDs {
				if bytes.Equal(conn.serverCIDs[k].bytes(), dcid) {
					return conn, false
				}
			}
		}
		return nil, false
	}
	conn := qs.latest()
	if conn == nil {
		return nil, false
	}
	return conn, u.dir == conn.serverDir
}

// quicCIDsMatch is quic_cids_has_match: a connection always has a first
// (possibly empty) CID, and an empty CID matches anything.
func quicCIDsMatch(cids []quicCID, raw []byte) bool {
	if len(cids) == 0 {
		return true
	}
	for i := range cids {
		c := cids[i].bytes()
		if len(raw) >= len(c) && bytes.Equal(raw[:len(c)], c) {
			return true
		}
	}
	return false
}

// findShort is quic_connection_find for a short header, whose DCID length
// is unknown: it returns the connection and the DCID's real length.
func (qs *quicConvState) findShort(u *udpDatagram, raw []byte) (*quicConn, bool) {
	conn, fromServer := qs.findDCID(u, raw, true, true)
	if conn != nil {
		return conn, fromServer
	}
	conn, fromServer = qs.findDCID(u, nil, false, true)
	if conn != nil {
		if (fromServer && !quicCIDsMatch(conn.serverCIDs, raw)) || (!fromServer && !quicCIDsMatch(conn.clientCIDs, raw)) {
			conn = nil
		}
	}
	for n := len(raw) - 1; conn == nil && n >= 1; n-- {
		if qs.cidLens&(1<<uint(n)) != 0 {
			conn, fromServer = qs.findDCID(u, raw[:n], true, true)
		}
	}
	return conn, fromServer
}

// quicHeader is what quic_extract_header reads of a datagram's first packet.
type quicHeader struct {
	lpt        int
	version    uint32
	dcid, scid []byte
}

func quicExtractHeader(b []byte) (h quicHeader, ok bool) {
	if len(b) < 5 {
		return h, false
	}
	h.version = binary.BigEndian.Uint32(b[1:])
	if b[0]&0x80 == 0 {
		h.lpt = quicShort
		h.version = 0
		d := b[1:]
		if len(d) > 20 {
			d = d[:20]
		}
		h.dcid = d
		return h, true
	}
	h.lpt = quicLongType(b[0], h.version)
	off := 5
	if off >= len(b) {
		return h, false
	}
	dl := int(b[off])
	off++
	if off+dl > len(b) {
		return h, false
	}
	if dl <= 20 {
		h.dcid = b[off : off+dl]
	}
	off += dl
	if off >= len(b) {
		return h, false
	}
	sl := int(b[off])
	off++
	if off+sl > len(b) {
		return h, false
	}
	if sl <= 20 {
		h.scid = b[off : off+sl]
	}
	return h, true
}

// quicFind is quic_connection_find for the datagram's first packet.
func (qs *quicConvState) find(u *udpDatagram, h *quicHeader) (*quicConn, bool) {
	if h.lpt == quicShort {
		return qs.findShort(u, h.dcid)
	}
	var conn *quicConn
	fromServer := false
	if h.lpt == quic0RTT && len(h.dcid) > 0 {
		for i := len(qs.conns) - 1; i >= 0; i-- {
			if qs.conns[i].clientDCIDSet && bytes.Equal(qs.conns[i].clientDCID.bytes(), h.dcid) {
				conn = qs.conns[i]
				break
			}
		}
		return conn, false
	}
	conn, fromServer = qs.findDCID(u, h.dcid, len(h.dcid) > 0, false)
	if h.lpt == quicInitial && conn != nil && !fromServer && len(h.dcid) > 0 &&
		!(conn.clientDCIDSet && bytes.Equal(conn.clientDCID.bytes(), h.dcid)) &&
		!quicCIDsMatch(conn.serverCIDs, h.dcid) {
		conn = nil
	}
	return conn, fromServer
}

func (qs *quicConvState) insertCID(n int) { qs.cidLens |= 1 << uint(n) }

// createOrUpdate is quic_connection_create_or_update.
func (qs *quicConvState) createOrUpdate(conn *quicConn, u *udpDatagram, h *quicHeader, fromServer bool) *quicConn {
	switch h.lpt {
	case quicInitial:
		if !fromServer {
			if conn == nil {
				conn = &quicConn{version: h.version, serverDir: 1 - u.dir}
				if len(qs.conns) >= 8 {
					copy(qs.conns, qs.conns[1:])
					qs.conns = qs.conns[:7]
				}
				qs.conns = append(qs.conns, conn)
				qs.updateInitial(conn, h)
			} else if !conn.clientDCIDSet && len(h.dcid) > 0 {
				qs.updateInitial(conn, h)
				if len(conn.serverCIDs) > 0 {
					conn.serverCIDs[0] = quicCID{}
				}
			}
			return conn
		}
		fallthrough
	case quicRetry, quicHandshake:
		if fromServer && conn != nil {
			if h.lpt == quicRetry {
				conn.clientDCID = quicCID{}
				conn.clientDCIDSet = false
			}
			if (len(conn.serverCIDs) == 0 || conn.serverCIDs[0].n == 0) && len(h.scid) > 0 {
				cid := quicCIDFrom(h.scid)
				if len(conn.serverCIDs) == 0 {
					conn.serverCIDs = append(conn.serverCIDs, cid)
				} else {
					conn.serverCIDs[0] = cid
				}
				qs.insertCID(cid.n)
			}
		}
	}
	return conn
}

func (qs *quicConvState) updateInitial(conn *quicConn, h *quicHeader) {
	if len(h.scid) > 0 {
		cid := quicCIDFrom(h.scid)
		if len(conn.clientCIDs) == 0 {
			conn.clientCIDs = append(conn.clientCIDs, cid)
		} else {
			conn.clientCIDs[0] = cid
		}
		qs.insertCID(cid.n)
	}
	if len(h.dcid) > 0 {
		conn.clientDCID = quicCIDFrom(h.dcid)
		conn.clientDCIDSet = true
	}
}

// quic renders a QUIC datagram (dissect_quic).
func (c *ctx) quic(u *udpDatagram) {
	t := c.colSet("QUIC")
	b := u.payload
	if len(b) == 0 {
		return
	}
	qs := quicState(u)
	var conn *quicConn
	var firstDCID []byte
	fromServer := false
	if h, ok := quicExtractHeader(b); ok {
		if h.lpt != quicShort {
			firstDCID = h.dcid
		}
		conn, fromServer = qs.find(u, &h)
		conn = qs.createOrUpdate(conn, u, &h, fromServer)
	}
	start := t.Begin()
	defer func() {
		if e := recover(); e != nil {
			if _, ok := e.(dnsErr); !ok {
				panic(e)
			}
			t.End(span.Message, start)
			if c.truncated {
				t.Lit("[Packet size limited during capture]")
			} else {
				t.Lit("[Malformed Packet]")
			}
		}
	}()
	off := 0
	for off < len(b) {
		pkt := quicPacketBytes(b[off:])
		first := pkt[0]
		if first&0x80 != 0 {
			r := dnsReader{b: pkt, truncated: c.truncated}
			version := binary.BigEndian.Uint32(r.need(1, 4))
			if version == 0 {
				c.colClear()
				t.Lit("Version Negotiation")
				quicLongCommon(t, &r)
				break
			}
			if quicLongType(first, version) == quicRetry {
				c.colClear()
				t.Lit("Retry")
				quicLongCommon(t, &r)
			} else {
				quicLongPacket(c, t, qs, conn, fromServer, pkt, &r)
			}
		} else {
			if off > 0 && !bytes.HasPrefix(pkt[1:], firstDCID) {
				// A packet coalesced behind another carries the same DCID;
				// anything else is padding appended to the datagram.
				break
			}
			quicShortPacket(c, t, conn, fromServer, pkt)
		}
		off += len(pkt)
	}
	t.End(span.Message, start)
}

// quicPacketBytes is quic_get_message_tvb: the first packet of b.
func quicPacketBytes(b []byte) []byte {
	first := b[0]
	if first&0x80 == 0 || len(b) < 7 {
		return b
	}
	version := binary.BigEndian.Uint32(b[1:])
	if version == 0 || quicLongType(first, version) == quicRetry {
		return b
	}
	n := 5
	n += 1 + int(b[n])
	if n >= len(b) {
		return b
	}
	n += 1 + int(b[n])
	if quicLongType(first, version) == quicInitial {
		tl, l, ok := quicVarint(b, n)
		if !ok {
			return b
		}
		n += l + int(min(tl, 1<<31))
	}
	pl, l, ok := quicVarint(b, n)
	if !ok || pl > 1<<31 {
		return b
	}
	n += l + int(pl)
	if n < len(b) {
		return b[:n]
	}
	return b
}

func quicVarint(b []byte, off int) (v uint64, n int, ok bool) {
	if off < 0 || off >= len(b) {
		return 0, 0, false
	}
	n = 1 << (b[off] >> 6)
	if off+n > len(b) {
		return 0, 0, false
	}
	v = uint64(b[off] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[off+i])
	}
	return v, n, true
}

// rvarint reads a QUIC varint as tvb_get_varint does within a dissection.
func (r *dnsReader) varint(off int) (uint64, int) {
	v, n, ok := quicVarint(r.b, off)
	if !ok {
		r.fail()
	}
	return v, n
}

// quicLongCommon is dissect_quic_long_header_common: version, DCID and
// SCID; it returns the offset after them.
func quicLongCommon(t *span.Text, r *dnsReader) int {
	off := 5
	dl := int(r.u8(off))
	dcid := r.need(off+1, dl)
	off += 1 + dl
	sl := int(r.u8(off))
	scid := r.need(off+1, sl)
	off += 1 + sl
	if dl > 0 {
		t.Lit(", DCID=")
		t.B = appendHexBytes(t.B, dcid)
	}
	if sl > 0 {
		t.Lit(", SCID=")
		t.B = appendHexBytes(t.B, scid)
	}
	return off
}

func appendHexBytes(dst, b []byte) []byte {
	for _, v := range b {
		dst = append(dst, hexDigits[v>>4], hexDigits[v&15])
	}
	return dst
}

// Initial salts (quic_derive_initial_secrets).
var (
	quicSaltDraft22 = []byte{0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd, 0x7a, 0x02, 0x64, 0x4a}
	quicSaltDraft23 = []byte{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02}
	quicSaltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}
	quicSaltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	quicSaltV2Draft = []byte{0xa7, 0x07, 0xc2, 0x03, 0xa5, 0x9b, 0x47, 0x18, 0x4a, 0x1d, 0x62, 0xca, 0x57, 0x04, 0x06, 0xea, 0x7a, 0xe3, 0xe5, 0xd3}
	quicSaltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	quicSaltQ050    = []byte{0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45}
	quicSaltT050    = []byte{0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c, 0x60, 0x48, 0x83, 0x10}
	quicSaltT051    = []byte{0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d}
)

func quicSalt(v uint32) []byte {
	switch {
	case v == 0x51303530:
		return quicSaltQ050
	case v == 0x54303530:
		return quicSaltT050
	case v == 0x54303531:
		return quicSaltT051
	case quicDraftMax(v, 22):
		return quicSaltDraft22
	case quicDraftMax(v, 28):
		return quicSaltDraft23
	case quicDraftMax(v, 32):
		return quicSaltDraft29
	case v == 0x709a50c4:
		return quicSaltV2Draft
	case v == 0x6b3343cf:
		return quicSaltV2
	}
	return quicSaltV1
}

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label with an empty context,
// for outputs of at most one SHA-256 block: HMAC(secret, info || 0x01).
// mac is an HMAC keyed with the secret; it is reset before use.
func hkdfExpandLabel(mac hash.Hash, label string, n int) []byte {
	var info [64]byte
	b := append(info[:0], byte(n>>8), byte(n), byte(6+len(label)))
	b = append(b, "tls13 "...)
	b = append(b, label...)
	b = append(b, 0, 1)
	mac.Reset()
	mac.Write(b)
	return mac.Sum(nil)[:n]
}

// quicInitialSecrets derives the raw Initial key, IV and header protection
// key of the client (side 0) and the server (side 1) from the client's
// first DCID.
func quicInitialSecrets(version uint32, dcid []byte) (key, iv, hp [2][]byte) {
	ext := hmac.New(sha256.New, quicSalt(version))
	ext.Write(dcid)
	prk := hmac.New(sha256.New, ext.Sum(nil))
	pre := "quic "
	if quicIsV2(version) {
		pre = "quicv2 "
	}
	for i, label := range [2]string{"client in", "server in"} {
		mac := hmac.New(sha256.New, hkdfExpandLabel(prk, label, 32))
		key[i] = hkdfExpandLabel(mac, pre+"key", 16)
		iv[i] = hkdfExpandLabel(mac, pre+"iv", 12)
		hp[i] = hkdfExpandLabel(mac, pre+"hp", 16)
	}
	return key, iv, hp
}

// quicInitialKeys builds the Initial ciphers of both directions.
func quicInitialKeys(version uint32, dcid []byte) [2]*quicKeys {
	key, iv, hp := quicInitialSecrets(version, dcid)
	var keys [2]*quicKeys
	for i := range keys {
		k := &quicKeys{}
		blk, _ := aes.NewCipher(key[i])
		k.aead, _ = cipher.NewGCM(blk)
		copy(k.iv[:], iv[i])
		k.hp, _ = aes.NewCipher(hp[i])
		keys[i] = k
	}
	return keys
}

// quicAdjustPN is quic_pkt_adjust_pkt_num.
func quicAdjustPN(maxPN, pn uint64, bits uint) uint64 {
	k := maxPN
	if k != ^uint64(0) {
		k++
	}
	u := k &^ (1<<bits - 1)
	a := u | pn
	b := (u + 1<<bits) | pn
	a1, b1 := a-k, b-k
	if k >= a {
		a1 = k - a
	}
	if k >= b {
		b1 = k - b
	}
	if a1 < b1 {
		return a
	}
	return b
}

func quicSpace(first byte, version uint32) int {
	if first&0x80 != 0 {
		switch quicLongType(first, version) {
		case quicInitial:
			return 0
		case quicHandshake:
			return 1
		}
	}
	return 2
}

// quicLongPacket is dissect_quic_long_header for Initial, 0-RTT and
// Handshake packets.
func quicLongPacket(c *ctx, t *span.Text, qs *quicConvState, conn *quicConn, fromServer bool, pkt []byte, r *dnsReader) {
	first := pkt[0]
	version := binary.BigEndian.Uint32(pkt[1:])
	lpt := quicLongType(first, version)

	// Header protection, as far as tshark can remove it.
	var keys *quicKeys
	var pn uint64
	pnLen := 0
	var plain byte
	if conn != nil && lpt == quicInitial {
		if h, ok := quicExtractHeader(pkt); ok && !fromServer && conn.clientDCIDSet && bytes.Equal(h.dcid, conn.clientDCID.bytes()) {
			if !conn.keysSet || !bytes.Equal(conn.keysDCID.bytes(), h.dcid) {
				conn.initial = quicInitialKeys(conn.version, h.dcid)
				conn.keysDCID, conn.keysSet = quicCIDFrom(h.dcid), true
			}
		}
		if fromServer {
			keys = conn.initial[1]
		} else {
			keys = conn.initial[0]
		}
	}
	pnOff := -1
	if keys != nil {
		if po, ok := quicPNOffset(pkt, lpt); ok && po+4+16 <= len(pkt) {
			var mask [16]byte
			keys.hp.Encrypt(mask[:], pkt[po+4:po+20])
			plain = first ^ mask[0]&0x0f
			pnLen = int(plain&3) + 1
			var pn32 uint64
			for i := 0; i < pnLen; i++ {
				pn32 = pn32<<8 | uint64(pkt[po+i]^mask[1+i])
			}
			maxPN := &conn.maxPN[b2i(fromServer)][quicSpace(plain, conn.version)]
			pn = quicAdjustPN(*maxPN, pn32, uint(8*pnLen))
			pnOff = po
		} else if ok {
			// tvb_memcpy of the sample runs past the packet.
			r.need(po+4, 16)
		}
	}

	c.colClear()
	t.Lit(quicLongTypeNames[lpt])
	off := quicLongCommon(t, r)
	if lpt == quicInitial {
		tl, n := r.varint(off)
		off += n
		if tl > 0 {
			r.need(off, int(min(tl, 1<<31)))
			off += int(tl)
		}
	}
	_, n := r.varint(off)
	off += n
	if pnOff < 0 || conn == nil {
		return
	}
	r.need(off, pnLen)
	t.Lit(", PKN: ")
	t.B = strconv.AppendUint(t.B, pn, 10)

	// Payload protection.
	hdr := append(qs.scratch[:0], pkt[:pnOff+pnLen]...)
	hdr[0] = plain
	for i := 0; i < pnLen; i++ {
		hdr[pnOff+i] = byte(pn >> (8 * uint(pnLen-1-i)))
	}
	var nonce [12]byte
	nonce = keys.iv
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(pn >> (8 * uint(7-i)))
	}
	ct := pkt[pnOff+pnLen:]
	if len(ct) < 16 {
		return
	}
	plainText, err := keys.aead.Open(hdr[len(hdr):], nonce[:], ct, hdr)
	if err != nil {
		return
	}
	qs.scratch = hdr[:0]
	if cap(plainText) > cap(qs.scratch) {
		qs.scratch = plainText[:0]
	}
	conn.maxPN[b2i(fromServer)][quicSpace(plain, conn.version)] = pn
	switch conn.version {
	case 0x51303530, 0x54303530, 0x54303531:
		quicGQUICFrames(c, t, plainText, conn.version == 0x51303530)
	default:
		quicFrames(t, plainText)
	}
}

// quicGQUICFrames renders the frames of Google QUIC versions that use IETF
// QUIC packets (Q050, T050, T051): a CRYPTO frame carries either a QUIC
// crypto handshake message, whose name replaces the Info column ("Client
// Hello"), or TLS (", CRYPTO").
func quicGQUICFrames(c *ctx, t *span.Text, p []byte, quicCrypto bool) {
	r := dnsReader{b: p}
	off := 0
	for off < len(p) {
		ft := p[off]
		switch {
		case ft == 0x00: // PADDING: the rest of the packet
			return
		case ft == 0x07: // PING
			off++
		case ft&0xc0 == 0x40: // ACK
			ll := [4]int{1, 2, 4, 6}[(ft&0x0c)>>2]
			mm := [4]int{1, 2, 4, 6}[ft&0x03]
			off += 1 + ll + 2
			nb := 0
			if ft&0x20 != 0 {
				nb = int(r.u8(off))
				off++
			}
			off += mm + nb*(1+mm)
			if nts := int(r.u8(off)); nts > 0 {
				off += 5 + (nts-1)*3
			}
			off++
		case ft == 0x08:
			off++
			_, n := r.varint(off)
			off += n
			l, n := r.varint(off)
			off += n
			data := r.need(off, int(min(l, 1<<31)))
			off += int(l)
			if !quicCrypto {
				t.Lit(", CRYPTO")
				continue
			}
			c.colClear()
			name := ""
			if len(data) >= 4 {
				name = gquicTagName(binary.BigEndian.Uint32(data))
			}
			if name == "" {
				t.Lit("Unknown")
				panic(dnsErrMalformed)
			}
			t.Lit(name)
			return
		default:
			return
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// quicPNOffset is where the packet number of a long header packet starts.
func quicPNOffset(pkt []byte, lpt int) (int, bool) {
	off := 5
	if off >= len(pkt) {
		return 0, false
	}
	off += 1 + int(pkt[off])
	if off >= len(pkt) {
		return 0, false
	}
	off += 1 + int(pkt[off])
	if lpt == quicInitial {
		tl, n, ok := quicVarint(pkt, off)
		if !ok {
			return 0, false
		}
		off += n + int(min(tl, 1<<31))
	}
	_, n, ok := quicVarint(pkt, off)
	if !ok {
		return 0, false
	}
	return off + n, true
}

// quicShortPacket is dissect_quic_short_header.
func quicShortPacket(c *ctx, t *span.Text, conn *quicConn, fromServer bool, pkt []byte) {
	dcidLen := 0
	if conn != nil {
		if fromServer {
			if len(conn.clientCIDs) > 0 {
				dcidLen = conn.clientCIDs[0].n
			}
		} else if len(conn.serverCIDs) > 0 {
			dcidLen = conn.serverCIDs[0].n
		}
	}
	c.colClear()
	if conn == nil && len(pkt) >= 21 && quicZeroToken(pkt[len(pkt)-16:]) {
		// tshark compares the last 16 bytes with the stateless reset
		// tokens it knows; without any, they are all zero.
		t.Lit("Stateless Reset")
		return
	}
	t.Lit("Protected Payload (KP0)")
	if dcidLen > 0 {
		if 1+dcidLen > len(pkt) {
			panic(dnsErrMalformed)
		}
		t.Lit(", DCID=")
		t.B = appendHexBytes(t.B, pkt[1:1+dcidLen])
	}
}

// quicFrames appends the frame names of a decrypted payload.
func quicFrames(t *span.Text, p []byte) {
	r := dnsReader{b: p}
	off := 0
	for off < len(p) {
		ft, n := r.varint(off)
		off += n
		switch {
		case ft == 0x00:
			t.Lit(", PADDING")
			for off < len(p) && p[off] == 0 {
				off++
			}
		case ft == 0x01:
			t.Lit(", PING")
		case ft == 0x02 || ft == 0x03:
			t.Lit(", ACK")
			_, n = r.varint(off) // largest acknowledged
			off += n
			_, n = r.varint(off) // delay
			off += n
			cnt, n := r.varint(off)
			off += n
			_, n = r.varint(off) // first range
			off += n
			for i := uint64(0); i < cnt; i++ {
				_, n = r.varint(off)
				off += n
				_, n = r.varint(off)
				off += n
			}
			if ft == 0x03 {
				for i := 0; i < 3; i++ {
					_, n = r.varint(off)
					off += n
				}
			}
		case ft == 0x04:
			t.Lit(", RS")
			for i := 0; i < 3; i++ {
				_, n = r.varint(off)
				off += n
			}
		case ft == 0x05:
			t.Lit(", SS")
			for i := 0; i < 2; i++ {
				_, n = r.varint(off)
				off += n
			}
		case ft == 0x06:
			t.Lit(", CRYPTO")
			_, n = r.varint(off)
			off += n
			l, n := r.varint(off)
			off += n
			r.need(off, int(min(l, 1<<31)))
			off += int(l)
		case ft == 0x07:
			t.Lit(", NT")
			l, n := r.varint(off)
			off += n
			r.need(off, int(min(l, 1<<31)))
			off += int(l)
		case ft >= 0x08 && ft <= 0x0f:
			id, n := r.varint(off)
			off += n
			t.Lit(", STREAM(")
			t.B = strconv.AppendUint(t.B, id, 10)
			t.Lit(")")
			if ft&0x04 != 0 {
				_, n = r.varint(off)
				off += n
			}
			if ft&0x02 != 0 {
				l, n := r.varint(off)
				off += n
				r.need(off, int(min(l, 1<<31)))
				off += int(l)
			} else {
				off = len(p)
			}
		case ft == 0x10:
			t.Lit(", MD")
			_, n = r.varint(off)
			off += n
		case ft == 0x11:
			t.Lit(", MSD")
			for i := 0; i < 2; i++ {
				_, n = r.varint(off)
				off += n
			}
		case ft == 0x12 || ft == 0x13:
			t.Lit(", MS")
			_, n = r.varint(off)
			off += n
		case ft == 0x14:
			t.Lit(", DB")
			_, n = r.varint(off)
			off += n
		case ft == 0x15:
			t.Lit(", SDB")
			for i := 0; i < 2; i++ {
				_, n = r.varint(off)
				off += n
			}
		case ft == 0x16 || ft == 0x17:
			t.Lit(", SB")
			_, n = r.varint(off)
			off += n
		case ft == 0x18:
			t.Lit(", NCI")
			for i := 0; i < 2; i++ {
				_, n = r.varint(off)
				off += n
			}
			l := int(r.u8(off))
			off++
			r.need(off, l+16)
			off += l + 16
		case ft == 0x19:
			t.Lit(", RC")
			_, n = r.varint(off)
			off += n
		case ft == 0x1a:
			t.Lit(", PC")
			r.need(off, 8)
			off += 8
		case ft == 0x1b:
			t.Lit(", PR")
			r.need(off, 8)
			off += 8
		case ft == 0x1c || ft == 0x1d:
			t.Lit(", CC")
			_, n = r.varint(off)
			off += n
			if ft == 0x1c {
				_, n = r.varint(off)
				off += n
			}
			l, n := r.varint(off)
			off += n
			r.need(off, int(min(l, 1<<31)))
			off += int(l)
		case ft == 0x1e:
			t.Lit(", DONE")
		case ft == 0x30 || ft == 0x31:
			t.Lit(", DG")
			if ft == 0x31 {
				l, n := r.varint(off)
				off += n
				r.need(off, int(min(l, 1<<31)))
				off += int(l)
			} else {
				off = len(p)
			}
		default:
			return
		}
	}
}

func quicZeroToken(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}
