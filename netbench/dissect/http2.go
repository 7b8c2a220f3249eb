package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// HTTP/2 in clear text (h2c after an HTTP/1.1 Upgrade, or with prior
// knowledge after the connection preface) as packet-http2.c renders it:
// one "TYPE[stream]" per frame, joined by ", ", with the request line or
// status of HEADERS frames decoded from HPACK and the media type of DATA.

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// http2Conn is the state of one HTTP/2 connection.
type http2Conn struct {
	streamGuard
	dec     [2]hpackDecoder // per direction
	ctype   map[uint32]string
	preface [2]bool           // the client preface was seen (direction 0/1)
	body    map[uint32][]byte // DNS messages being gathered, by stream
	hdrBuf  [2][]byte
}

type http2App struct{ c *http2Conn }

// newHTTP2 returns the app taking over a conversation.
func newHTTP2() *http2App {
	c := &http2Conn{ctype: map[uint32]string{}}
	c.dec[0].maxSize, c.dec[1].maxSize = 4096, 4096
	return &http2App{c: c}
}

var http2FrameTypes = [...]string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"}

func (a *http2App) dissect(s *tcpSegment, data []byte) int {
	h := a.c
	if h.old(s) {
		return len(data)
	}
	c := s.c
	off := 0
	rendered := false
	var t *span.Text
	begin := func() {
		if !rendered {
			rendered = true
			t = c.colSet("HTTP2")
		} else {
			c.setProto("HTTP2")
			if len(t.B) > c.fenceB {
				t.Lit(", ")
			}
		}
	}
	for off < len(data) {
		b := data[off:]
		if len(b) >= len(http2Preface) && string(b[:len(http2Preface)]) == http2Preface {
			begin()
			t.Field(span.Message, "Magic")
			off += len(http2Preface)
			continue
		}
		if len(b) < len(http2Preface) && string(b) == http2Preface[:len(b)] {
			break // the preface continues in the next segment
		}
		if len(b) < 9 {
			break
		}
		flen := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if len(b) < 9+flen {
			break
		}
		typ, flags := b[3], b[4]
		stream := binary.BigEndian.Uint32(b[5:]) & 0x7fffffff
		payload := b[9 : 9+flen]
		begin()
		st := t.Begin()
		if int(typ) < len(http2FrameTypes) {
			t.Lit(http2FrameTypes[typ])
		} else {
			t.Lit("Unknown type (")
			t.B = strconv.AppendUint(t.B, uint64(typ), 10)
			t.Lit(")")
		}
		t.Lit("[")
		t.B = strconv.AppendUint(t.B, uint64(stream), 10)
		t.Lit("]")
		switch typ {
		case 1, 9: // HEADERS, CONTINUATION
			p := payload
			if typ == 1 {
				if flags&0x08 != 0 && len(p) > 0 { // PADDED
					pad := int(p[0])
					p = p[1:]
					if pad <= len(p) {
						p = p[:len(p)-pad]
					}
				}
				if flags&0x20 != 0 && len(p) >= 5 { // PRIORITY
					p = p[5:]
				}
			}
			hb := &h.hdrBuf[s.dir]
			*hb = append(*hb, p...)
			if flags&0x04 != 0 { // END_HEADERS
				h.headers(t, s.dir, stream, *hb)
				*hb = (*hb)[:0]
			}
		case 0: // DATA
			ct := h.ctype[stream]
			if ct == "application/dns-message" {
				p := payload
				if flags&0x08 != 0 && len(p) > 0 { // PADDED
					pad := int(p[0])
					p = p[1:]
					if pad <= len(p) {
						p = p[:len(p)-pad]
					}
				}
				if h.body == nil {
					h.body = map[uint32][]byte{}
				}
				if len(h.body[stream]) < 1<<16 {
					h.body[stream] = append(h.body[stream], p...)
				}
			}
			if flags&0x01 != 0 { // END_STREAM
				switch {
				case ct == "application/dns-message":
					// DNS over HTTPS: the DNS Info replaces what came before.
					t.End(span.Message, st)
					c.dnsMessage(h.body[stream], dnsPlain, false)
					c.setProto("DoH")
					delete(h.body, stream)
					off += 9 + flen
					continue
				case ct != "":
					t.Lit(" (")
					t.Lit(ct)
					t.Lit(")")
				}
			}
		}
		t.End(span.Message, st)
		off += 9 + flen
	}
	if rendered {
		s.done()
	}
	return off
}

