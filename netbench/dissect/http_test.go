package dissect

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/span"
)

// tcpFlowBuilder makes raw IPv4/TCP frames of one conversation, keeping the
// sequence numbers of both directions.
type tcpFlowBuilder struct {
	t0    time.Time
	n     int
	seq   [2]uint32
	ports [2]uint16
}

func newTCPFlow(clientPort, serverPort uint16) *tcpFlowBuilder {
	return &tcpFlowBuilder{t0: time.Unix(1700000000, 0), seq: [2]uint32{1000, 5000}, ports: [2]uint16{clientPort, serverPort}}
}

// frame returns a frame from dir (0 client, 1 server) with flags and payload.
func (b *tcpFlowBuilder) frame(dir int, flags uint16, payload string) *capture.Frame {
	b.n++
	src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	if dir == 1 {
		src, dst = dst, src
	}
	tcp := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(tcp[0:], b.ports[dir])
	binary.BigEndian.PutUint16(tcp[2:], b.ports[1-dir])
	binary.BigEndian.PutUint32(tcp[4:], b.seq[dir])
	if flags&thACK != 0 {
		binary.BigEndian.PutUint32(tcp[8:], b.seq[1-dir])
	}
	tcp[12] = 5 << 4
	tcp[13] = byte(flags)
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[20:], payload)
	b.seq[dir] += uint32(len(payload))
	if flags&(thSYN|thFIN) != 0 {
		b.seq[dir]++
	}
	ip := make([]byte, 20, 20+len(tcp))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	ip[8] = 64
	ip[9] = protoTCP
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	ip = append(ip, tcp...)
	return &capture.Frame{Index: b.n, Time: b.t0.Add(time.Duration(b.n) * time.Millisecond), OrigLen: len(ip), Data: ip, LinkType: capture.LinkRaw}
}

type renderedFrame struct{ proto, info string }

// renderFlow dissects the frames in order and returns Protocol and Info.
func renderFlow(frames ...*capture.Frame) []renderedFrame {
	d := New(Config{})
	var p Packet
	out := make([]renderedFrame, 0, len(frames))
	for _, f := range frames {
		d.Dissect(f, &p)
		out = append(out, renderedFrame{p.Protocol, p.Info.String()})
	}
	return out
}

// handshake returns the three frames opening a conversation.
func httpHandshake(b *tcpFlowBuilder) []*capture.Frame {
	return []*capture.Frame{b.frame(0, thSYN, ""), b.frame(1, thSYN|thACK, ""), b.frame(0, thACK, "")}
}

