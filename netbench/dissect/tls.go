package dissect

import (
	"encoding/binary"
	"net/netip"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders SSL and TLS over TCP as tshark 4.0's packet-tls.c does
// without keys: one Info entry per record (or per handshake message), joined
// with ", ", and the Protocol column from the version tracked per
// conversation (the record version until a message settles it).

// Protocol versions on the wire.
const (
	sslv2Version       = 0x0002
	sslv3Version       = 0x0300
	tls10Version       = 0x0301
	tls11Version       = 0x0302
	tls12Version       = 0x0303
	tls13Version       = 0x0304
	tlcpVersion        = 0x0101
	dtls10Version      = 0xfeff
	dtls12Version      = 0xfefd
	dtls13Version      = 0xfefc
	dtlsOpenSSLVersion = 0x0100
)

// Record content types.
const (
	tlsCCS       = 20
	tlsAlert     = 21
	tlsHandshake = 22
	tlsAppData   = 23
	tlsHeartbeat = 24
	tlsCID       = 25
)

// Handshake message types used below.
const (
	hsClientHello       = 1
	hsServerHello       = 2
	hsHelloVerifyReq    = 3
	hsHelloRetryRequest = 6
)

// tlsVersionName is ssl_version_short_names, with def for versions it
// does not name.
func tlsVersionName(v uint16, def string) string {
	switch v {
	case sslv2Version:
		return "SSLv2"
	case sslv3Version:
		return "SSLv3"
	case tls10Version:
		return "TLSv1"
	case tls11Version:
		return "TLSv1.1"
	case tls12Version:
		return "TLSv1.2"
	case tls13Version:
		return "TLSv1.3"
	case dtls10Version:
		return "DTLSv1.0"
	case dtls12Version:
		return "DTLSv1.2"
	case dtlsOpenSSLVersion:
		return "DTLS 1.0 (OpenSSL pre 0.9.8f)"
	}
	return def
}

// tlsValidContentType is ssl_is_valid_content_type.
func tlsValidContentType(t byte) bool { return t >= tlsCCS && t <= tlsCID }

// tlsHandshakeName is ssl_31_handshake_type.
func tlsHandshakeName(t byte) (string, bool) {
	switch t {
	case 0:
		return "Hello Request", true
	case 1:
		return "Client Hello", true
	case 2:
		return "Server Hello", true
	case 3:
		return "Hello Verify Request", true
	case 4:
		return "New Session Ticket", true
	case 5:
		return "End of Early Data", true
	case 6:
		return "Hello Retry Request", true
	case 8:
		return "Encrypted Extensions", true
	case 11:
		return "Certificate", true
	case 12:
		return "Server Key Exchange", true
	case 13:
		return "Certificate Request", true
	case 14:
		return "Server Hello Done", true
	case 15:
		return "Certificate Verify", true
	case 16:
		return "Client Key Exchange", true
	case 20:
		return "Finished", true
	case 21:
		return "Client Certificate URL", true
	case 22:
		return "Certificate Status", true
	case 23:
		return "Supplemental Data", true
	case 24:
		return "Key Update", true
	case 25:
		return "Compressed Certificate", true
	case 67:
		return "Encrypted Extensions", true
	}
	return "", false
}

// tlsValidHandshakeType is ssl_is_valid_handshake_type.
func tlsValidHandshakeType(t byte, dtls bool) bool {
	if t == hsHelloVerifyReq {
		return dtls
	}
	_, ok := tlsHandshakeName(t)
	return ok
}

func tlsAlertLevel(b byte) string {
	switch b {
	case 1:
		return "Warning"
	case 2:
		return "Fatal"
	}
	return "Unknown"
}

func tlsAlertDesc(b byte) string {
	switch b {
	case 0:
		return "Close Notify"
	case 1:
		return "End of Early Data"
	case 10:
		return "Unexpected Message"
	case 20:
		return "Bad Record MAC"
	case 21:
		return "Decryption Failed"
	case 22:
		return "Record Overflow"
	case 30:
		return "Decompression Failure"
	case 40:
		return "Handshake Failure"
	case 41:
		return "No Certificate"
	case 42:
		return "Bad Certificate"
	case 43:
		return "Unsupported Certificate"
	case 44:
		return "Certificate Revoked"
	case 45:
		return "Certificate Expired"
	case 46:
		return "Certificate Unknown"
	case 47:
		return "Illegal Parameter"
	case 48:
		return "Unknown CA"
	case 49:
		return "Access Denied"
	case 50:
		return "Decode Error"
	case 51:
		return "Decrypt Error"
	case 60:
		return "Export Restriction"
	case 70:
		return "Protocol Version"
	case 71:
		return "Insufficient Security"
	case 80:
		return "Internal Error"
	case 86:
		return "Inappropriate Fallback"
	case 90:
		return "User Canceled"
	case 100:
		return "No Renegotiation"
	case 109:
		return "Missing Extension"
	case 110:
		return "Unsupported Extension"
	case 111:
		return "Certificate Unobtainable"
	case 112:
		return "Unrecognized Name"
	case 113:
		return "Bad Certificate Status Response"
	case 114:
		return "Bad Certificate Hash Value"
	case 115:
		return "Unknown PSK Identity"
	case 116:
		return "Certificate Required"
	case 120:
		return "No application Protocol"
	case 121:
		return "ECH Required"
	}
	return "Unknown"
}

// ssl2MsgName is ssl_20_msg_types.
func ssl2MsgName(t byte) (string, bool) {
	switch t {
	case 0:
		return "Error", true
	case 1:
		return "Client Hello", true
	case 2:
		return "Client Master Key", true
	case 3:
		return "Client Finished", true
	case 4:
		return "Server Hello", true
	case 5:
		return "Server Verify", true
	case 6:
		return "Server Finished", true
	case 7:
		return "Request Certificate", true
	case 8:
		return "Client Certificate", true
	}
	return "", false
}

// tlsKnownVersion is ssl_is_valid_ssl_version: the versions ssl_versions
// names.
func tlsKnownVersion(v uint16) bool {
	switch v {
	case sslv2Version, sslv3Version, tls10Version, tlcpVersion, tls11Version, tls12Version, tls13Version,
		0xfb17, 0xfb1a, dtlsOpenSSLVersion, dtls10Version, dtls12Version:
		return true
	}
	if v>>8 == 0x7f && v&0xff >= 0x0e && v&0xff <= 0x1c {
		return true
	}
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff // GREASE
}

// tlsTryGetVersion is tls_try_get_version: the session version a version
// field stands for, or 0.
func tlsTryGetVersion(dtls bool, v uint16) (uint16, uint8) {
	var draft uint8
	if !dtls {
		if v>>8 == 0x7f {
			draft = uint8(v)
			v = tls13Version
		}
		if v == 0xfb17 || v == 0xfb1a {
			draft = uint8(v)
			v = tls13Version
		}
	}
	switch v {
	case sslv3Version, tls10Version, tls11Version, tls12Version, tls13Version, tlcpVersion:
		if dtls {
			return 0, 0
		}
	case dtls10Version, dtlsOpenSSLVersion, dtls12Version, dtls13Version:
		if !dtls {
			return 0, 0
		}
	default:
		return 0, 0
	}
	return v, draft
}

// tlsSession is the state tshark keeps per TLS (or DTLS) conversation.
type tlsSession struct {
	version  uint16 // 0 = unknown
	draft    uint8
	ccsFrame [2]int // frame of the last ChangeCipherSpec, [0] client, [1] server
	srvSet   bool
	srvAddr  netip.Addr
	srvPort  uint16
	hs       [2]tlsHSReasm // handshake messages spanning records, per sender
	held     [2]tlsHeld    // TCP only: the record waiting for more segments, per TCP direction

	curDstPort uint16 // destination port of the frame being dissected

	// DTLS only: handshake fragments per sender, and the version of the
	// first fragment of the last ServerHello.
	dtlsFrag  [2]dtlsFrags
	dtlsSHVer [2]uint16
}

// tlsHSReasm follows one handshake message reassembled from several records.
type tlsHSReasm struct {
	active bool
	have   int
	buf    []byte
}

// tlsHeld is a record split across TCP segments: tshark knows its length
// and does not call the dissector again until it is complete.
type tlsHeld struct {
	set  bool
	ct   byte   // its content type when it is an SSLv3/TLS record
	seq  uint32 // relative sequence number of its first byte
	need int    // bytes needed in all, 0 when unknown (header incomplete)
}

// tlsZeroBody stands for the body of a record whose bytes were not all
// captured.
var tlsZeroBody [5 + 1<<16]byte

// maxHSBuf bounds what is kept of a handshake message being reassembled.
const maxHSBuf = 1 << 18

// trySetVersion is ssl_try_set_version.
func (st *tlsSession) trySetVersion(contentType, hsType byte, dtls bool, v uint16) {
	auth := (contentType == tlsHandshake && tlsValidHandshakeType(hsType, dtls) && hsType != hsClientHello) ||
		(contentType != tlsHandshake && tlsValidContentType(contentType))
	if !auth {
		return
	}
	nv, draft := tlsTryGetVersion(dtls, v)
	if nv == 0 {
		return
	}
	st.version, st.draft = nv, draft
}

// fromServer is ssl_packet_from_server.
func (st *tlsSession) fromServer(src netip.Addr, sport uint16, dtls bool) int {
	if st.srvSet {
		if sport == st.srvPort && src == st.srvAddr {
			return 1
		}
		return 0
	}
	if dtls {
		if dtlsAssocPort(sport) {
			return 1
		}
		return 0
	}
	if tlsAssocPort(sport) {
		return 1
	}
	return 0
}

// tlsAssocPort reports whether tshark's "tls.port" table has p (the ports
// of the protocols carried over TLS by default).
func tlsAssocPort(p uint16) bool {
	switch p {
	case 324, 443, 465, 636, 802, 853, 993, 995, 1300, 2221, 2443, 3249, 3250, 3251, 3252,
		3389, 3496, 5061, 5671, 5684, 5868, 8883, 11207, 19999, 27017:
		return true
	}
	return false
}

// tlsTCPPorts are the TCP ports tshark 4.0 hands to TLS by default.
var tlsTCPPorts = []uint16{324, 443, 465, 636, 802, 853, 993, 995, 1300, 2221, 2443, 3249, 3250, 3251, 3252,
	3496, 5061, 5671, 5684, 5868, 8883, 11207, 19999, 27017}

type tlsApp struct{}

func init() {
	registerTCP(tlsApp{}, tlsTCPPorts...)
	tcpHeurs = append(tcpHeurs, tlsHeuristic)
}

// tlsHeuristic is dissect_ssl_heur: a payload that starts with a Handshake
// or Application Data record header, or an SSLv2-compatible Client Hello.
// (tshark tries it on every segment of a conversation nothing has claimed;
// the tcpcore branch's core does the same.)
func tlsHeuristic(s *tcpSegment, data []byte) tcpApp {
	if tlsLooksLikeRecord(data) || sslv2LooksLikeClientHello(data) {
		return tlsApp{}
	}
	return nil
}

// tlsLooksLikeRecord is is_sslv3_or_tls.
func tlsLooksLikeRecord(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if b[0] != tlsHandshake && b[0] != tlsAppData {
		return false
	}
	switch binary.BigEndian.Uint16(b[1:]) {
	case sslv3Version, tls10Version, tls11Version, tls12Version, tlcpVersion:
	default:
		return false
	}
	rl := binary.BigEndian.Uint16(b[3:])
	return rl != 0 && rl < 16384+2048
}

// sslv2LooksLikeClientHello is is_sslv2_clienthello.
func sslv2LooksLikeClientHello(b []byte) bool {
	if len(b) < 46 || b[0] != 0x80 || b[2] != 1 {
		return false
	}
	csl := binary.BigEndian.Uint16(b[5:])
	if csl == 0 || csl%3 != 0 {
		return false
	}
	sid := binary.BigEndian.Uint16(b[7:])
	if sid != 0 && sid != 16 {
		return false
	}
	return binary.BigEndian.Uint16(b[9:]) == 32
}

func isPrintASCII(b byte) bool { return b >= 0x20 && b < 0x7f }

func (tlsApp) dissect(s *tcpSegment, data []byte) int {
	st, _ := s.conv.appState.(*tlsSession)
	if st == nil {
		st = &tlsSession{}
		s.conv.appState = st
	}
	c := s.c
	dataSeq := s.relSeq + uint32(len(s.payload)) - uint32(len(data))
	h := &st.held[s.dir&1]
	if h.set && seqLT(dataSeq, h.seq) {
		// Bytes before the record being reassembled (a gap filled late):
		// dissected on their own, the reassembly left as it is.
		saved := *h
		h.set = false
		defer func() { *h = saved }()
	}
	skip := 0
	var gap tlsHeld
	rendered := false
	if h.set {
		h.set = false
		if h.need > 0 && seqLE(h.seq, dataSeq) && seqLT(dataSeq, h.seq+uint32(h.need)) {
			end := int(h.seq + uint32(h.need) - dataSeq)
			if end > len(data) {
				// The middle of a record whose length is known (perhaps
				// after a gap): tshark's TCP adds it to the reassembly
				// without calling TLS.
				h.set = true
				return 0
			}
			if dataSeq != h.seq {
				// A gap inside the record: tshark completes it with the
				// out-of-order segment that fills the gap (which it does
				// not show), so the record ends here.
				skip = end
				gap = *h
				gap.set = true
			}
		}
	}
	if gap.set && gap.ct != 0 && gap.ct != tlsHandshake {
		c.colSet(tlsVersionName(st.version, "SSL"))
		st.record(c, gap.ct, tlsZeroBody[:gap.need-5], st.version, st.fromServer(c.src, s.srcPort, false), false)
		rendered = true
	}
	if skip == len(data) {
		if rendered {
			s.done()
		}
		return skip
	}
	rest := data[skip:]
	if len(rest) > 4 && isPrintASCII(rest[0]) && isPrintASCII(rest[1]) && isPrintASCII(rest[2]) && isPrintASCII(rest[3]) {
		// Looks like clear text: not TLS.
		return len(data)
	}
	if !rendered {
		c.colSet(tlsVersionName(st.version, "SSL"))
	}
	st.curDstPort = s.dstPort
	srv := st.fromServer(c.src, s.srcPort, false)
	n, need := st.records(c, rest, srv, true)
	if need >= 0 {
		*h = tlsHeld{set: true, seq: dataSeq + uint32(skip+n), need: need}
		if need >= 5 && n < len(rest) && tlsValidContentType(rest[n]) {
			h.ct = rest[n]
		}
		if n > 0 || rendered {
			s.done()
		}
		return skip + n
	}
	s.done()
	return len(data)
}

// startTLS hands the rest of a TCP conversation to TLS, as
// ssl_starttls_ack does for SMTP STARTTLS, FTP AUTH TLS, an HTTP CONNECT
// tunnel and the like: the segments after this one, in both directions,
// are dissected as TLS. The caller's per-conversation state is replaced.
func startTLS(s *tcpSegment) {
	s.conv.app = tlsApp{}
	s.conv.appState = &tlsSession{}
}

// newTLSSession returns the TLS state for a conversation whose TLS records
// another dissector hands over (OpenVPN, RDP over UDP, STARTTLS, ...).
func newTLSSession() *tlsSession { return &tlsSession{} }

// dissectPDU renders records carried by another protocol that reassembles
// them itself, as tshark's TLS does when it cannot ask for more data: a
// record cut short ends the dissection silently.
func (st *tlsSession) dissectPDU(c *ctx, data []byte, srcPort, dstPort uint16) {
	if len(data) > 4 && isPrintASCII(data[0]) && isPrintASCII(data[1]) && isPrintASCII(data[2]) && isPrintASCII(data[3]) {
		return
	}
	c.colSet(tlsVersionName(st.version, "SSL"))
	st.curDstPort = dstPort
	st.records(c, data, st.fromServer(c.src, srcPort, false), false)
}

// records is the record loop of dissect_ssl. It returns the bytes consumed
// and, when a record continues beyond data and canDeseg is set, need >= 0:
// the length of that record when known, else 0.
func (st *tlsSession) records(c *ctx, data []byte, srv int, canDeseg bool) (off, need int) {
	for off < len(data) {
		rest := data[off:]
		n, need := 0, -1
		switch st.version {
		case sslv2Version:
			n, need = st.ssl2Record(c, rest)
		case sslv3Version, tls10Version, tls11Version, tls12Version, tlcpVersion:
			if len(rest) < 5 {
				need = 0
				break
			}
			if rest[0] == 0x80 && rest[2] == 1 {
				n, need = st.ssl2Record(c, rest)
			} else {
				n, need = st.ssl3Record(c, rest, srv)
			}
		default:
			if len(rest) < 5 {
				need = 0
				break
			}
			switch {
			case sslLooksLikeV2(rest):
				n, need = st.ssl2Record(c, rest)
			case sslLooksLikeV3(rest):
				n, need = st.ssl3Record(c, rest, srv)
			default:
				n = len(rest)
				c.colSep(", ").Field(span.Message, "Continuation Data")
			}
		}
		if need >= 0 {
			if !canDeseg {
				return len(data), -1
			}
			return off, need
		}
		off += n
	}
	return len(data), -1
}

// sslLooksLikeV2 is ssl_looks_like_sslv2.
func sslLooksLikeV2(b []byte) bool {
	if b[0] < 0x80 {
		return false
	}
	switch b[2] {
	case 0, 1, 2, 4:
		return true
	}
	return false
}

// sslLooksLikeV3 is ssl_looks_like_sslv3.
func sslLooksLikeV3(b []byte) bool {
	if !tlsValidContentType(b[0]) {
		return false
	}
	switch binary.BigEndian.Uint16(b[1:]) {
	case sslv3Version, tls10Version, tls11Version, tls12Version, tlcpVersion:
		return true
	}
	return false
}

// ssl2Record is dissect_ssl2_record. It returns the bytes consumed, or
// need >= 0 when the record is not complete (need: its full length, 0 when
// unknown).
func (st *tlsSession) ssl2Record(c *ctx, b []byte) (n, need int) {
	hl := 3
	if b[0]&0x80 != 0 {
		hl = 2
	}
	if len(b) < hl {
		return 0, 0
	}
	var rl int
	if hl == 2 {
		rl = int(b[0]&0x7f)<<8 | int(b[1])
	} else {
		rl = int(b[0]&0x3f)<<8 | int(b[1])
	}
	if len(b) < hl+rl {
		return 0, hl + rl
	}
	msgType := byte(0xff)
	if hl < len(b) {
		msgType = b[hl]
	}
	if st.version == 0 && msgType >= 2 && msgType <= 8 {
		st.version = sslv2Version
	}
	c.setProto("SSLv2")
	name, ok := ssl2MsgName(msgType)
	if !ok || !sslValidV2Handshake(b[hl:], rl) {
		name = "Encrypted Data"
	}
	c.colSep(", ").Field(span.Message, name)
	return hl + rl, -1
}

// sslValidV2Handshake is ssl_looks_like_valid_v2_handshake.
func sslValidV2Handshake(b []byte, rl int) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case 1:
		return len(b) >= 3 && tlsKnownVersion(binary.BigEndian.Uint16(b[1:]))
	case 4:
		return len(b) >= 5 && tlsKnownVersion(binary.BigEndian.Uint16(b[3:]))
	case 2:
		if len(b) < 10 {
			return false
		}
		sum := int(binary.BigEndian.Uint16(b[4:])) + int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:]))
		return sum <= rl
	}
	return false
}