// headers decodes a header block and appends the request line or status.
func (h *http2Conn) headers(t *span.Text, dir int, stream uint32, block []byte) {
	var method, path, status, ctype string
	first := true
	add := func(v string) {
		if first {
			t.Lit(": ")
			first = false
		} else {
			t.Lit(" ")
		}
		t.Lit(v)
	}
	h.dec[dir].decode(block, func(name, value string) {
		switch name {
		case ":method":
			method = value
			add(value)
		case ":path":
			path = value
			add(value)
		case ":status":
			status = value
			add(value)
			code, _ := strconv.Atoi(value)
			t.Lit(" ")
			t.Lit(httpStatusText(code))
		case "content-type":
			ctype = value
		}
	})
	_, _, _ = method, path, status
	if ctype != "" {
		if i := indexByteStr(ctype, ';'); i >= 0 {
			ctype = ctype[:i]
		}
		h.ctype[stream] = trimSpaceStr(ctype)
	}
}

func indexByteStr(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimSpaceStr(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// httpStatusText is the reason phrase tshark shows for a status code.
func httpStatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 102:
		return "Processing"
	case 103:
		return "Early Hints"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 203:
		return "Non-authoritative Information"
	case 204:
		return "No Content"
	case 205:
		return "Reset Content"
	case 206:
		return "Partial Content"
	case 207:
		return "Multi-Status"
	case 300:
		return "Multiple Choices"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 303:
		return "See Other"
	case 304:
		return "Not Modified"
	case 305:
		return "Use Proxy"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 402:
		return "Payment Required"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 406:
		return "Not Acceptable"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Time-out"
	case 409:
		return "Conflict"
	case 410:
		return "Gone"
	case 411:
		return "Length Required"
	case 412:
		return "Precondition Failed"
	case 413:
		return "Request Entity Too Large"
	case 414:
		return "Request-URI Too Long"
	case 415:
		return "Unsupported Media Type"
	case 416:
		return "Requested Range Not Satisfiable"
	case 417:
		return "Expectation Failed"
	case 418:
		return "I'm a teapot"
	case 421:
		return "Misdirected Request"
	case 422:
		return "Unprocessable Entity"
	case 423:
		return "Locked"
	case 424:
		return "Failed Dependency"
	case 426:
		return "Upgrade Required"
	case 428:
		return "Precondition Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 451:
		return "Unavailable For Legal Reasons"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Time-out"
	case 505:
		return "HTTP Version not supported"
	case 507:
		return "Insufficient Storage"
	case 511:
		return "Network Authentication Required"
	}
	return "Unknown"
}

// ---- HPACK (RFC 7541) ----

type hpackField struct{ name, value string }

type hpackDecoder struct {
	dyn     []hpackField // newest first
	size    int
	maxSize int
}

