package dissect

import (
	"bytes"
	"net/netip"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders the line-based text protocols over TCP as tshark 4.0
// does: FTP and FTP-DATA, TELNET.

func init() {
	registerTCP(ftpApp{}, 21)
	registerTCP(telnetApp{}, 23)
	tcpHeurs = append(tcpHeurs, ftpDataHeuristic)
}

// firstLine returns the first line of b without its terminator (all of b
// when there is none), as tvb_find_line_end(..., FALSE) does.
func firstLine(b []byte) []byte {
	ll, _ := findLineEnd(b)
	if ll < 0 {
		if len(b) > 0 && b[len(b)-1] == '\r' {
			return b[:len(b)-1]
		}
		return b
	}
	return b[:ll]
}

// streamGuard remembers, per direction, the end of the stream data already
// seen, so that retransmitted or out-of-order old data is left as plain TCP
// as tshark shows it.
type streamGuard struct {
	next [2]uint32
	set  [2]bool
}

// old reports whether the segment's payload lies wholly before data already
// seen in its direction; otherwise it advances the mark.
func (g *streamGuard) old(s *tcpSegment) bool {
	end := s.relSeq + uint32(len(s.payload))
	d := s.dir
	if s.analysis&(taRetransmission|taFastRetransmission|taSpuriousRetransmission|taOutOfOrder) != 0 {
		return true
	}
	if g.set[d] && !seqGT(end, g.next[d]) {
		return true
	}
	g.set[d] = true
	g.next[d] = end
	return false
}

// ---- FTP ----

type ftpApp struct{}

// ftpConv is the state of an FTP control connection.
type ftpConv struct {
	streamGuard
	command  []byte // the last request line (command and arguments)
	tlsAsked bool   // AUTH TLS/SSL sent
}

// ftpExpect is a data connection announced on a control connection.
type ftpExpect struct {
	addr netip.Addr
	port uint16
	mode string
	ctl  *ftpConv
}

// ftpExpects holds the announced data connections of one Dissector.
type ftpExpects struct {
	list []ftpExpect
}

// ftpExpectKey is the key of the pseudo-conversation that holds a
// Dissector's FTP expectations: no real conversation has zero addresses and
// ports, so the TCP conversation table keeps per-capture state for the
// FTP dissector without a field of its own in the Dissector.
var ftpExpectKey = tcpKey{pa: 0, pb: 0}

func ftpExpectsOf(d *Dissector) *ftpExpects {
	conv, _ := d.tcp.get(ftpExpectKey)
	e, ok := conv.appState.(*ftpExpects)
	if !ok {
		e = &ftpExpects{}
		conv.appState = e
	}
	return e
}

func (e *ftpExpects) add(x ftpExpect) {
	for i := range e.list {
		if e.list[i].addr == x.addr && e.list[i].port == x.port {
			e.list[i] = x
			return
		}
	}
	if len(e.list) >= 256 {
		copy(e.list, e.list[1:])
		e.list = e.list[:len(e.list)-1]
	}
	e.list = append(e.list, x)
}

func (ftpApp) dissect(s *tcpSegment, data []byte) int {
	c := s.c
	st, ok := s.conv.appState.(*ftpConv)
	if !ok {
		st = &ftpConv{}
		s.conv.appState = st
	}
	if st.old(s) {
		return len(data)
	}
	line := firstLine(data)
	isReq := s.dstPort == 21
	t := c.colSet("FTP")
	if isReq {
		t.Lit("Request: ")
		st.command = append(st.command[:0], line...)
	} else {
		t.Lit("Response: ")
	}
	start := t.Begin()
	t.B = appendFmtText(t.B, line)
	t.End(span.Message, start)
	s.done()
	if isReq {
		if asciiPrefixFold(line, "AUTH TLS") || asciiPrefixFold(line, "AUTH SSL") {
			st.tlsAsked = true
		}
		if bytes.HasPrefix(line, []byte("PORT ")) {
			if a, p, ok := ftpHostPort(line[5:]); ok {
				ftpExpectsOf(c.d).add(ftpExpect{addr: a, port: p, mode: "PORT", ctl: st})
			}
		} else if bytes.HasPrefix(line, []byte("EPRT ")) {
			if a, p, ok := ftpEPRT(line[5:]); ok {
				ftpExpectsOf(c.d).add(ftpExpect{addr: a, port: p, mode: "EPRT", ctl: st})
			}
		}
	} else {
		switch {
		case st.tlsAsked && bytes.HasPrefix(line, []byte("234")):
			handToTLSOrBack(s, ftpApp{})
		case bytes.HasPrefix(line, []byte("227")):
			i := bytes.IndexByte(line, '(')
			if i >= 0 {
				if a, p, ok := ftpHostPort(line[i+1:]); ok {
					ftpExpectsOf(c.d).add(ftpExpect{addr: a, port: p, mode: "PASV", ctl: st})
				}
			}
		case bytes.HasPrefix(line, []byte("229")):
			i := bytes.Index(line, []byte("(|||"))
			if i >= 0 {
				rest := line[i+4:]
				j := bytes.IndexByte(rest, '|')
				if j > 0 {
					if v, err := strconv.ParseUint(string(rest[:j]), 10, 16); err == nil {
						ftpExpectsOf(c.d).add(ftpExpect{addr: c.src, port: uint16(v), mode: "EPSV", ctl: st})
					}
				}
			}
		}
	}
	return len(data)
}

// ftpHostPort parses "h1,h2,h3,h4,p1,p2".
func ftpHostPort(b []byte) (netip.Addr, uint16, bool) {
	var v [6]int
	n := 0
	cur, have := 0, false
	for _, ch := range b {
		if ch >= '0' && ch <= '9' {
			cur = cur*10 + int(ch-'0')
			have = true
			if cur > 255 {
				return netip.Addr{}, 0, false
			}
			continue
		}
		if ch == ',' && have && n < 5 {
			v[n] = cur
			n++
			cur, have = 0, false
			continue
		}
		break
	}
	if !have || n != 5 {
		return netip.Addr{}, 0, false
	}
	v[5] = cur
	a := netip.AddrFrom4([4]byte{byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3])})
	return a, uint16(v[4]<<8 | v[5]), true
}

