package dissect

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"io"
	"strconv"
	"sync"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders HTTP/1.x over TCP and UDP (SSDP) as tshark 4.0's
// packet-http.c does with its default preferences: header and body
// desegmentation, de-chunking, and the Info column additions of the media
// dissectors called on the body.

// httpApp is HTTP over TCP.
type httpApp struct{}

// httpTCPPorts is tshark 4.0's default "tcp.port" range for HTTP.
var httpTCPPorts = []uint16{80, 3128, 3132, 5985, 8080, 8088, 11371, 1900, 2869, 2710}

func init() {
	registerTCP(httpApp{}, httpTCPPorts...)
	registerTCP(httpApp{}, 631, 3689) // IPP and DAAP ride on HTTP
	tcpHeurs = append(tcpHeurs, httpHeuristic)
	registerUDP(ssdpApp{}, 1900)
}

// httpHeuristic is dissect_http_heur_tcp: the first line starts or ends with
// "HTTP/1.".
func httpHeuristic(s *tcpSegment, data []byte) tcpApp {
	// The first line's end, found with the fast byte searches.
	ll := bytes.IndexByte(data, '\n')
	if i := bytes.IndexByte(data, '\r'); i >= 0 && (ll < 0 || i < ll) {
		if i == len(data)-1 {
			return nil // CR at the end: tshark would want the next byte
		}
		ll = i
	}
	if ll < 0 || ll == 8 {
		return nil
	}
	if (ll >= 8 && asciiPrefixFold(data[ll-8:], "HTTP/1.")) || asciiPrefixFold(data, "HTTP/1.") {
		return httpApp{}
	}
	return nil
}

// Upgrade targets.
const (
	upgradeNone = iota
	upgradeWebSocket
	upgradeHTTP2
	upgradeSSL // CONNECT tunnel
)

// httpConv is the per-conversation HTTP state.
type httpConv struct {
	dir         [2]httpDir
	lastMethod  int  // method of the last request seen (methodOther, methodHEAD, methodCONNECT)
	upgrade     int  // protocol asked for in an Upgrade header
	seen        bool // a request or response was seen
	switched    bool // the conversation switched protocol after a 101 / CONNECT
	switchDir   [2]bool
	connectPort uint16 // port of the last CONNECT request's target
	tunnel      bool   // a CONNECT was answered 200: hand the stream over
	ws          wsConv
}

// httpDir is the reassembly state of one direction.
type httpDir struct {
	need     int    // bytes the PDU in progress needs (known length), 0 if none
	held     int    // bytes left unconsumed by the last call
	pduStart uint32 // relative sequence number of the PDU in progress
	holed    bool   // a segment of the PDU in progress was not seen
	noEOL    int    // bytes already searched in vain for the first line's end
}

func httpState(s *tcpSegment) *httpConv {
	if h, ok := s.conv.appState.(*httpConv); ok {
		return h
	}
	h := &httpConv{}
	s.conv.appState = h
	return h
}

func (httpApp) dissect(s *tcpSegment, data []byte) int {
	h := httpState(s)
	d := &h.dir[s.dir]
	end := s.relSeq + uint32(len(s.payload))
	if d.held+len(s.payload) != len(data) {
		d.noEOL = 0
		// The core started afresh (a gap). A segment that falls in the PDU
		// in progress joins it: tshark's reassembly then has a hole and
		// never completes that PDU. Otherwise forget it.
		if s.analysis&(taOutOfOrder|taRetransmission|taFastRetransmission|taSpuriousRetransmission) != 0 {
			// A segment from behind (filling a hole): tshark shows it as
			// plain TCP.
			d.held = 0
			return len(data)
		}
		if d.need > 0 && !seqLT(s.relSeq, d.pduStart) && seqLT(s.relSeq, d.pduStart+uint32(d.need)) {
			d.holed = true
		} else {
			d.need, d.holed = 0, false
		}
	}
	if d.holed {
		pduEnd := d.pduStart + uint32(d.need)
		if seqLT(end, pduEnd) || end == pduEnd {
			d.held = len(data)
			return 0
		}
		restStart := len(data) - int(end-pduEnd)
		d.need, d.holed, d.held = 0, false, 0
		n := h.dissectStream(s, d, data[restStart:]) + restStart
		h.after(s, d, data, n)
		return n
	}
	n := h.dissectStream(s, d, data)
	h.after(s, d, data, n)
	return n
}

// after records what is held back after a call that consumed n bytes.
func (h *httpConv) after(s *tcpSegment, d *httpDir, data []byte, n int) {
	d.held = len(data) - n
	if d.held <= 0 {
		d.held = 0
		d.need = 0
		return
	}
	if d.need > 0 {
		// data[n] is the PDU start
		d.pduStart = s.relSeq + uint32(len(s.payload)) - uint32(d.held)
		d.need -= n
	}
}