var hpackStatic = [...]hpackField{
	{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"}, {":path", "/index.html"},
	{":scheme", "http"}, {":scheme", "https"}, {":status", "200"}, {":status", "204"}, {":status", "206"},
	{":status", "304"}, {":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""},
	{"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
	{"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
	{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""}, {"date", ""},
	{"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""}, {"if-match", ""},
	{"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""},
	{"last-modified", ""}, {"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
	{"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""},
	{"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
	{"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
}

func (d *hpackDecoder) field(i int) (hpackField, bool) {
	if i <= 0 {
		return hpackField{}, false
	}
	if i <= len(hpackStatic) {
		return hpackStatic[i-1], true
	}
	i -= len(hpackStatic) + 1
	if i < len(d.dyn) {
		return d.dyn[i], true
	}
	return hpackField{}, false
}

func (d *hpackDecoder) add(f hpackField) {
	sz := len(f.name) + len(f.value) + 32
	d.dyn = append(d.dyn, hpackField{})
	copy(d.dyn[1:], d.dyn)
	d.dyn[0] = f
	d.size += sz
	d.evict()
}

func (d *hpackDecoder) evict() {
	for d.size > d.maxSize && len(d.dyn) > 0 {
		f := d.dyn[len(d.dyn)-1]
		d.size -= len(f.name) + len(f.value) + 32
		d.dyn = d.dyn[:len(d.dyn)-1]
	}
}

// hpackInt reads an integer with an n-bit prefix.
func hpackInt(b []byte, n uint) (int, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	mask := 1<<n - 1
	v := int(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, true
	}
	shift := 0
	for len(b) > 0 {
		c := b[0]
		b = b[1:]
		v += int(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			return v, b, true
		}
		if shift > 28 {
			break
		}
	}
	return 0, nil, false
}

func hpackString(b []byte) (string, []byte, bool) {
	if len(b) == 0 {
		return "", nil, false
	}
	huff := b[0]&0x80 != 0
	n, rest, ok := hpackInt(b, 7)
	if !ok || n > len(rest) {
		return "", nil, false
	}
	raw := rest[:n]
	if huff {
		s, ok := huffmanDecode(raw)
		return s, rest[n:], ok
	}
	return string(raw), rest[n:], true
}

// decode walks a header block, calling f for each field.
func (d *hpackDecoder) decode(b []byte, f func(name, value string)) {
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed
			i, rest, ok := hpackInt(b, 7)
			if !ok {
				return
			}
			fl, ok := d.field(i)
			if !ok {
				return
			}
			f(fl.name, fl.value)
			b = rest
		case c&0xe0 == 0x20: // size update
			sz, rest, ok := hpackInt(b, 5)
			if !ok {
				return
			}
			d.maxSize = sz
			d.evict()
			b = rest
		default:
			prefix := uint(4)
			index := false
			if c&0x40 != 0 {
				prefix, index = 6, true
			}
			i, rest, ok := hpackInt(b, prefix)
			if !ok {
				return
			}
			var name string
			if i > 0 {
				fl, ok := d.field(i)
				if !ok {
					return
				}
				name = fl.name
			} else {
				name, rest, ok = hpackString(rest)
				if !ok {
					return
				}
			}
			value, rest2, ok := hpackString(rest)
			if !ok {
				return
			}
			f(name, value)
			if index {
				d.add(hpackField{name, value})
			}
			b = rest2
		}
	}
}

// hpackHuffTree is the decoding tree of the Huffman code: node i has
// children at [2i] and [2i+1]; a child value >= 0x10000 is a leaf holding
// the symbol + 0x10000, 0 an absent child.
var hpackHuffTree = buildHuffTree()

func buildHuffTree() []int32 {
	tree := make([]int32, 2, 1024)
	for sym := 0; sym < 256; sym++ {
		code, n := hpackHuffCodes[sym], int(hpackHuffLens[sym])
		node := 0
		for i := n - 1; i >= 0; i-- {
			bit := int((code >> uint(i)) & 1)
			slot := 2*node + bit
			if i == 0 {
				tree[slot] = int32(0x10000 + sym)
				break
			}
			if tree[slot] == 0 {
				tree = append(tree, 0, 0)
				tree[slot] = int32(len(tree)/2 - 1)
			}
			node = int(tree[slot])
		}
	}
	return tree
}

func huffmanDecode(b []byte) (string, bool) {
	out := make([]byte, 0, len(b)*8/5)
	node := 0
	for _, c := range b {
		for i := 7; i >= 0; i-- {
			next := hpackHuffTree[2*node+int((c>>uint(i))&1)]
			switch {
			case next >= 0x10000:
				out = append(out, byte(next-0x10000))
				node = 0
			case next == 0:
				return string(out), true // EOS padding
			default:
				node = int(next)
			}
		}
	}
	return string(out), true
}