func TestHTTPReassembly(t *testing.T) {
	body := strings.Repeat("x", 100)
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 100\r\n\r\n"
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
	tests := []struct {
		name     string
		segments []struct {
			dir  int
			data string
		}
		want []renderedFrame // for the frames after the handshake
	}{
		{
			name: "request and response in one segment each",
			segments: []struct {
				dir  int
				data string
			}{{0, "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"}, {1, resp + body}},
			want: []renderedFrame{{"HTTP", "GET /index.html HTTP/1.1 "}, {"HTTP", "HTTP/1.1 200 OK  (text/html)"}},
		},
		{
			name: "body split: first frame names the response, middle frame is plain TCP",
			segments: []struct {
				dir  int
				data string
			}{{1, resp + body[:10]}, {1, body[10:60]}, {1, body[60:]}},
			want: []renderedFrame{
				{"TCP", "HTTP/1.1 200 OK  [TCP segment of a reassembled PDU]"},
				{"TCP", "80 → 40000 [ACK] Seq=91 Ack=1 Win=65535 Len=50 [TCP segment of a reassembled PDU]"},
				{"HTTP", "HTTP/1.1 200 OK  (text/html)"},
			},
		},
		{
			name: "headers split: each frame asks for one more segment",
			segments: []struct {
				dir  int
				data string
			}{{1, resp[:20]}, {1, resp[20:] + body}},
			want: []renderedFrame{
				{"TCP", "HTTP/1.1 200 OK  [TCP segment of a reassembled PDU]"},
				{"HTTP", "HTTP/1.1 200 OK  (text/html)"},
			},
		},
		{
			name: "chunked body over two segments",
			segments: []struct {
				dir  int
				data string
			}{{1, chunked + "5\r\nhello\r\n"}, {1, "0\r\n\r\n"}},
			want: []renderedFrame{
				{"TCP", "HTTP/1.1 200 OK  [TCP segment of a reassembled PDU]"},
				{"HTTP", "HTTP/1.1 200 OK  (text/plain)"},
			},
		},
		{
			name: "304 has no body to wait for; later data is a continuation",
			segments: []struct {
				dir  int
				data string
			}{{1, "HTTP/1.1 304 Not Modified\r\nDate: x\r\n\r\n"}, {1, "garbage\r\n"}},
			want: []renderedFrame{{"HTTP", "HTTP/1.1 304 Not Modified "}, {"HTTP", "Continuation"}},
		},
		{
			name: "JSON body",
			segments: []struct {
				dir  int
				data string
			}{{1, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"}},
			want: []renderedFrame{{"HTTP/JSON", "HTTP/1.1 200 OK , JavaScript Object Notation (application/json)"}},
		},
		{
			name: "WebSocket after the upgrade",
			segments: []struct {
				dir  int
				data string
			}{
				{0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
				{1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"},
				{0, "\x81\x82abcd\x00\x00"},
				{1, "\x82\x01z"},
			},
			want: []renderedFrame{
				{"HTTP", "GET /ws HTTP/1.1 "},
				{"HTTP", "HTTP/1.1 101 Switching Protocols "},
				{"WebSocket", "WebSocket Text [FIN] [MASKED]"},
				{"WebSocket", "WebSocket Binary [FIN] "},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTCPFlow(40000, 80)
			frames := httpHandshake(b)
			for _, s := range tc.segments {
				frames = append(frames, b.frame(s.dir, thACK, s.data))
			}
			got := renderFlow(frames...)[3:]
			for i, w := range tc.want {
				if got[i] != w {
					t.Errorf("frame %d: got %q %q, want %q %q", i+4, got[i].proto, got[i].info, w.proto, w.info)
				}
			}
		})
	}
}

func TestHTTPInfoSpans(t *testing.T) {
	b := newTCPFlow(40000, 8080)
	frames := append(httpHandshake(b), b.frame(0, thACK, "GET / HTTP/1.1\r\n\r\n"))
	d := New(Config{})
	var p Packet
	for _, f := range frames {
		d.Dissect(f, &p)
	}
	if len(p.Info.Spans) != 1 || p.Info.Spans[0].Kind != span.Message {
		t.Fatalf("spans %+v, want one message span", p.Info.Spans)
	}
	if s := p.Info.Spans[0]; string(p.Info.B[s.Start:s.End]) != "GET / HTTP/1.1" {
		t.Errorf("message span covers %q", p.Info.B[s.Start:s.End])
	}
}

func TestHTTPHelpers(t *testing.T) {
	for _, tc := range []struct {
		in       string
		ll, next int
	}{{"abc\r\nx", 3, 5}, {"abc\nx", 3, 4}, {"abc\rx", 3, 4}, {"abc\r", -1, 4}, {"abc", -1, 3}} {
		if ll, next := findLineEnd([]byte(tc.in)); ll != tc.ll || next != tc.next {
			t.Errorf("findLineEnd(%q) = %d, %d; want %d, %d", tc.in, ll, next, tc.ll, tc.next)
		}
	}
	for _, tc := range []struct {
		in  string
		typ int
	}{{"GET / HTTP/1.1", httpRequest}, {"HTTP/1.0 200 OK", httpResponse}, {"M-SEARCH * HTTP/1.1", httpRequest},
		{"NOTIFY * HTTP/1.1", httpNotification}, {"get / HTTP/1.1", httpOther}, {"GETX / HTTP/1.1", httpOther}} {
		if typ, _ := httpRequestOrReply([]byte(tc.in)); typ != tc.typ {
			t.Errorf("httpRequestOrReply(%q) = %d, want %d", tc.in, typ, tc.typ)
		}
	}
	for _, tc := range []struct {
		in string
		v  int64
		ok bool
	}{{" 42", 42, true}, {"0x10", 16, true}, {"010", 8, true}, {"-3", -3, true}, {"x", 0, false}} {
		if v, ok := scanInt([]byte(tc.in)); v != tc.v || ok != tc.ok {
			t.Errorf("scanInt(%q) = %d, %v; want %d, %v", tc.in, v, ok, tc.v, tc.ok)
		}
	}
	if got := chunkSize([]byte("1a;ext=1")); got != 26 {
		t.Errorf("chunkSize = %d, want 26", got)
	}
	if got := string(appendFmtText(nil, []byte("a\tb\x01"))); got != `a\tb\001` {
		t.Errorf("appendFmtText = %q", got)
	}
}

func TestSSDP(t *testing.T) {
	udp := make([]byte, 8)
	payload := "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n"
	binary.BigEndian.PutUint16(udp[0:], 50000)
	binary.BigEndian.PutUint16(udp[2:], 1900)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	ip[9] = protoUDP
	copy(ip[12:], []byte{10, 0, 0, 1})
	copy(ip[16:], []byte{239, 255, 255, 250})
	ip = append(ip, udp...)
	got := renderFlow(&capture.Frame{Index: 1, OrigLen: len(ip), Data: ip, LinkType: capture.LinkRaw})
	if got[0] != (renderedFrame{"SSDP", "M-SEARCH * HTTP/1.1 "}) {
		t.Errorf("got %q %q", got[0].proto, got[0].info)
	}
}

func TestHTTPCompressedXMLBody(t *testing.T) {
	xml := `<?xml version="1.0" encoding="UTF-8"?><a>` + strings.Repeat("b", 50) + `</a>`
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(xml))
	zw.Close()
	for i := 0; i < 2; i++ { // the second run reuses the pooled reader
		b := newTCPFlow(40000, 80)
		frames := append(httpHandshake(b), b.frame(1, thACK, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: "+
			strconv.Itoa(zb.Len())+"\r\n\r\n"+zb.String()))
		got := renderFlow(frames...)[3]
		if want := (renderedFrame{"HTTP/XML", "HTTP/1.1 200 OK "}); got != want {
			t.Errorf("run %d: got %q %q, want %q %q", i, got.proto, got.info, want.proto, want.info)
		}
	}
}

func TestHTTPGathersFirstLine(t *testing.T) {
	b := newTCPFlow(40000, 80)
	frames := httpHandshake(b)
	frames = append(frames, b.frame(0, thACK, "GET /a"), b.frame(0, thACK, strings.Repeat("b", 3000)), b.frame(0, thACK, " HTTP/1.1\r"), b.frame(0, thACK, "\n\r\n"))
	got := renderFlow(frames...)[3:]
	for i := 0; i < 3; i++ {
		if got[i].proto != "TCP" || !strings.HasSuffix(got[i].info, "[TCP segment of a reassembled PDU]") {
			t.Errorf("frame %d: %q %q", i+4, got[i].proto, got[i].info)
		}
	}
	if want := "GET /a" + strings.Repeat("b", 3000) + " HTTP/1.1 "; got[3].proto != "HTTP" || got[3].info != want {
		t.Errorf("last frame: %q %.40q", got[3].proto, got[3].info)
	}
}