func (h *httpConv) dissectStream(s *tcpSegment, d *httpDir, data []byte) int {
	c := s.c
	if d.need > 0 && len(data) < d.need {
		return 0
	}
	d.need = 0
	if h.switchDir[s.dir] {
		return h.switched_(s, data)
	}
	if d.noEOL > 0 && d.noEOL <= len(data) && !h.seen {
		// Still gathering a first line: search only the new bytes (the
		// last old one may be a CR).
		tail := data[d.noEOL-1:]
		if bytes.IndexByte(tail, '\n') < 0 && bytes.IndexByte(tail[:len(tail)-1], '\r') < 0 {
			d.noEOL = len(data)
			return 0
		}
	}
	d.noEOL = 0
	fin := s.flags&thFIN != 0
	off := 0
	if !h.seen && len(data) > 0 && data[0] == 'P' && hasPrefixStr(data, http2Preface[:min(len(data), len(http2Preface))]) {
		// HTTP/2 with prior knowledge: the connection preface.
		a := newHTTP2()
		s.conv.app = a
		s.conv.appState = nil
		return a.dissect(s, data)
	}
	for off < len(data) {
		if h.switchDir[s.dir] {
			n := h.switched_(s, data[off:])
			return off + n
		}
		n, need := h.message(c, s, data[off:], fin, "HTTP", s.dir)
		if n < 0 {
			if need > 0 {
				d.need = off + need
				if more := d.need - len(data); more > 0 {
					s.need = more // tshark's desegment_len, for the core's gap handling
				}
			}
			return off
		}
		off += n
		c.setFence()
		if h.switchDir[s.dir] && h.upgrade == upgradeHTTP2 {
			a := newHTTP2()
			s.conv.app = a
			s.conv.appState = nil
			if off < len(data) {
				return off + a.dissect(s, data[off:])
			}
			return off
		}
		if h.tunnel {
			// The proxy tunnel carries what the target port's dissector reads.
			var app tcpApp = tunnelData{}
			if a, ok := tcpPortApps[h.connectPort]; ok {
				if _, isHTTP := a.(httpApp); !isHTTP {
					app = a
				}
			}
			s.conv.app = app
			s.conv.appState = nil
			if off < len(data) {
				return off + app.dissect(s, data[off:])
			}
			return off
		}
	}
	return off
}

// tunnelData takes the bytes of a tunnel whose protocol is not dissected.
type tunnelData struct{}

func (tunnelData) dissect(s *tcpSegment, data []byte) int { return len(data) }

// connectPort returns the port of "CONNECT host:port HTTP/1.1".
func connectPort(line []byte) uint16 {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0
	}
	uri := line[sp+1:]
	if e := bytes.IndexByte(uri, ' '); e >= 0 {
		uri = uri[:e]
	}
	c := bytes.LastIndexByte(uri, ':')
	if c < 0 {
		return 0
	}
	v, err := strconv.ParseUint(string(uri[c+1:]), 10, 16)
	if err != nil {
		return 0
	}
	return uint16(v)
}

// switched_ hands the bytes after a protocol switch to the new protocol.
func (h *httpConv) switched_(s *tcpSegment, data []byte) int {
	switch h.upgrade {
	case upgradeWebSocket:
		return h.ws.dissect(s, data)
	}
	return len(data)
}