// ssl3Record is dissect_ssl3_record.
func (st *tlsSession) ssl3Record(c *ctx, b []byte, srv int) (n, need int) {
	switch st.version {
	case tls10Version, tls11Version, tls12Version, tlcpVersion:
		if !tlsValidContentType(b[0]) {
			c.colSep(", ").Field(span.Message, "Ignored Unknown Record")
			return len(b), -1
		}
	}
	if len(b) < 5 {
		return 0, 0
	}
	ct := b[0]
	recVer := binary.BigEndian.Uint16(b[1:])
	rl := int(binary.BigEndian.Uint16(b[3:]))
	if !tlsValidContentType(ct) {
		c.colSep(", ").Field(span.Message, "Continuation Data")
		return 5 + rl, -1
	}
	if len(b) < 5+rl {
		return 0, 5 + rl
	}
	body := b[5 : 5+rl]
	version := recVer
	if st.version == 0 {
		var next byte
		if len(b) > 5 {
			next = b[5]
		}
		st.trySetVersion(ct, next, false, recVer)
		c.setProto(tlsVersionName(recVer, "SSL"))
	} else {
		version = st.version
	}
	st.record(c, ct, body, version, srv, false)
	return 5 + rl, -1
}

// record renders the content of one TLS or DTLS record (the switch of
// dissect_ssl3_record and dissect_dtls_record for TLS).
func (st *tlsSession) record(c *ctx, ct byte, body []byte, version uint16, srv int, dtls bool) {
	switch ct {
	case tlsCCS:
		if version == tls13Version && st.draft > 0 && st.draft < 22 {
			return
		}
		c.colSep(", ").Field(span.Message, "Change Cipher Spec")
		if version != tls13Version {
			st.ccsFrame[srv] = c.p.Number
		}
	case tlsAlert:
		t := c.colSep(", ")
		if len(body) != 2 {
			t.Field(span.Message, "Encrypted Alert")
			return
		}
		start := t.Begin()
		t.Lit("Alert (Level: ")
		t.Lit(tlsAlertLevel(body[0]))
		t.Lit(", Description: ")
		t.Lit(tlsAlertDesc(body[1]))
		t.Lit(")")
		t.End(span.Message, start)
	case tlsHandshake:
		st.handshake(c, body, version, srv)
	case tlsAppData:
		c.colSep(", ").Field(span.Message, "Application Data")
	case tlsHeartbeat:
		if version == tls13Version {
			return
		}
		var typ string
		if len(body) >= 1 {
			switch body[0] {
			case 1:
				typ = "Request"
			case 2:
				typ = "Response"
			}
		}
		if typ != "" {
			c.colSep(", ").Field(span.Message, "Heartbeat "+typ)
		} else {
			c.colSep(", ").Field(span.Message, "Encrypted Heartbeat")
		}
	}
}

