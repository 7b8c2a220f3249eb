package dissect

import (
	"encoding/binary"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders DTLS over UDP as tshark 4.0's packet-dtls.c does without
// keys, and the DTLS that CAPWAP control carries.

type dtlsApp struct{}

// capwapDTLSApp takes the CAPWAP control datagrams whose preamble says DTLS
// follows (packet-capwap.c hands those to DTLS).
type capwapDTLSApp struct{}

func init() {
	registerUDP(dtlsApp{}, 853, 2221, 5684, 5868)
	registerUDP(capwapDTLSApp{}, 5246)
	udpHeurs = append(udpHeurs, dtlsHeuristic)
}

func (dtlsApp) dissect(c *ctx, u *udpDatagram) bool {
	dtlsSession(u).dtls(c, u.payload, u.srcPort, u.dstPort)
	return true
}

func (capwapDTLSApp) dissect(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || b[0] != 0x01 {
		return false
	}
	dtlsSession(u).dtls(c, b[4:], u.srcPort, u.dstPort)
	return true
}

// dtlsSession returns the DTLS state of the datagram's conversation.
func dtlsSession(u *udpDatagram) *tlsSession {
	if st, ok := u.conv.state.(*tlsSession); ok {
		return st
	}
	st := &tlsSession{}
	if u.conv.state == nil {
		u.conv.state = st
	}
	return st
}

// dtlsLooksLike is looks_like_dtls.
func dtlsLooksLike(b []byte) bool {
	if len(b) < 3 || !tlsValidContentType(b[0]) {
		return false
	}
	switch binary.BigEndian.Uint16(b[1:]) {
	case dtls10Version, dtls12Version, dtlsOpenSSLVersion:
		return true
	}
	return false
}

// dtlsHeuristic is dissect_dtls_heur: the datagram must be a whole number
// of DTLS records (or, when the capture cut it short, start like them).
func dtlsHeuristic(c *ctx, u *udpDatagram) bool {
	b := u.payload
	ok := false
	if !c.truncated {
		off := 0
		for off+13 <= len(b) && dtlsLooksLike(b[off:]) {
			off += int(binary.BigEndian.Uint16(b[off+11:])) + 13
			if off == len(b) {
				ok = true
				break
			}
		}
	} else {
		off := 0
		for len(b)-off >= 3 {
			if !dtlsLooksLike(b[off:]) {
				return false
			}
			off += 3
			if len(b)-off < 10 {
				break
			}
			off += int(binary.BigEndian.Uint16(b[off+8:])) + 10
		}
		ok = len(b) >= 3
	}
	if !ok {
		return false
	}
	dtlsSession(u).dtls(c, b, u.srcPort, u.dstPort)
	return true
}

// dtls is dissect_dtls.
func (st *tlsSession) dtls(c *ctx, b []byte, srcPort, dstPort uint16) {
	c.colSet("DTLS")
	st.curDstPort = dstPort
	srv := st.fromServer(c.src, srcPort, true)
	for off := 0; off < len(b); {
		rest := b[off:]
		switch st.version {
		case dtls10Version, dtlsOpenSSLVersion, dtls12Version:
			off += st.dtlsRecord(c, rest, srv)
		default:
			if dtlsLooksLike(rest) {
				off += st.dtlsRecord(c, rest, srv)
			} else {
				off = len(b)
				c.colSep(", ").Field(span.Message, "Continuation Data")
				c.setProto("DTLS")
			}
		}
	}
}

// dtlsRecord is dissect_dtls_record; it returns the record's length.
func (st *tlsSession) dtlsRecord(c *ctx, b []byte, srv int) int {
	if len(b) < 13 {
		// tshark stops with an exception here.
		return len(b)
	}
	ct := b[0]
	ver := binary.BigEndian.Uint16(b[1:])
	rl := int(binary.BigEndian.Uint16(b[11:]))
	if !tlsValidContentType(ct) {
		c.colSep(", ").Field(span.Message, "Continuation Data")
		c.setProto("DTLS")
		return 13 + rl
	}
	if st.version == 0 {
		var next byte
		if len(b) > 13 {
			next = b[13]
		}
		st.trySetVersion(ct, next, true, ver)
	}
	c.setProto(tlsVersionName(st.version, "DTLS"))
	body := b[13:]
	if len(body) > rl {
		body = body[:rl]
	}
	switch ct {
	case tlsCCS:
		c.colSep(", ").Field(span.Message, "Change Cipher Spec")
	case tlsAlert:
		t := c.colSep(", ")
		level, desc := "", ""
		if len(body) >= 2 {
			level, desc = tlsAlertLevel(body[0]), tlsAlertDesc(body[1])
		}
		if level == "" || level == "Unknown" || desc == "Unknown" {
			t.Field(span.Message, "Encrypted Alert")
			break
		}
		start := t.Begin()
		t.Lit("Alert (Level: ")
		t.Lit(level)
		t.Lit(", Description: ")
		t.Lit(desc)
		t.Lit(")")
		t.End(span.Message, start)
	case tlsHandshake:
		st.dtlsHandshake(c, body, srv)
	case tlsAppData:
		c.colSep(", ").Field(span.Message, "Application Data")
	case tlsHeartbeat:
		typ := ""
		if len(body) >= 3 {
			switch body[0] {
			case 1:
				typ = "Request"
			case 2:
				typ = "Response"
			}
			if int(binary.BigEndian.Uint16(body[1:])) > rl-16-3 {
				typ = ""
			}
		}
		if typ != "" {
			c.colSep(", ").Field(span.Message, "Heartbeat "+typ)
		} else {
			c.colSep(", ").Field(span.Message, "Encrypted Heartbeat")
		}
	}
	return 13 + rl
}

// dtlsFrag follows the reassembly of one fragmented handshake message.
type dtlsFrag struct {
	seq   uint16
	total int
	done  bool
	spans [][2]int // merged [start, end) ranges received
}

// dtlsFrags are the reassemblies in progress, per sender.
type dtlsFrags struct{ list []dtlsFrag }

// add records a fragment and reports whether the message is complete (as
// fragment_add does) and the total length known before this fragment.
func (f *dtlsFrags) add(seq uint16, off, n, total int) (complete bool, prevTotal int) {
	var r *dtlsFrag
	for i := range f.list {
		if f.list[i].seq == seq {
			r = &f.list[i]
			break
		}
	}
	if r == nil {
		if len(f.list) >= 32 {
			f.list = f.list[1:]
		}
		f.list = append(f.list, dtlsFrag{seq: seq})
		r = &f.list[len(f.list)-1]
	}
	prevTotal = r.total
	if r.done {
		if r.total == 0 {
			r.total = total
		}
		return true, prevTotal
	}
	// merge [off, off+n)
	s, e := off, off+n
	out := r.spans[:0:0]
	for _, sp := range r.spans {
		if sp[1] < s || sp[0] > e {
			out = append(out, sp)
			continue
		}
		s, e = min(s, sp[0]), max(e, sp[1])
	}
	out = append(out, [2]int{s, e})
	r.spans = out
	if prevTotal != 0 {
		for _, sp := range r.spans {
			if sp[0] == 0 && sp[1] >= prevTotal {
				r.done = true
			}
		}
	}
	if r.total == 0 {
		r.total = total
	}
	return r.done, prevTotal
}

// dtlsHandshake is dissect_dtls_handshake for a record that was not
// decrypted.
func (st *tlsSession) dtlsHandshake(c *ctx, b []byte, srv int) {
	first := true
	for off := 0; off < len(b); first = false {
		if len(b)-off < 12 {
			return
		}
		typ := b[off]
		fl := int(b[off+9])<<16 | int(b[off+10])<<8 | int(b[off+11])
		name, ok := "", false
		if off+fl <= len(b) {
			name, ok = tlsHandshakeName(typ)
		}
		if !ok && !first {
			return
		}
		if !ok {
			c.colSep(", ").Field(span.Message, "Encrypted Handshake Message")
			return
		}
		length := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		mseq := binary.BigEndian.Uint16(b[off+4:])
		fo := int(b[off+6])<<16 | int(b[off+7])<<8 | int(b[off+8])
		body := b[off+12:]
		if len(body) > fl {
			body = body[:fl]
		}
		next := off + 12 + fl
		fragmented, whole := false, true
		fragStr := ""
		switch {
		case fl+fo > length:
			if fo != 0 {
				fragmented, whole = true, false
			}
		case fo > 0 && fl == 0:
			c.colSep(", ").Field(span.Message, name)
			off = next
			continue
		case fl < length:
			fragmented, whole = true, false
			if tlsValidHandshakeType(typ, true) {
				done, prevTotal := st.dtlsFrag[srv].add(mseq, fo, fl, length)
				if done && fl+fo == prevTotal {
					fragStr = " (Reassembled)"
					whole = true
				} else {
					fragStr = " (Fragment)"
				}
			}
		}
		t := c.colSep(", ")
		start := t.Begin()
		t.Lit(name)
		t.Lit(fragStr)
		t.End(span.Message, start)
		if typ == hsServerHello && fo == 0 && len(body) >= 2 {
			st.dtlsSHVer[srv] = binary.BigEndian.Uint16(body)
		}
		if fragmented && !whole {
			off = next
			continue
		}
		switch typ {
		case hsClientHello:
			st.srvSet, st.srvAddr, st.srvPort = true, c.dst, st.curDstPort
		case hsServerHello:
			if fo == 0 && len(body) >= 2 {
				st.trySetVersion(tlsHandshake, hsServerHello, true, binary.BigEndian.Uint16(body))
			} else if st.dtlsSHVer[srv] != 0 {
				st.trySetVersion(tlsHandshake, hsServerHello, true, st.dtlsSHVer[srv])
			}
		}
		off = next
	}
}

// RDP over UDP (packet-rdpudp.c) carries TLS, or DTLS on a lossy
// connection, after its own header; tshark 4.0 hands UDP port 3389 to it.
// Only what decides the columns is parsed.

type rdpudpApp struct{}

// rdpudpConv is the per-conversation state of RDP over UDP.
type rdpudpConv struct {
	tls     tlsSession
	lossy   bool
	v2At    int // first frame of version 2 (0: none)
	scratch []byte
}

func init() {
	registerUDP(rdpudpApp{}, 3389)
}

func (rdpudpApp) dissect(c *ctx, u *udpDatagram) bool {
	rc, _ := u.conv.state.(*rdpudpConv)
	if rc == nil {
		if u.conv.state != nil {
			return false
		}
		rc = &rdpudpConv{}
		u.conv.state = rc
	}
	if rc.v2At != 0 && c.p.Number >= rc.v2At {
		rc.v2(c, u)
	} else {
		rc.v1(c, u)
	}
	return true
}

// rdpudpFlag appends one flag name to the Info column, separated by ",".
func rdpudpFlag(c *ctx, name string) { c.colSep(",").Field(span.Flags, name) }

func (rc *rdpudpConv) v1(c *ctx, u *udpDatagram) {
	b := u.payload
	c.colSet("RDPUDP")
	if len(b) < 8 {
		return
	}
	flags := binary.BigEndian.Uint16(b[6:])
	off := 8
	if flags&0x0001 != 0 { // SYN
		rc.lossy = flags&0x0200 != 0
		rdpudpFlag(c, "SYN")
		off += 8
	}
	if flags&0x0800 != 0 { // CORRELATIONID
		off += 32
		rdpudpFlag(c, "CORRELATIONID")
	}
	if flags&0x1000 != 0 { // SYNEX
		rdpudpFlag(c, "SYNEX")
		if off+2 > len(b) {
			return
		}
		sf := binary.BigEndian.Uint16(b[off:])
		off += 2
		if sf&1 != 0 {
			if off+2 > len(b) {
				return
			}
			v := binary.BigEndian.Uint16(b[off:])
			off += 2
			if v == 0x101 {
				off += 32
				if flags&0x0004 != 0 {
					rc.v2At = c.p.Number + 1
				}
			}
		}
	}
	if flags&0x0004 != 0 && flags&0x0001 == 0 { // ACK
		if off+2 > len(b) {
			return
		}
		off += 2 + int(binary.BigEndian.Uint16(b[off:]))
		rdpudpFlag(c, "ACK")
	}
	if flags&0x0010 != 0 { // FEC
		off += 10
		rdpudpFlag(c, "FEC")
	}
	if flags&0x0100 != 0 { // AOA
		off += 4
		rdpudpFlag(c, "AOA")
	}
	if flags&0x0008 != 0 { // DATA
		rdpudpFlag(c, "DATA")
		off += 8
		if off > len(b) {
			return
		}
		if rc.lossy {
			rc.tls.dtls(c, b[off:], u.srcPort, u.dstPort)
		} else {
			rc.tls.dissectPDU(c, b[off:], u.srcPort, u.dstPort)
		}
	}
}

func (rc *rdpudpConv) v2(c *ctx, u *udpDatagram) {
	b := u.payload
	c.colSet("RDPUDP2")
	if len(b) < 8 {
		return
	}
	b2 := append(rc.scratch[:0], b...)
	rc.scratch = b2
	b2[0], b2[7] = b[7], b[0]
	ptype := b2[0] >> 1 & 0xf
	flags := binary.LittleEndian.Uint16(b2[1:])
	off := 3
	if flags&0x0001 != 0 { // ACK
		if off+6 >= len(b) {
			return
		}
		off += 7 + int(b[off+6]&0xf)
		rdpudpFlag(c, "ACK")
	}
	if flags&0x0040 != 0 { // OVERHEAD
		off++
		rdpudpFlag(c, "OVERHEAD")
	}
	if flags&0x0100 != 0 { // DELAYACK
		off += 3
		rdpudpFlag(c, "DELAYACK")
	}
	if flags&0x0010 != 0 { // AOA
		off += 2
		rdpudpFlag(c, "AOA")
	}
	if flags&0x0004 != 0 { // DATA
		off += 2
		if ptype == 8 {
			rdpudpFlag(c, "DUMMY")
		} else {
			rdpudpFlag(c, "DATA")
		}
	}
	if flags&0x0008 != 0 { // ACKVEC
		if off+2 >= len(b2) {
			return
		}
		a := b2[off+2]
		off += 3 + int(a&0x7f)
		if a&0x80 != 0 {
			off += 4
		}
		rdpudpFlag(c, "ACKVEC")
	}
	if flags&0x0004 != 0 && ptype != 8 {
		off += 2
		if off > len(b2) {
			return
		}
		rc.tls.dissectPDU(c, b2[off:], u.srcPort, u.dstPort)
	}
}