// message is dissect_http_message. It returns the bytes consumed, or -1 when
// more data is needed (need > 0: the total length needed, when known).
func (h *httpConv) message(c *ctx, s *tcpSegment, data []byte, fin bool, proto string, dir int) (n int, need int) {
	off := 0
	if len(data) > 3 && data[0] == '\r' && data[1] == '\n' {
		off = 2
	}
	b := data[off:]
	if s != nil && !h.seen && len(b) > 0 && !isPrint(b[0]) && s.analysis&taKeepAlive == 0 {
		// Binary data where no HTTP was seen yet: not for HTTP.
		return len(data), 0
	}
	trunc := c.truncated // bytes missing from the capture: no desegmentation
	lineLen, next := findLineEnd(b)
	noLine := lineLen < 0
	if noLine {
		if s != nil && !trunc && !h.seen {
			// No complete line: header desegmentation asks for more.
			if off == 0 && len(data) > 0 {
				h.dir[s.dir].noEOL = len(data)
			}
			return -1, 0
		}
		lineLen, next = len(b), len(b)
	}
	line := b[:lineLen]
	typ, method := httpRequestOrReply(line)
	if noLine && trunc {
		typ = httpOther
	}
	if typ == httpOther && !h.seen && s != nil {
		// Nothing in this conversation looked like HTTP yet: leave it be.
		// (When the line search ran into the end of the captured bytes,
		// tshark's exception note is the core's to add: nothing rendered.)
		return len(data), 0
	}
	if typ == httpOther {
		t := c.colSet(proto)
		t.Field(span.Message, "Continuation")
		if s != nil {
			s.done()
		}
		if trunc && len(b) > 0 && isPrint(b[0]) {
			t.Lit("[Packet size limited during capture]")
		}
		return len(data), 0
	}
	h.seen = true
	t := c.colSet(proto)
	st := t.Begin()
	t.B = appendFmtText(t.B, line)
	t.End(span.Message, st)
	t.Lit(" ")

	respCode := 0
	if typ == httpResponse {
		respCode = parseStatusCode(line)
	}
	tryBody := !fin
	if typ == httpResponse && h.lastMethod == methodHEAD {
		tryBody = false
	}
	if typ == httpResponse && respCode == 200 && h.lastMethod == methodCONNECT {
		tryBody = false
	}
	if tryBody && typ == httpResponse && (respCode/100 == 1 || respCode == 204 || respCode == 304) {
		tryBody = false
	}
	if s != nil && !trunc {
		// Header (and body) desegmentation: req_resp_hdrs_do_reassembly.
		k, ok, nd := reqRespReassembly(b, tryBody, typ == httpResponse)
		if !ok {
			if nd > 0 {
				return -1, off + nd
			}
			return -1, 0
		}
		_ = k
	}
	_ = next

	// Headers.
	var hd httpHeaders
	hd.response = typ == httpResponse
	p := next
	hdrEnd := len(b)
	for p < len(b) {
		ll, nx := findLineEnd(b[p:])
		if ll < 0 {
			// headers cut short (no desegmentation possible)
			p = len(b)
			break
		}
		if ll == 0 {
			p += nx
			hdrEnd = p
			break
		}
		hd.parse(b[p : p+ll])
		p += nx
	}
	if p >= len(b) {
		hdrEnd = p
	}
	if trunc && hdrEnd == len(b) {
		// The headers run past the captured bytes.
		t.Lit("[Packet size limited during capture]")
		if s != nil {
			s.done()
		}
		return len(data), 0
	}
	if typ == httpRequest {
		h.lastMethod = method
		if method == methodCONNECT {
			h.connectPort = connectPort(line)
		}
		if hd.upgrade != upgradeNone {
			h.upgrade = hd.upgrade
		}
	}
	// NTLMSSP in Authorization / WWW-Authenticate.
	if hd.ntlm != nil {
		ntlmsspInfo(t, hd.ntlm)
	}

	// Body length.
	avail := len(b) - hdrEnd
	datalen := avail
	if hd.haveCL {
		if int64(datalen) > hd.contentLength {
			datalen = int(hd.contentLength)
		}
	} else if hd.chunked {
		// the chunks are walked below
	} else {
		switch typ {
		case httpRequest:
			datalen = 0
		case httpResponse:
			if respCode/100 == 1 || respCode == 204 || respCode == 304 {
				datalen = 0
			}
		}
	}
	if typ == httpResponse && respCode == 200 && h.lastMethod == methodCONNECT && s != nil {
		h.tunnel = true
		datalen = 0
	}
	if typ == httpResponse && respCode == 101 && h.upgrade != upgradeNone && s != nil {
		h.switchDir = [2]bool{true, true}
		datalen = 0
	}
	body := b[hdrEnd:]
	consumed := hdrEnd
	if hd.chunked && datalen > 0 {
		dechunked, used, nchunks := dechunk(body)
		consumed += used
		if nchunks > 0 {
			httpBody(c, t, &hd, dechunked, proto)
		}
	} else if datalen > 0 {
		consumed += datalen
		httpBody(c, t, &hd, body[:datalen], proto)
	}
	if s != nil {
		s.done()
	}
	return off + consumed, 0
}

// httpBody renders what the media-type dissectors add for an entity body.
func httpBody(c *ctx, t *span.Text, hd *httpHeaders, body []byte, proto string) {
	ct := hd.contentType
	if ct == "" {
		return
	}
	if hd.contentEncoding != "" && !eqFold(hd.contentEncoding, "identity") {
		// tshark decompresses gzip/deflate; the Info depends only on the type.
		switch {
		case eqFold(hd.contentEncoding, "gzip"), eqFold(hd.contentEncoding, "deflate"),
			eqFold(hd.contentEncoding, "x-gzip"), eqFold(hd.contentEncoding, "x-deflate"):
		default:
			return
		}
	}
	switch ct {
	case "application/ocsp-request", "application/ocsp-response":
		c.setProto("OCSP")
		t := c.colClear()
		if ct == "application/ocsp-request" {
			t.Field(span.Message, "Request")
		} else {
			t.Field(span.Message, "Response")
		}
		return
	case "application/ipp":
		if len(body) >= 4 {
			c.setProto("IPP")
			t := c.colClear()
			st := t.Begin()
			code := binary.BigEndian.Uint16(body[2:])
			if hd.response {
				t.Lit("IPP Response (")
				t.Lit(ippStatusName(code))
			} else {
				t.Lit("IPP Request (")
				t.Lit(ippOperationName(code))
			}
			t.Lit(")")
			t.End(span.Message, st)
			return
		}
	case "application/json", "application/json-rpc", "application/jsonrequest", "application/dds-web+json",
		"application/vnd.oma.lwm2m+json", "application/x-amz-json-1.1":
		c.setProto(c.p.Protocol + "/JSON")
		t.Lit(", ")
		st := t.Begin()
		t.Lit("JavaScript Object Notation (")
		t.Lit(ct)
		t.Lit(")")
		t.End(span.Message, st)
		return
	case "application/octet-stream":
		return
	case "image/png":
		{ // the PNG dissector takes any body
			t.Lit(" ")
			t.Field(span.Message, "(PNG)")
			return
		}
	case "image/gif":
		if len(body) >= 6 && (string(body[:6]) == "GIF89a" || string(body[:6]) == "GIF87a") {
			t.Lit(" ")
			st := t.Begin()
			t.Lit("(")
			t.LitBytes(body[:6])
			t.Lit(")")
			t.End(span.Message, st)
			return
		}
	case "image/jpeg", "image/jpg", "image/pjpeg":
		t.Lit(" ")
		t.Field(span.Message, "(JPEG JFIF image)")
		return
	}
	if isTextMedia(ct) && len(body) > 38 {
		// data-text-lines hands "<?xml" bodies to the XML dissector.
		head := body
		if hd.contentEncoding != "" && !eqFold(hd.contentEncoding, "identity") {
			head = inflateHead(hd.contentEncoding, body, 64)
		}
		if len(head) > 38 && string(head[:5]) == "<?xml" {
			c.setProto(c.p.Protocol + "/XML")
			return
		}
	}
	if isXMLMedia(ct) {
		c.setProto(c.p.Protocol + "/XML")
		return
	}
	t.Lit(" ")
	st := t.Begin()
	t.Lit("(")
	t.Lit(ct)
	t.Lit(")")
	t.End(span.Message, st)
}