// encryptedHandshake is is_encrypted_handshake_message for a record that
// was not decrypted.
func (st *tlsSession) encryptedHandshake(c *ctx, b []byte, srv int) bool {
	if len(b) < 16 {
		return false
	}
	enc := b[0]|b[1]|b[2]|b[3]|b[4] == 0
	if !enc {
		f := st.ccsFrame[srv]
		enc = f != 0 && c.p.Number > f
	}
	if !enc {
		_, ok := tlsHandshakeName(b[0])
		enc = !ok
		if !enc {
			enc = int(b[1])<<16|int(b[2])<<8|int(b[3]) >= 0x10000
		}
	}
	return enc
}

// handshake is dissect_tls_handshake for a record that was not decrypted.
func (st *tlsSession) handshake(c *ctx, b []byte, version uint16, srv int) {
	r := &st.hs[srv]
	first := true
	off := 0
	if r.active {
		frags := r.have
		var hdr [4]byte
		k := copy(hdr[:], r.buf)
		if k < 4 {
			copy(hdr[k:], b)
		}
		subset := len(b)
		msgLen := 0
		if frags+len(b) >= 4 {
			msgLen = 4 + (int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3]))
			if subset > msgLen-frags {
				subset = msgLen - frags
			}
		}
		last := msgLen != 0 && frags+subset == msgLen
		r.have += subset
		if room := maxHSBuf - len(r.buf); room > 0 {
			r.buf = append(r.buf, b[:min(subset, room)]...)
		}
		if !last {
			return
		}
		r.active = false
		off = subset
		st.handshakeMsg(c, r.buf, true, version, srv)
		first = false
	} else if st.encryptedHandshake(c, b, srv) {
		c.colSep(", ").Field(span.Message, "Encrypted Handshake Message")
		return
	}
	for off < len(b) {
		rest := b[off:]
		msgLen := 0
		if len(rest) >= 4 {
			msgLen = 4 + (int(rest[1])<<16 | int(rest[2])<<8 | int(rest[3]))
		}
		if msgLen == 0 || len(rest) < msgLen {
			r.active = true
			r.have = len(rest)
			r.buf = append(r.buf[:0], rest...)
			if first {
				name, ok := tlsHandshakeName(rest[0])
				if !ok {
					name = "Encrypted Handshake Message"
				}
				t := c.colSep(", ")
				start := t.Begin()
				t.Lit("[")
				t.Lit(name)
				t.Lit(" Fragment]")
				t.End(span.Message, start)
			}
			return
		}
		st.handshakeMsg(c, rest[:msgLen], first, version, srv)
		off += msgLen
		first = false
	}
}