// ftpEPRT parses "|1|132.235.1.2|6275|".
func ftpEPRT(b []byte) (netip.Addr, uint16, bool) {
	if len(b) < 2 {
		return netip.Addr{}, 0, false
	}
	parts := bytes.Split(b[1:], b[:1])
	if len(parts) < 3 {
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(string(parts[1]))
	if err != nil {
		return netip.Addr{}, 0, false
	}
	p, err := strconv.ParseUint(string(parts[2]), 10, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return a, uint16(p), true
}

// ftpDataApp renders the data connection of an FTP session.
type ftpDataApp struct {
	streamGuard
	mode string
	ctl  *ftpConv
}

func ftpDataHeuristic(s *tcpSegment, data []byte) tcpApp {
	conv := s.c.d.tcp.lookup(ftpExpectKey)
	if conv == nil {
		return nil
	}
	e, ok := conv.appState.(*ftpExpects)
	if !ok {
		return nil
	}
	for _, x := range e.list {
		if (x.addr == s.c.src && x.port == s.srcPort) || (x.addr == s.c.dst && x.port == s.dstPort) {
			return &ftpDataApp{mode: x.mode, ctl: x.ctl}
		}
	}
	return nil
}

func (a *ftpDataApp) dissect(s *tcpSegment, data []byte) int {
	if a.old(s) {
		return len(data)
	}
	t := s.c.colSet("FTP-DATA")
	st := t.Begin()
	t.Lit("FTP Data: ")
	t.B = strconv.AppendInt(t.B, int64(len(s.payload)), 10)
	t.Lit(" bytes (")
	t.Lit(a.mode)
	t.Lit(")")
	if a.ctl != nil && len(a.ctl.command) > 0 {
		t.Lit(" (")
		t.B = appendFmtText(t.B, a.ctl.command)
		t.Lit(")")
	}
	t.End(span.Message, st)
	s.done()
	return len(data)
}

// ---- TELNET ----

type telnetApp struct{}

func (telnetApp) dissect(s *tcpSegment, data []byte) int {
	t := s.c.colSet("TELNET")
	t.Field(span.Message, "Telnet Data ...")
	if !telnetWellFormed(s.payload) {
		t.Lit("[Malformed Packet]")
	}
	s.done()
	return len(data)
}

// telnetWellFormed reports whether every IAC command in b is complete.
func telnetWellFormed(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != 0xff {
			continue
		}
		if i+1 >= len(b) {
			return false
		}
		switch cmd := b[i+1]; {
		case cmd >= 251 && cmd <= 254: // WILL WONT DO DONT
			if i+2 >= len(b) {
				return false
			}
			i += 2
		default:
			i++
		}
	}
	return true
}

// ---- SIP ----

type sipApp struct{}

func init() {
	registerUDP(sipApp{}, 5060)
	registerTCP(sipTCPApp{}, 5060)
}

func (sipApp) dissect(c *ctx, u *udpDatagram) bool {
	if sipLineType(firstLine(u.payload)) == 0 {
		return false
	}
	sipMessage(c, u.payload)
	return true
}

type sipTCPApp struct{}

func (sipTCPApp) dissect(s *tcpSegment, data []byte) int {
	off := 0
	for off < len(data) {
		b := data[off:]
		if sipLineType(firstLine(b)) == 0 {
			return len(data)
		}
		n, ok := sipTCPLen(b)
		if !ok {
			return off
		}
		sipMessage(s.c, b[:n])
		s.done()
		off += n
	}
	return off
}

// sipTCPLen is the length of the SIP message at the start of b (headers and
// Content-Length body); ok false when it is not complete.
func sipTCPLen(b []byte) (int, bool) {
	p := 0
	cl := 0
	for {
		ll, nx := findLineEnd(b[p:])
		if ll < 0 {
			return 0, false
		}
		line := b[p : p+ll]
		p += nx
		if ll == 0 {
			break
		}
		if name, v, ok := sipHeader(line); ok && (eqFoldB(name, "Content-Length") || eqFoldB(name, "l")) {
			cl, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if p+cl > len(b) {
		return 0, false
	}
	return p + cl, true
}

// sipLineType: 1 request, 2 status, 0 neither.
func sipLineType(line []byte) int {
	if bytes.HasPrefix(line, []byte("SIP/2.0 ")) {
		return 2
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !bytes.HasSuffix(line, []byte(" SIP/2.0")) {
		return 0
	}
	return 1
}

func sipHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	return bytes.TrimRight(line[:i], " \t"), bytes.TrimLeft(line[i+1:], " \t"), true
}

// sipMessage renders one SIP message as packet-sip.c does.
func sipMessage(c *ctx, b []byte) {
	line := firstLine(b)
	typ := sipLineType(line)
	_, next := findLineEnd(b)
	var (
		cseqMethod  []byte
		contentType []byte
		contacts    int
		removes     int
		star        bool
		expires0    bool
		cl          = -1
	)
	p := next
	if p > len(b) {
		p = len(b)
	}
	hdrEnd := len(b)
	for p < len(b) {
		ll, nx := findLineEnd(b[p:])
		if ll < 0 {
			ll, nx = len(b)-p, len(b)-p
		}
		h := b[p : p+ll]
		p += nx
		if ll == 0 {
			hdrEnd = p
			break
		}
		name, v, ok := sipHeader(h)
		if !ok {
			continue
		}
		switch {
		case eqFoldB(name, "CSeq"):
			f := bytes.Fields(v)
			if len(f) >= 2 {
				cseqMethod = f[1]
			}
		case eqFoldB(name, "Content-Type"), eqFoldB(name, "c"):
			ct := v
			if i := bytes.IndexByte(ct, ';'); i >= 0 {
				ct = ct[:i]
			}
			contentType = bytes.ToLower(bytes.TrimSpace(ct))
		case eqFoldB(name, "Content-Length"), eqFoldB(name, "l"):
			cl, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		case eqFoldB(name, "Expires"):
			if string(bytes.TrimSpace(v)) == "0" {
				expires0 = true
			}
		case eqFoldB(name, "Contact"), eqFoldB(name, "m"):
			if string(bytes.TrimSpace(v)) == "*" {
				star = true
				continue
			}
			for _, ct := range sipSplitContacts(v) {
				contacts++
				if bytes.Contains(bytes.ToLower(ct), []byte("expires=0")) {
					removes++
				}
			}
		}
	}
	t := c.colSet("SIP")
	isRegister := false
	if typ == 1 {
		t.Lit("Request: ")
		rl := line[:len(line)-len(" SIP/2.0")]
		st := t.Begin()
		t.B = appendFmtText(t.B, rl)
		t.End(span.Message, st)
		isRegister = bytes.HasPrefix(rl, []byte("REGISTER "))
	} else {
		t.Lit("Status: ")
		st := t.Begin()
		t.B = appendFmtText(t.B, line[len("SIP/2.0 "):])
		t.End(span.Message, st)
		code := parseStatusCode(line)
		if code >= 200 && code < 300 && len(cseqMethod) > 0 {
			t.Lit(" (")
			t.FieldBytes(span.Message, cseqMethod)
			t.Lit(")")
			isRegister = string(cseqMethod) == "REGISTER"
		}
	}
	if isRegister {
		st := t.Begin()
		switch {
		case star && expires0:
			t.Lit("  (remove all bindings)")
		case contacts == 0:
			t.Lit("  (fetch bindings)")
		case removes > 0 || expires0:
			n := removes
			if expires0 {
				// tshark counts the Expires: 0 header once per contact too
				n += contacts
			}
			t.Lit("  (remove ")
			t.B = strconv.AppendInt(t.B, int64(n), 10)
			t.Lit(" binding")
			if n != 1 {
				t.Lit("s")
			}
			t.Lit(")")
		default:
			t.Lit("  (")
			t.B = strconv.AppendInt(t.B, int64(contacts), 10)
			t.Lit(" binding")
			if contacts != 1 {
				t.Lit("s")
			}
			t.Lit(")")
		}
		t.End(span.Message, st)
	}
	body := len(b) - hdrEnd
	if cl >= 0 && cl < body {
		body = cl
	}
	if body > 0 && string(contentType) == "application/sdp" {
		c.setProto("SIP/SDP")
	}
	t.Lit(" | ")
}

// sipSplitContacts splits a Contact value at commas outside <> and quotes.
func sipSplitContacts(v []byte) [][]byte {
	var out [][]byte
	depth, quoted, start := 0, false, 0
	for i, ch := range v {
		switch {
		case ch == '"':
			quoted = !quoted
		case quoted:
		case ch == '<':
			depth++
		case ch == '>':
			depth--
		case ch == ',' && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	if len(bytes.TrimSpace(v[start:])) > 0 {
		out = append(out, v[start:])
	}
	return out
}

// handToTLS hands the rest of a conversation to the TLS dissector after a
// STARTTLS-style upgrade (the app registered on port 443, if any).
func handToTLS(s *tcpSegment) {
	var app tcpApp = tunnelData{}
	if a, ok := tcpPortApps[443]; ok {
		app = a
	}
	s.conv.app = app
	s.conv.appState = nil
}

// handToTLSOrBack is handToTLS for a protocol whose clear text may resume
// (FTP's CCC): a segment that does not start with a TLS record type goes back
// to the protocol, with its state, as tshark's FTP frames after CCC show.
func handToTLSOrBack(s *tcpSegment, prev tcpApp) {
	a, ok := tcpPortApps[443]
	if !ok {
		handToTLS(s)
		return
	}
	s.conv.app = &tlsOrBack{tls: a, prev: prev, prevState: s.conv.appState}
	s.conv.appState = nil
}

type tlsOrBack struct {
	tls, prev           tcpApp
	tlsState, prevState any
}

func (w *tlsOrBack) dissect(s *tcpSegment, data []byte) int {
	if len(data) > 0 && (data[0] < 20 || data[0] > 24) {
		s.conv.appState = w.prevState
		n := w.prev.dissect(s, data)
		w.prevState, s.conv.appState = s.conv.appState, nil
		return n
	}
	s.conv.appState = w.tlsState
	n := w.tls.dissect(s, data)
	w.tlsState, s.conv.appState = s.conv.appState, nil
	return n
}

// ---- SMTP ----

type smtpApp struct{}

func init() { registerTCP(smtpApp{}, 25, 587) }

const (
	smtpCommand = iota
	smtpData
	smtpAuthUser
	smtpAuthPass
)

type smtpConv struct {
	streamGuard
	state    int
	tlsAsked bool
	msg      []byte // the message body being reassembled
}

func (smtpApp) dissect(s *tcpSegment, data []byte) int {
	c := s.c
	st, ok := s.conv.appState.(*smtpConv)
	if !ok {
		st = &smtpConv{}
		s.conv.appState = st
	}
	if st.old(s) {
		return len(data)
	}
	isReq := s.dstPort == 25 || s.dstPort == 587
	if isReq && st.state == smtpData {
		// Message data: each segment is a fragment until the "." line.
		eom := -1
		for p := 0; p < len(data); {
			ll, nx := findLineEnd(data[p:])
			if ll < 0 {
				break
			}
			if ll == 1 && data[p] == '.' {
				eom = p
				break
			}
			p += nx
		}
		if eom < 0 {
			if len(st.msg) < 1<<20 {
				st.msg = append(st.msg, data...)
			}
			t := c.colSet("SMTP")
			st0 := t.Begin()
			t.Lit("C: DATA fragment, ")
			t.B = strconv.AppendInt(t.B, int64(len(data)), 10)
			t.Lit(" bytes")
			t.End(span.Message, st0)
			s.done()
			return len(data)
		}
		st.msg = append(st.msg, data[:eom]...)
		c.colSet("SMTP/IMF")
		imfInfo(c, st.msg)
		st.msg = st.msg[:0]
		st.state = smtpCommand
		s.done()
		return len(data)
	}
	// Commands and replies are lines: wait for a complete one.
	if ll, _ := findLineEnd(data); ll < 0 && !c.truncated {
		return 0
	}
	t := c.colSet("SMTP")
	if isReq {
		line := firstLine(data)
		st0 := t.Begin()
		switch st.state {
		case smtpAuthUser:
			t.Lit("C: User: ")
			t.B = appendFmtText(t.B, line)
			st.state = smtpAuthPass
		case smtpAuthPass:
			t.Lit("C: Pass: ")
			t.B = appendFmtText(t.B, line)
			st.state = smtpCommand
		default:
			t.Lit("C: ")
			t.B = appendFmtText(t.B, line)
			switch {
			case eqFoldB(line, "DATA"):
				st.state = smtpData
				st.msg = st.msg[:0]
			case eqFoldB(line, "AUTH LOGIN"):
				st.state = smtpAuthUser
			case asciiPrefixFold(line, "AUTH LOGIN "):
				st.state = smtpAuthPass
			case eqFoldB(line, "STARTTLS"):
				st.tlsAsked = true
			}
		}
		t.End(span.Message, st0)
		s.done()
		return len(data)
	}
	st0 := t.Begin()
	t.Lit("S: ")
	first := true
	for p := 0; p < len(data); {
		ll, nx := findLineEnd(data[p:])
		if ll < 0 {
			ll, nx = len(data)-p, len(data)-p
		}
		line := data[p : p+ll]
		p += nx
		if first {
			t.B = appendFmtText(t.B, line)
			first = false
			if st.tlsAsked && bytes.HasPrefix(line, []byte("220")) {
				st.tlsAsked = false
				t.End(span.Message, st0)
				s.done()
				handToTLS(s)
				return len(data)
			}
			if st.state == smtpData && len(line) > 0 && line[0] != '3' {
				st.state = smtpCommand // DATA refused
			}
			continue
		}
		t.Lit(" | ")
		if len(line) > 4 {
			t.B = appendFmtText(t.B, line[4:])
		}
	}
	t.End(span.Message, st0)
	s.done()
	return len(data)
}

// imfInfo appends what the IMF dissector puts in the Info column for a
// message: the From and Subject fields in order, then the media types of
// the body parts.
func imfInfo(c *ctx, msg []byte) {
	t := &c.p.Info
	p := 0
	var ctype, boundary []byte
	for p < len(msg) {
		line, n, end := headerLine(msg[p:])
		p += n
		if end {
			break
		}
		name, v, ok := sipHeader(line)
		if !ok {
			continue
		}
		switch {
		case eqFoldB(name, "From"), eqFoldB(name, "Subject"):
			st := t.Begin()
			t.B = append(t.B, bytes.ToLower(name)...)
			t.Lit(": ")
			t.B = appendFmtText(t.B, v)
			t.Lit(", ")
			t.End(span.Message, st)
		case eqFoldB(name, "Content-Type"):
			ctype, boundary = mimeType(v)
		}
	}
	mimeParts(t, ctype, boundary, msg[p:], 0)
}

// mimeType returns the lower-case media type of a Content-Type value and
// its boundary parameter.
func mimeType(v []byte) (ct, boundary []byte) {
	ct = v
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.ToLower(bytes.TrimSpace(ct))
	lv := bytes.ToLower(v)
	if i := bytes.Index(lv, []byte("boundary=")); i >= 0 {
		b := v[i+len("boundary="):]
		if len(b) > 0 && b[0] == '"' {
			b = b[1:]
			if j := bytes.IndexByte(b, '"'); j >= 0 {
				b = b[:j]
			}
		} else if j := bytes.IndexAny(b, "; \t"); j >= 0 {
			b = b[:j]
		}
		boundary = b
	}
	return ct, boundary
}

// mimeParts appends " (type)" for each leaf body part, as the multipart and
// media dissectors do.
func mimeParts(t *span.Text, ct, boundary, body []byte, depth int) {
	if len(ct) == 0 || depth > 8 {
		return
	}
	if !bytes.HasPrefix(ct, []byte("multipart/")) || len(boundary) == 0 {
		if string(ct) == "application/octet-stream" {
			return
		}
		t.Lit(" ")
		st := t.Begin()
		t.Lit("(")
		t.LitBytes(ct)
		t.Lit(")")
		t.End(span.Message, st)
		return
	}
	delim := append([]byte("--"), boundary...)
	parts := bytes.Split(body, delim)
	for i, part := range parts {
		if i == 0 {
			continue // preamble
		}
		if bytes.HasPrefix(part, []byte("--")) {
			break // close delimiter
		}
		// skip the rest of the delimiter line
		_, nx := findLineEnd(part)
		part = part[nx:]
		var pct, pb []byte
		p := 0
		for p < len(part) {
			line, n, end := headerLine(part[p:])
			p += n
			if end {
				break
			}
			if name, v, ok := sipHeader(line); ok && eqFoldB(name, "Content-Type") {
				pct, pb = mimeType(v)
			}
		}
		if len(pct) == 0 {
			pct = []byte("text/plain")
		}
		mimeParts(t, pct, pb, part[p:], depth+1)
	}
}

// headerLine returns the first header line of b with its continuation lines
// unfolded, the bytes it took, and whether it was the empty line ending the
// headers.
func headerLine(b []byte) (line []byte, n int, end bool) {
	ll, nx := findLineEnd(b)
	if ll < 0 {
		ll, nx = len(b), len(b)
	}
	if ll == 0 {
		return nil, nx, true
	}
	line = b[:ll]
	p := nx
	for p < len(b) && (b[p] == ' ' || b[p] == '\t') {
		l2, n2 := findLineEnd(b[p:])
		if l2 < 0 {
			l2, n2 = len(b)-p, len(b)-p
		}
		line = append(append([]byte(nil), line...), b[p:p+l2]...)
		p += n2
	}
	return line, p, false
}

// ---- IMAP ----

type imapApp struct{}

func init() { registerTCP(imapApp{}, 143) }

type imapConv struct{ streamGuard }

func (imapApp) dissect(s *tcpSegment, data []byte) int {
	st, ok := s.conv.appState.(*imapConv)
	if !ok {
		st = &imapConv{}
		s.conv.appState = st
	}
	if st.old(s) {
		return len(data)
	}
	// Every line replaces the Info column: the last one stays. A line
	// ending in a literal "{N}" needs N more bytes, which are reassembled;
	// a message in a literal goes to the IMF dissector.
	var last, literal []byte
	for p := 0; p < len(data); {
		ll, nx := findLineEnd(data[p:])
		if ll < 0 {
			ll, nx = len(data)-p, len(data)-p
		}
		last = data[p : p+ll]
		p += nx
		if n, ok := imapLiteral(last); ok {
			if p+n > len(data) {
				if s.c.truncated {
					break
				}
				return 0
			}
			literal = data[p : p+n]
			p += n
		}
	}
	if len(literal) > 0 && s.dstPort != 143 {
		s.c.colSet("IMAP/IMF")
		s.c.colClear()
		imfInfo(s.c, literal)
		s.done()
		return len(data)
	}
	t := s.c.colSet("IMAP")
	if s.dstPort == 143 {
		t.Lit("Request: ")
	} else {
		t.Lit("Response: ")
	}
	st0 := t.Begin()
	t.B = appendFmtText(t.B, last)
	t.End(span.Message, st0)
	s.done()
	return len(data)
}

// imapLiteral reports the length of the literal a line announces with a
// trailing "{N}".
func imapLiteral(line []byte) (int, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 || i >= len(line)-2 {
		return 0, false
	}
	n, err := strconv.Atoi(string(line[i+1 : len(line)-1]))
	if err != nil || n < 0 || n > 1<<24 {
		return 0, false
	}
	return n, true
}

// ---- IRC ----

type ircApp struct{}

func init() { registerTCP(ircApp{}, 6666, 6667, 6668, 6669) }

type ircConv struct{ streamGuard }

func (ircApp) dissect(s *tcpSegment, data []byte) int {
	st, ok := s.conv.appState.(*ircConv)
	if !ok {
		st = &ircConv{}
		s.conv.appState = st
	}
	if st.old(s) {
		return len(data)
	}
	t := s.c.colSet("IRC")
	isReq := s.dstPort >= 6666 && s.dstPort <= 6669
	if isReq {
		t.Lit("Request")
	} else {
		t.Lit("Response")
	}
	for p := 0; p < len(data); {
		ll, nx := findLineEnd(data[p:])
		if ll < 0 {
			ll, nx = len(data)-p, len(data)-p
		}
		line := data[p : p+ll]
		p += nx
		if len(line) == 0 {
			continue
		}
		if line[0] == ':' {
			i := bytes.IndexByte(line, ' ')
			if i < 0 {
				continue
			}
			line = line[i+1:]
		}
		cmd := bytes.TrimLeft(line, " ")
		if i := bytes.IndexByte(cmd, ' '); i >= 0 {
			cmd = cmd[:i]
		}
		t.Lit(" (")
		st0 := t.Begin()
		t.B = appendFmtText(t.B, cmd)
		t.End(span.Message, st0)
		t.Lit(")")
	}
	s.done()
	return len(data)
}

// ---- NNTP, Kismet: "Request: line" / "Response: line" ----

// lineApp renders the first line of each segment as packet-nntp.c and
// packet-kismet.c do.
type lineApp struct {
	proto string
	port  uint16 // the server port: segments to it are requests
}

func init() {
	registerTCP(&lineApp{proto: "NNTP", port: 119}, 119)
	registerTCP(&lineApp{proto: "kismet", port: 2501}, 2501)
}

type lineConv struct{ streamGuard }

func (a *lineApp) dissect(s *tcpSegment, data []byte) int {
	st, ok := s.conv.appState.(*lineConv)
	if !ok {
		st = &lineConv{}
		s.conv.appState = st
	}
	if st.old(s) {
		return len(data)
	}
	t := s.c.colSet(a.proto)
	if s.dstPort == a.port {
		t.Lit("Request: ")
	} else {
		t.Lit("Response: ")
	}
	st0 := t.Begin()
	t.B = appendFmtText(t.B, firstLine(data))
	t.End(span.Message, st0)
	s.done()
	return len(data)
}