func isXMLMedia(ct string) bool {
	switch ct {
	case "text/xml", "application/xml", "application/soap+xml", "application/xml-dtd", "text/xml-external-parsed-entity",
		"application/xml-external-parsed-entity", "application/atom+xml", "application/rss+xml", "application/xhtml+xml",
		"application/auth-policy+xml", "application/ccmp+xml", "application/cpim-pidf+xml", "application/cpl+xml",
		"application/mathml+xml", "application/pidf+xml", "application/rlmi+xml", "application/simple-filter+xml",
		"application/watcherinfo+xml", "application/xcap-att+xml", "application/xcap-caps+xml", "application/xcap-diff+xml",
		"application/xcap-el+xml", "application/xcap-error+xml", "application/xcap-ns+xml", "application/xslt+xml",
		"image/svg+xml", "application/vnd.ms-sync.wbxml", "application/dialog-info+xml", "application/reginfo+xml",
		"application/resource-lists+xml", "application/rls-services+xml", "application/conference-info+xml",
		"application/pidf-diff+xml", "application/vnd.wv.csp+xml", "application/xcon-conference-info+xml",
		"application/xcon-conference-info-diff+xml", "application/vnd.etsi.mcptt-info+xml", "application/kpml-request+xml",
		"application/kpml-response+xml", "application/im-iscomposing+xml", "application/mbms-msk+xml",
		"application/mbms-protection-description+xml", "application/mbms-schedule+xml", "application/vnd.3gpp.cw+xml",
		"application/xml+dtd", "application/poc-settings+xml", "application/vnd.3gpp.sms+xml",
		"application/vnd.oma.xdm-apd+xml", "application/vnd.ogc.wms_xml", "application/x-wms-logconnectextended",
		"text/vnd.wap.wml", "application/vnd.3gpp.mid-call+xml", "application/vnd.3gpp.state-and-event-info+xml",
		"application/vnd.etsi.aoc+xml", "application/vnd.etsi.cug+xml", "application/vnd.etsi.iptvcommand+xml",
		"application/vnd.etsi.iptvdiscovery+xml", "application/vnd.etsi.iptvprofile+xml",
		"application/vnd.etsi.iptvsad-bc+xml", "application/vnd.etsi.pstn+xml", "application/vnd.etsi.sci+xml",
		"application/vnd.etsi.simservs+xml", "application/vnd.oma.poc.detailed-progress-report+xml",
		"application/vnd.oma.poc.final-report+xml", "application/vnd.oma.poc.groups+xml",
		"application/vnd.oma.poc.invocation-descriptor+xml", "application/vnd.oma.poc.optimized-progress-report+xml",
		"application/vnd.nokia.iptv.config+xml", "application/xacml+xml", "application/voicexml+xml", "application/ims-service+xml":
		return true
	}
	return false
}

const (
	httpOther = iota
	httpRequest
	httpResponse
	httpNotification
)

// The methods whose requests change how responses are read.
const (
	methodOther = iota
	methodHEAD
	methodCONNECT
)

// httpRequestOrReply is is_http_request_or_reply.
func httpRequestOrReply(line []byte) (typ int, method int) {
	d := line
	if len(d) >= 2 && d[0] == 'M' && d[1] == '-' {
		d = d[2:]
	}
	if (len(d) >= 5 && string(d[:5]) == "HTTP/") || (len(d) >= 3 && string(d[:3]) == "ICY") {
		return httpResponse, methodOther
	}
	i := bytes.IndexByte(d, ' ')
	if i < 0 {
		i = len(d)
	}
	switch string(d[:i]) {
	case "HEAD":
		return httpRequest, methodHEAD
	case "CONNECT":
		return httpRequest, methodCONNECT
	case "GET", "PUT", "COPY", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL", "TRACE", "LABEL", "MERGE",
		"DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "BDELETE", "OPTIONS", "CHECKIN",
		"PROPFIND", "CHECKOUT", "CCM_POST", "PROPPATCH", "BPROPFIND", "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY",
		"MKWORKSPACE", "RPC_CONNECT", "RPC_IN_DATA", "RPC_OUT_DATA", "VERSION-CONTROL", "BASELINE-CONTROL", "PATCH":
		return httpRequest, methodOther
	case "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE":
		return httpNotification, methodOther
	}
	return httpOther, methodOther
}