// handshakeMsg is dissect_tls_handshake_full for one complete message m
// (type, length, body).
func (st *tlsSession) handshakeMsg(c *ctx, m []byte, first bool, version uint16, srv int) {
	typ := m[0]
	body := m[4:]
	name, ok := tlsHandshakeName(typ)
	if !ok && !first {
		return
	}
	if first && typ == hsServerHello && len(body) > 2 {
		sv, hrr := tlsScanServerHello(body, false)
		st.trySetVersion(tlsHandshake, hsServerHello, false, sv)
		if st.version != 0 {
			c.setProto(tlsVersionName(st.version, "SSL"))
		}
		if hrr {
			name = "Hello Retry Request"
		}
	}
	if !ok {
		name = "Encrypted Handshake Message"
	}
	c.colSep(", ").Field(span.Message, name)
	if !ok {
		return
	}
	switch typ {
	case hsClientHello:
		st.ccsFrame[0] = 0
		st.srvSet, st.srvAddr, st.srvPort = true, c.dst, st.curDstPort
		if tlsClientHelloHasEarlyData(body) {
			st.version = tls13Version
		}
	case hsServerHello:
		st.ccsFrame[1] = 0
	}
}

var tlsHRRRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// tlsScanServerHello is tls_scan_server_hello: the version a ServerHello
// body selects (its supported_versions extension if any) and whether it is
// a HelloRetryRequest.
func tlsScanServerHello(b []byte, dtls bool) (version uint16, hrr bool) {
	version = binary.BigEndian.Uint16(b)
	if (version != tls12Version && version != dtls12Version) || len(b) < 46 {
		return version, false
	}
	off := 2
	hrr = [32]byte(b[off:off+32]) == tlsHRRRandom
	off += 32
	sid := int(b[off])
	off++
	if len(b)-off < sid+5 {
		return version, hrr
	}
	off += sid + 5
	for len(b)-off >= 6 {
		et := binary.BigEndian.Uint16(b[off:])
		el := int(binary.BigEndian.Uint16(b[off+2:]))
		if len(b)-off < 4+el {
			break
		}
		if et == 43 { // supported_versions
			if el == 2 {
				version = binary.BigEndian.Uint16(b[off+4:])
			}
			return version, hrr
		}
		off += 4 + el
	}
	return version, hrr
}

// tlsClientHelloHasEarlyData reports whether a ClientHello body offers the
// early_data extension (tshark then takes the session for TLS 1.3).
func tlsClientHelloHasEarlyData(b []byte) bool {
	off := 2 + 32
	if len(b) < off+1 {
		return false
	}
	off += 1 + int(b[off])
	if len(b) < off+2 {
		return false
	}
	off += 2 + int(binary.BigEndian.Uint16(b[off:]))
	if len(b) < off+1 {
		return false
	}
	off += 1 + int(b[off])
	if len(b) < off+2 {
		return false
	}
	end := off + 2 + int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if end > len(b) {
		end = len(b)
	}
	for off+4 <= end {
		et := binary.BigEndian.Uint16(b[off:])
		el := int(binary.BigEndian.Uint16(b[off+2:]))
		if et == 42 {
			return true
		}
		off += 4 + el
	}
	return false
}

// dtlsAssocPort reports whether tshark's "dtls.port" table has p.
func dtlsAssocPort(p uint16) bool {
	switch p {
	case 853, 2221, 5684, 5868:
		return true
	}
	return false
}