// parseStatusCode reads the three digits after "HTTP/x.y ".
func parseStatusCode(line []byte) int {
	i := bytes.IndexByte(line, ' ')
	if i < 0 || i+4 > len(line) {
		return 0
	}
	code := 0
	for _, ch := range line[i+1 : i+4] {
		if ch < '0' || ch > '9' {
			return 0
		}
		code = code*10 + int(ch-'0')
	}
	return code
}

// findLineEnd is tvb_find_line_end with desegment true: the length of the
// line (without its terminator) and the offset after the terminator; -1 if
// no terminator. A line ends at CR, LF or CRLF.
func findLineEnd(b []byte) (lineLen, next int) {
	for i, ch := range b {
		if ch == '\n' {
			return i, i + 1
		}
		if ch == '\r' {
			if i+1 < len(b) {
				if b[i+1] == '\n' {
					return i, i + 2
				}
				return i, i + 1
			}
			// CR at the end: tshark wants the next byte to decide.
			return -1, len(b)
		}
	}
	return -1, len(b)
}

// reqRespReassembly is req_resp_hdrs_do_reassembly. ok false: more data is
// needed; need > 0 is then the total length needed from b's start when it is
// known (a Content-Length body), else one more segment.
func reqRespReassembly(b []byte, desegBody, untilFin bool) (hdrEnd int, ok bool, need int) {
	p := 0
	var (
		cl        int64
		clFound   bool
		chunked   bool
		keepalive bool
		ctype     []byte
	)
	for {
		if p >= len(b) {
			return 0, false, 0
		}
		ll, nx := findLineEnd(b[p:])
		if ll < 0 {
			return 0, false, 0
		}
		line := b[p : p+ll]
		p += nx
		if ll == 0 {
			break
		}
		if !desegBody {
			continue
		}
		switch line[0] {
		case 'c', 'C', 't', 'T':
		default:
			continue
		}
		switch {
		case asciiPrefixFold(line, "Content-Length:"):
			if v, ok := scanInt(line[15:]); ok {
				cl, clFound = v, true
			}
		case asciiPrefixFold(line, "Content-Type:"):
			v := line[13:]
			for len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			ctype = bytes.TrimRight(v, " \t\r\n")
		case asciiPrefixFold(line, "Connection:"):
			v := line[11:]
			for len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			if asciiPrefixFold(v, "Keep-Alive") {
				keepalive = true
			}
		case asciiPrefixFold(line, "Transfer-Encoding:"):
			v := line[18:]
			for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
				v = v[1:]
			}
			if asciiPrefixFold(v, "chunked") {
				chunked = true
			}
		}
	}
	hdrEnd = p
	if !desegBody {
		return hdrEnd, true, 0
	}
	switch {
	case chunked:
		q := p
		for {
			if q >= len(b) {
				return 0, false, 0
			}
			ll, nx := findLineEnd(b[q:])
			if ll < 0 {
				return 0, false, 0
			}
			sz := chunkSize(b[q : q+ll])
			if sz < 0 || sz > 1<<30 {
				return hdrEnd, true, 0
			}
			q += nx
			if sz == 0 {
				ll, _ := findLineEnd(b[q:])
				if ll < 0 {
					return 0, false, 0
				}
				return hdrEnd, true, 0
			}
			if len(b)-q > int(sz) {
				q += int(sz) + 2
			} else {
				return 0, false, 0
			}
		}
	case clFound:
		if cl >= 128*1024 {
			if bytes.HasPrefix(ctype, []byte("application/rpc")) {
				return hdrEnd, true, 0
			}
			if bytes.HasPrefix(b, []byte("RPC_IN_DATA")) || bytes.HasPrefix(b, []byte("RPC_OUT_DATA")) {
				return hdrEnd, true, 0
			}
		}
		if cl < 0 {
			return hdrEnd, true, 0
		}
		if int64(len(b)-p) < cl {
			return 0, false, p + int(cl)
		}
	case untilFin && !keepalive:
		return 0, false, 1 << 30
	}
	return hdrEnd, true, 0
}

// chunkSize parses a chunk-size line (hex, extensions after ';' ignored) as
// g_ascii_strtoll does: leading blanks, optional sign, hex digits.
func chunkSize(line []byte) int64 {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	neg := false
	if i < len(line) && (line[i] == '-' || line[i] == '+') {
		neg = line[i] == '-'
		i++
	}
	if i+1 < len(line) && line[i] == '0' && (line[i+1] == 'x' || line[i+1] == 'X') {
		i += 2
	}
	var v int64
	for ; i < len(line); i++ {
		ch := line[i]
		var d int64
		switch {
		case ch >= '0' && ch <= '9':
			d = int64(ch - '0')
		case ch >= 'a' && ch <= 'f':
			d = int64(ch-'a') + 10
		case ch >= 'A' && ch <= 'F':
			d = int64(ch-'A') + 10
		default:
			i = len(line)
			continue
		}
		v = v*16 + d
		if v > 1<<40 {
			break
		}
	}
	if neg {
		return -v
	}
	return v
}

// dechunk walks the chunks of a chunked body: the data, the bytes used
// (through the last chunk's trailer) and the number of chunks.
func dechunk(b []byte) (data []byte, used int, n int) {
	p := 0
	var out []byte
	for p < len(b) {
		ll, nx := findLineEnd(b[p:])
		if ll < 0 {
			break
		}
		sz := chunkSize(b[p : p+ll])
		if sz < 0 {
			break
		}
		p += nx
		if sz == 0 {
			// trailer: lines until an empty one
			for p < len(b) {
				ll, nx := findLineEnd(b[p:])
				if ll < 0 {
					p = len(b)
					break
				}
				p += nx
				if ll == 0 {
					break
				}
			}
			return out, p, n
		}
		end := p + int(sz)
		if end > len(b) || end < p {
			out = append(out, b[p:]...)
			n++
			return out, len(b), n
		}
		out = append(out, b[p:end]...)
		n++
		p = end
		// the CRLF after the chunk data
		if p < len(b) && b[p] == '\r' {
			p++
		}
		if p < len(b) && b[p] == '\n' {
			p++
		}
	}
	return out, p, n
}

// scanInt is sscanf("%i"): leading white space, sign, 0x hex or 0 octal.
func scanInt(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == '\v' || b[i] == '\f') {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	base := int64(10)
	if i+1 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') {
		base = 16
		i += 2
	} else if i < len(b) && b[i] == '0' {
		base = 8
	}
	start := i
	var v int64
	for ; i < len(b); i++ {
		ch := b[i]
		var d int64 = -1
		switch {
		case ch >= '0' && ch <= '9':
			d = int64(ch - '0')
		case ch >= 'a' && ch <= 'f':
			d = int64(ch-'a') + 10
		case ch >= 'A' && ch <= 'F':
			d = int64(ch-'A') + 10
		}
		if d < 0 || d >= base {
			break
		}
		v = v*base + d
		if v > 1<<40 {
			v = 1 << 40
		}
	}
	if i == start {
		return 0, false
	}
	if neg {
		v = -v
	}
	return int64(int32(v)), true
}

// httpHeaders are the header values that shape the rendering.
type httpHeaders struct {
	contentType     string
	contentEncoding string
	haveCL          bool
	contentLength   int64
	chunked         bool
	upgrade         int
	ntlm            []byte
	response        bool // the message is a response
}

func (hd *httpHeaders) parse(line []byte) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return
	}
	name := line[:colon]
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	switch {
	case eqFoldB(name, "Content-Type"):
		ct := v
		if i := bytes.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		ct = bytes.TrimRight(ct, " \t")
		if i := bytes.IndexAny(ct, " \t"); i >= 0 {
			ct = ct[:i]
		}
		hd.contentType = lowerString(ct)
	case eqFoldB(name, "Content-Length"):
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err == nil && n >= 0 {
			hd.haveCL, hd.contentLength = true, n
		}
	case eqFoldB(name, "Content-Encoding"):
		hd.contentEncoding = string(bytes.TrimSpace(v))
	case eqFoldB(name, "Transfer-Encoding"):
		if asciiPrefixFold(v, "chunked") {
			hd.chunked = true
		}
	case eqFoldB(name, "Upgrade"):
		switch {
		case asciiPrefixFold(v, "websocket"):
			hd.upgrade = upgradeWebSocket
		case asciiPrefixFold(v, "h2c"):
			hd.upgrade = upgradeHTTP2
		}
	case eqFoldB(name, "Authorization"), eqFoldB(name, "WWW-Authenticate"), eqFoldB(name, "Proxy-Authorization"),
		eqFoldB(name, "Proxy-Authenticate"):
		if asciiPrefixFold(v, "NTLM ") {
			if raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(v[5:]))); err == nil {
				hd.ntlm = raw
			}
		}
	}
}

// ntlmsspInfo appends what the NTLMSSP dissector puts in the Info column.
func ntlmsspInfo(t *span.Text, b []byte) {
	if len(b) < 12 || string(b[:8]) != "NTLMSSP\x00" {
		return
	}
	typ := binary.LittleEndian.Uint32(b[8:])
	t.Lit(", ")
	switch typ {
	case 1:
		t.Field(span.Message, "NTLMSSP_NEGOTIATE")
	case 2:
		t.Field(span.Message, "NTLMSSP_CHALLENGE")
	case 3:
		t.Field(span.Message, "NTLMSSP_AUTH")
		if len(b) >= 64 {
			flags := binary.LittleEndian.Uint32(b[60:])
			unicode := flags&1 != 0
			dom := ntlmString(b, 28, unicode)
			user := ntlmString(b, 36, unicode)
			t.Lit(", User: ")
			st := t.Begin()
			t.Lit(dom)
			t.Lit("\\")
			t.Lit(user)
			t.End(span.Message, st)
		}
	default:
		t.Field(span.Message, "Unknown NTLMSSP message type")
	}
}

func ntlmString(b []byte, at int, unicode bool) string {
	if at+8 > len(b) {
		return ""
	}
	n := int(binary.LittleEndian.Uint16(b[at:]))
	off := int(binary.LittleEndian.Uint32(b[at+4:]))
	if off+n > len(b) || n == 0 {
		return "NULL"
	}
	s := b[off : off+n]
	if !unicode {
		return string(s)
	}
	out := make([]byte, 0, n/2)
	for i := 0; i+1 < len(s); i += 2 {
		r := rune(binary.LittleEndian.Uint16(s[i:]))
		if r < 0x80 {
			out = append(out, byte(r))
		} else {
			out = append(out, string(r)...)
		}
	}
	return string(out)
}

// appendFmtText is epan's format_text: printable ASCII is kept, the
// usual escapes are written as \a \b \f \n \r \t \v, other bytes as \ooo.
// UTF-8 sequences are kept.
func appendFmtText(dst, s []byte) []byte {
	// Fast path: the printable ASCII prefix is copied at once.
	clean := 0
	for clean < len(s) && s[clean] >= 0x20 && s[clean] < 0x7f {
		clean++
	}
	dst = append(dst, s[:clean]...)
	s = s[clean:]
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 0x20 && ch < 0x7f:
			dst = append(dst, ch)
		case ch >= 0x80:
			// keep valid UTF-8 sequences
			n := utf8SeqLen(s[i:])
			if n > 0 {
				dst = append(dst, s[i:i+n]...)
				i += n - 1
			} else {
				dst = append(dst, 0xef, 0xbf, 0xbd) // U+FFFD
			}
		default:
			dst = append(dst, '\\')
			switch ch {
			case '\a':
				dst = append(dst, 'a')
			case '\b':
				dst = append(dst, 'b')
			case '\f':
				dst = append(dst, 'f')
			case '\n':
				dst = append(dst, 'n')
			case '\r':
				dst = append(dst, 'r')
			case '\t':
				dst = append(dst, 't')
			case '\v':
				dst = append(dst, 'v')
			default:
				dst = append(dst, '0'+(ch>>6), '0'+((ch>>3)&7), '0'+(ch&7))
			}
		}
	}
	return dst
}

func utf8SeqLen(b []byte) int {
	c := b[0]
	var n int
	switch {
	case c&0xe0 == 0xc0:
		n = 2
	case c&0xf0 == 0xe0:
		n = 3
	case c&0xf8 == 0xf0:
		n = 4
	default:
		return 0
	}
	if len(b) < n {
		return 0
	}
	for i := 1; i < n; i++ {
		if b[i]&0xc0 != 0x80 {
			return 0
		}
	}
	return n
}

func isPrint(c byte) bool { return c >= 0x20 && c < 0x7f }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// asciiPrefixFold reports whether b starts with p, ignoring ASCII case.
func asciiPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lower(b[i]) != lower(p[i]) {
			return false
		}
	}
	return true
}

func eqFoldB(b []byte, s string) bool { return len(b) == len(s) && asciiPrefixFold(b, s) }

func eqFold(a, s string) bool { return eqFoldB([]byte(a), s) }

// ssdpApp is HTTP over UDP on port 1900.
type ssdpApp struct{}

func (ssdpApp) dissect(c *ctx, u *udpDatagram) bool {
	var h httpConv
	h.message(c, nil, u.payload, false, "SSDP", u.dir)
	return true
}

// isTextMedia reports whether the data-text-lines dissector takes ct.
func isTextMedia(ct string) bool {
	switch ct {
	case "text/plain", "text/html", "text/css", "text/javascript", "application/x-javascript", "application/javascript",
		"text/vnd.sun.j2me.app-descriptor", "application/vnd.poc.refer-to", "application/vnd.oma.drm.message",
		"application/x-wms-logplaystats", "application/x-rtsp-udp-packetpair", "application/x-www-form-urlencoded":
		return true
	}
	return false
}

// inflatePool keeps gzip and flate readers: each holds a 32 KiB window.
var (
	gzipPool  sync.Pool
	flatePool sync.Pool
)

// inflateHead returns up to n bytes of a gzip or deflate encoded body.
func inflateHead(enc string, body []byte, n int) []byte {
	buf := make([]byte, n)
	var k int
	switch {
	case eqFold(enc, "gzip"), eqFold(enc, "x-gzip"):
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(body))
		} else {
			err = zr.Reset(bytes.NewReader(body))
		}
		if err != nil {
			return nil
		}
		k, _ = io.ReadFull(zr, buf)
		gzipPool.Put(zr)
	case eqFold(enc, "deflate"), eqFold(enc, "x-deflate"):
		if len(body) >= 2 && body[0]&0x0f == 8 && (uint16(body[0])<<8|uint16(body[1]))%31 == 0 {
			body = body[2:] // zlib header; the deflate stream follows
		}
		fr, _ := flatePool.Get().(io.ReadCloser)
		if fr == nil {
			fr = flate.NewReader(bytes.NewReader(body))
		} else if fr.(flate.Resetter).Reset(bytes.NewReader(body), nil) != nil {
			return nil
		}
		k, _ = io.ReadFull(fr, buf)
		flatePool.Put(fr)
	default:
		return nil
	}
	return buf[:k]
}

var ippOperations = map[uint16]string{
	0x0002: "Print-Job", 0x0003: "Print-URI", 0x0004: "Validate-Job", 0x0005: "Create-Job",
	0x0006: "Send-Document", 0x0007: "Send-URI", 0x0008: "Cancel-Job", 0x0009: "Get-Job-Attributes",
	0x000a: "Get-Jobs", 0x000b: "Get-Printer-Attributes", 0x000c: "Hold-Job", 0x000d: "Release-Job",
	0x000e: "Restart-Job", 0x0010: "Pause-Printer", 0x0011: "Resume-Printer", 0x0012: "Purge-Jobs",
	0x0013: "Set-Printer-Attributes", 0x0014: "Set-Job-Attributes", 0x0015: "Get-Printer-Supported-Values",
	0x0016: "Create-Printer-Subscriptions", 0x0017: "Create-Job-Subscriptions", 0x0018: "Get-Subscription-Attributes",
	0x0019: "Get-Subscriptions", 0x001a: "Renew-Subscription", 0x001b: "Cancel-Subscription",
	0x001c: "Get-Notifications", 0x0022: "Enable-Printer", 0x0023: "Disable-Printer",
	0x003b: "Close-Job", 0x003c: "Identify-Printer",
	0x4001: "CUPS-Get-Default", 0x4002: "CUPS-Get-Printers", 0x4003: "CUPS-Add-Modify-Printer",
	0x4004: "CUPS-Delete-Printer", 0x4005: "CUPS-Get-Classes", 0x4006: "CUPS-Add-Modify-Class",
	0x4007: "CUPS-Delete-Class", 0x4008: "CUPS-Accept-Jobs", 0x4009: "CUPS-Reject-Jobs",
	0x400a: "CUPS-Set-Default", 0x400b: "CUPS-Get-Devices", 0x400c: "CUPS-Get-PPDs", 0x400d: "CUPS-Move-Job",
	0x400e: "CUPS-Authenticate-Job", 0x400f: "CUPS-Get-PPD", 0x4027: "CUPS-Get-Document",
}

func ippOperationName(op uint16) string {
	if n, ok := ippOperations[op]; ok {
		return n
	}
	return "Unknown (0x" + strconv.FormatUint(uint64(op), 16) + ")"
}

var ippStatuses = map[uint16]string{
	0x0000: "successful-ok", 0x0001: "successful-ok-ignored-or-substituted-attributes",
	0x0002: "successful-ok-conflicting-attributes", 0x0003: "successful-ok-ignored-subscriptions",
	0x0005: "successful-ok-too-many-events", 0x0007: "successful-ok-events-complete",
	0x0400: "client-error-bad-request", 0x0401: "client-error-forbidden", 0x0402: "client-error-not-authenticated",
	0x0403: "client-error-not-authorized", 0x0404: "client-error-not-possible", 0x0405: "client-error-timeout",
	0x0406: "client-error-not-found", 0x0407: "client-error-gone", 0x0408: "client-error-request-entity-too-large",
	0x0409: "client-error-request-value-too-long", 0x040a: "client-error-document-format-not-supported",
	0x040b: "client-error-attributes-or-values-not-supported", 0x040c: "client-error-uri-scheme-not-supported",
	0x040d: "client-error-charset-not-supported", 0x040e: "client-error-conflicting-attributes",
	0x040f: "client-error-compression-not-supported", 0x0410: "client-error-compression-error",
	0x0411: "client-error-document-format-error", 0x0412: "client-error-document-access-error",
	0x0500: "server-error-internal-error", 0x0501: "server-error-operation-not-supported",
	0x0502: "server-error-service-unavailable", 0x0503: "server-error-version-not-supported",
	0x0504: "server-error-device-error", 0x0505: "server-error-temporary-error",
	0x0506: "server-error-not-accepting-jobs", 0x0507: "server-error-busy", 0x0508: "server-error-job-canceled",
	0x0509: "server-error-multiple-document-jobs-not-supported",
}

func ippStatusName(code uint16) string {
	if n, ok := ippStatuses[code]; ok {
		return n
	}
	return "Unknown (0x" + strconv.FormatUint(uint64(code), 16) + ")"
}

func hasPrefixStr(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// mediaTypes interns the common media types so that reading them does not
// allocate.
var mediaTypes = map[string]string{}

func init() {
	for _, t := range []string{"text/html", "text/plain", "text/css", "text/javascript", "text/xml", "application/json",
		"application/javascript", "application/x-javascript", "application/xml", "application/octet-stream",
		"image/png", "image/gif", "image/jpeg", "image/webp", "application/x-www-form-urlencoded",
		"application/ocsp-request", "application/ocsp-response", "application/ipp"} {
		mediaTypes[t] = t
	}
}

// lowerString returns b in lower case as a string, without allocating for
// the common media types.
func lowerString(b []byte) string {
	var buf [64]byte
	if len(b) <= len(buf) {
		for i, c := range b {
			buf[i] = lower(c)
		}
		if s, ok := mediaTypes[string(buf[:len(b)])]; ok {
			return s
		}
		return string(buf[:len(b)])
	}
	return string(bytes.ToLower(b))
}
