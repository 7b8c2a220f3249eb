package dissect

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/span"
)

// seg describes one TCP segment of a synthetic capture.
type seg struct {
	fromB    bool // sent by B (10.0.0.2:portB) rather than A (10.0.0.1:40000)
	flags    uint16
	seq, ack uint32
	win      uint16
	opts     []byte
	payload  []byte
	dt       time.Duration // time since the previous frame
	snap     int           // captured bytes of the payload when > 0 (frame cut short)
}

// portB is B's port: one no application dissector claims, so that these
// tests see the TCP core alone whatever protocols are registered.
const portB = 47001

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// ipv4Packet builds an IPv4 header around payload.
func ipv4Packet(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	b[8] = 64
	b[9] = proto
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	return append(b, payload...)
}

func tcpHeader(sp, dp uint16, s seg) []byte {
	opts := s.opts
	for len(opts)%4 != 0 {
		opts = append(opts, 1) // NOP
	}
	h := make([]byte, 20, 20+len(opts)+len(s.payload))
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint32(h[4:], s.seq)
	binary.BigEndian.PutUint32(h[8:], s.ack)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = byte(s.flags)
	binary.BigEndian.PutUint16(h[14:], s.win)
	h = append(h, opts...)
	return append(h, s.payload...)
}

// renderSegs dissects the segments in order on raw-IP frames and returns
// each frame's Protocol and Info.
func renderSegs(t *testing.T, segs []seg) []string {
	t.Helper()
	d := New(Config{})
	now := time.Unix(1700000000, 0)
	var out []string
	for i, s := range segs {
		src, dst, sp, dp := addrA, addrB, uint16(40000), uint16(portB)
		if s.fromB {
			src, dst, sp, dp = addrB, addrA, portB, 40000
		}
		pkt := ipv4Packet(src, dst, 6, tcpHeader(sp, dp, s))
		orig := len(pkt)
		if s.snap > 0 {
			pkt = pkt[:len(pkt)-len(s.payload)+s.snap]
		}
		if s.dt == 0 {
			s.dt = 10 * time.Millisecond
		}
		now = now.Add(s.dt)
		var p Packet
		d.Dissect(&capture.Frame{Index: i + 1, Time: now, OrigLen: orig, Data: pkt, LinkType: capture.LinkRaw}, &p)
		checkPacket(t, &p)
		out = append(out, p.Protocol+" | "+p.Info.String())
	}
	return out
}

func optMSS(v uint16) []byte { return []byte{2, 4, byte(v >> 8), byte(v)} }
func optWS(s byte) []byte    { return []byte{3, 3, s} }

const (
	isnA = 1000
	isnB = 5000
)

// handshake is a three-way handshake with window scaling 7 (A) and 8 (B).
func handshake() []seg {
	return []seg{
		{flags: thSYN, seq: isnA, win: 64240, opts: append(optMSS(1460), optWS(7)...)},
		{fromB: true, flags: thSYN | thACK, seq: isnB, ack: isnA + 1, win: 65160, opts: append(optMSS(1460), optWS(8)...), dt: 20 * time.Millisecond},
		{flags: thACK, seq: isnA + 1, ack: isnB + 1, win: 502, dt: 20 * time.Millisecond},
	}
}

func checkLines(t *testing.T, got []string, want map[int]string) {
	t.Helper()
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			g := ""
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("frame %d:\n got  %s\n want %s", i+1, g, w)
		}
	}
}

func TestTCPHandshakeAndScaling(t *testing.T) {
	got := renderSegs(t, handshake())
	checkLines(t, got, map[int]string{
		0: "TCP | 40000 → 47001 [SYN] Seq=0 Win=64240 Len=0 MSS=1460 WS=128",
		1: "TCP | 47001 → 40000 [SYN, ACK] Seq=0 Ack=1 Win=65160 Len=0 MSS=1460 WS=256",
		2: "TCP | 40000 → 47001 [ACK] Seq=1 Ack=1 Win=64256 Len=0",
	})
	// Without WS in the SYN/ACK, neither side scales.
	segs := handshake()
	segs[1].opts = optMSS(1460)
	got = renderSegs(t, segs)
	checkLines(t, got, map[int]string{2: "TCP | 40000 → 47001 [ACK] Seq=1 Ack=1 Win=502 Len=0"})
}

// TestTCPMidStream: a capture that starts mid-conversation numbers from 1.
func TestTCPMidStream(t *testing.T) {
	got := renderSegs(t, []seg{
		{flags: thACK | thPSH, seq: 7777, ack: 9999, win: 100, payload: []byte("abcd")},
		{fromB: true, flags: thACK, seq: 9999, ack: 7781, win: 200},
	})
	checkLines(t, got, map[int]string{
		0: "TCP | 40000 → 47001 [PSH, ACK] Seq=1 Ack=1 Win=100 Len=4",
		1: "TCP | 47001 → 40000 [ACK] Seq=1 Ack=5 Win=200 Len=0",
	})
}

func TestTCPAnalysis(t *testing.T) {
	data := bytes.Repeat([]byte{0xee}, 10)
	segs := append(handshake(),
		seg{flags: thACK | thPSH, seq: isnA + 1, ack: isnB + 1, win: 502, payload: data},                        // 4
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 11, win: 509},                                 // 5
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 11, win: 509},                                 // 6 dup ack
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 11, win: 509},                                 // 7 dup ack
		seg{flags: thACK | thPSH, seq: isnA + 1, ack: isnB + 1, win: 502, payload: data, dt: time.Second},       // 8 spurious
		seg{flags: thACK | thPSH, seq: isnA + 11, ack: isnB + 1, win: 502, payload: data},                       // 9
		seg{flags: thACK | thPSH, seq: isnA + 11, ack: isnB + 1, win: 502, payload: data, dt: time.Second},      // 10 retransmission
		seg{flags: thACK | thPSH, seq: isnA + 31, ack: isnB + 1, win: 502, payload: data},                       // 11 previous not captured
		seg{flags: thACK | thPSH, seq: isnA + 21, ack: isnB + 1, win: 502, payload: data, dt: time.Millisecond}, // 12 out-of-order
		seg{flags: thACK, seq: isnA + 40, ack: isnB + 1, win: 502, dt: 5 * time.Second},                         // 13 keep-alive
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 41, win: 509},                                 // 14 keep-alive ACK? (ack moved: no)
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 41, win: 0},                                   // 15 zero window
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 41, win: 509},                                 // 16 window update
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 61, win: 509},                                 // 17 ACKed unseen
	)
	got := renderSegs(t, segs)
	checkLines(t, got, map[int]string{
		3:  "TCP | 40000 → 47001 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=10",
		5:  "TCP | [TCP Dup ACK 5#1] 47001 → 40000 [ACK] Seq=1 Ack=11 Win=130304 Len=0",
		6:  "TCP | [TCP Dup ACK 5#2] 47001 → 40000 [ACK] Seq=1 Ack=11 Win=130304 Len=0",
		7:  "TCP | [TCP Spurious Retransmission] 40000 → 47001 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=10",
		9:  "TCP | [TCP Retransmission] 40000 → 47001 [PSH, ACK] Seq=11 Ack=1 Win=64256 Len=10",
		10: "TCP | [TCP Previous segment not captured] 40000 → 47001 [PSH, ACK] Seq=31 Ack=1 Win=64256 Len=10",
		11: "TCP | [TCP Out-Of-Order] 40000 → 47001 [PSH, ACK] Seq=21 Ack=1 Win=64256 Len=10",
		12: "TCP | [TCP Keep-Alive] 40000 → 47001 [ACK] Seq=40 Ack=1 Win=64256 Len=0",
		14: "TCP | [TCP ZeroWindow] 47001 → 40000 [ACK] Seq=1 Ack=41 Win=0 Len=0",
		15: "TCP | [TCP Window Update] 47001 → 40000 [ACK] Seq=1 Ack=41 Win=130304 Len=0",
		16: "TCP | [TCP ACKed unseen segment] 47001 → 40000 [ACK] Seq=1 Ack=61 Win=130304 Len=0",
	})
}

func TestTCPFastRetransmission(t *testing.T) {
	data := bytes.Repeat([]byte{0xee}, 10)
	segs := append(handshake(),
		seg{flags: thACK, seq: isnA + 1, ack: isnB + 1, win: 502, payload: data},                        // 4
		seg{flags: thACK, seq: isnA + 11, ack: isnB + 1, win: 502, payload: data},                       // 5 (lost on the way)
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 11, win: 509},                         // 6
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 11, win: 509, dt: time.Millisecond},   // 7 dup 1
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 11, win: 509, dt: time.Millisecond},   // 8 dup 2
		seg{flags: thACK, seq: isnA + 11, ack: isnB + 1, win: 502, payload: data, dt: time.Millisecond}, // 9 fast retransmission
	)
	got := renderSegs(t, segs)
	checkLines(t, got, map[int]string{
		7: "TCP | [TCP Dup ACK 6#2] 47001 → 40000 [ACK] Seq=1 Ack=11 Win=130304 Len=0",
		8: "TCP | [TCP Fast Retransmission] 40000 → 47001 [ACK] Seq=11 Ack=1 Win=64256 Len=10",
	})
}

func TestTCPPortsReused(t *testing.T) {
	segs := append(handshake(), seg{flags: thFIN | thACK, seq: isnA + 1, ack: isnB + 1, win: 502},
		seg{flags: thSYN, seq: 90000, win: 64240, opts: optMSS(1460), dt: time.Second})
	got := renderSegs(t, segs)
	checkLines(t, got, map[int]string{
		4: "TCP | [TCP Port numbers reused] 40000 → 47001 [SYN] Seq=0 Win=64240 Len=0 MSS=1460",
	})
	// The same SYN again is a retransmission, not a new conversation.
	segs = append(handshake()[:1], seg{flags: thSYN, seq: isnA, win: 64240, opts: append(optMSS(1460), optWS(7)...), dt: time.Second})
	got = renderSegs(t, segs)
	checkLines(t, got, map[int]string{
		1: "TCP | [TCP Retransmission] 40000 → 47001 [SYN] Seq=0 Win=64240 Len=0 MSS=1460 WS=128",
	})
}

// TestTCPSnapped: a frame cut short by the snapshot length keeps the
// segment length of the IP header, as tshark's reported length does.
func TestTCPSnapped(t *testing.T) {
	segs := append(handshake(), seg{flags: thACK | thPSH, seq: isnA + 1, ack: isnB + 1, win: 502, payload: make([]byte, 100), snap: 10},
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 101, win: 509})
	got := renderSegs(t, segs)
	checkLines(t, got, map[int]string{
		3: "TCP | 40000 → 47001 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=100[Packet size limited during capture]",
		4: "TCP | 47001 → 40000 [ACK] Seq=1 Ack=101 Win=130304 Len=0",
	})
}

// lpApp is a test application protocol: PDUs of a 1-byte length and that
// many bytes; each rendered PDU adds "PDU n" to the Info column.
type lpApp struct{}

func (lpApp) dissect(s *tcpSegment, data []byte) int {
	n := 0
	for len(data)-n >= 1 && len(data)-n >= 1+int(data[n]) {
		t := s.c.colSet("LP")
		if len(t.B) > s.c.fenceB {
			t.Lit(", ")
		}
		t.Field(span.Message, "PDU "+string(rune('0'+data[n]%10)))
		n += 1 + int(data[n])
		s.done()
	}
	if n < len(data) {
		s.need = 1 + int(data[n]) - (len(data) - n)
	}
	return n
}

func TestTCPReassembly(t *testing.T) {
	const port = 40999
	tcpPortApps[port] = lpApp{}
	defer delete(tcpPortApps, port)
	pdu := []byte{5, 'a', 'b', 'c', 'd', 'e'}
	segs := append(handshake(),
		seg{flags: thACK, seq: isnA + 1, ack: isnB + 1, win: 502, payload: pdu[:3]},                           // 4 first part
		seg{flags: thACK, seq: isnA + 4, ack: isnB + 1, win: 502, payload: pdu[3:]},                           // 5 completes it
		seg{flags: thACK, seq: isnA + 4, ack: isnB + 1, win: 502, payload: pdu[3:], dt: time.Second},          // 6 retransmission
		seg{flags: thACK, seq: isnA + 7, ack: isnB + 1, win: 502, payload: append(pdu[:], pdu[:2]...)},        // 7 PDU + start of next
		seg{flags: thACK, seq: isnA + 14, ack: isnB + 1, win: 502, payload: []byte{'x'}, dt: 5 * time.Second}, // 8 keep-alive inside the PDU
	)
	for i := range segs {
		if i >= 3 {
			segs[i].payload = append([]byte(nil), segs[i].payload...)
		}
	}
	// renderSegsPort puts B on the test application's port.
	got := renderSegsPort(t, segs, port)
	checkLines(t, got, map[int]string{
		3: "TCP | 40000 → 40999 [ACK] Seq=1 Ack=1 Win=64256 Len=3 [TCP segment of a reassembled PDU]",
		4: "LP | PDU 5",
		5: "TCP | [TCP Retransmission] 40000 → 40999 [ACK] Seq=4 Ack=1 Win=64256 Len=3",
		6: "LP | PDU 5",
		7: "TCP | [TCP Keep-Alive] 40000 → 40999 [ACK] Seq=14 Ack=1 Win=64256 Len=1 [TCP segment of a reassembled PDU]",
	})
}

func renderSegsPort(t *testing.T, segs []seg, port uint16) []string {
	t.Helper()
	d := New(Config{})
	now := time.Unix(1700000000, 0)
	var out []string
	for i, s := range segs {
		src, dst, sp, dp := addrA, addrB, uint16(40000), port
		if s.fromB {
			src, dst, sp, dp = addrB, addrA, port, 40000
		}
		pkt := ipv4Packet(src, dst, 6, tcpHeader(sp, dp, s))
		if s.dt == 0 {
			s.dt = 10 * time.Millisecond
		}
		now = now.Add(s.dt)
		var p Packet
		d.Dissect(&capture.Frame{Index: i + 1, Time: now, OrigLen: len(pkt), Data: pkt, LinkType: capture.LinkRaw}, &p)
		checkPacket(t, &p)
		out = append(out, p.Protocol+" | "+p.Info.String())
	}
	return out
}

// TestAnalysisSpans: the analysis notes are Analysis spans in front of the
// rest, whose spans are shifted with it.
func TestAnalysisSpans(t *testing.T) {
	segs := append(handshake(), seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 1, win: 509},
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 1, win: 509})
	d := New(Config{})
	now := time.Unix(1700000000, 0)
	var p Packet
	for i, s := range segs {
		src, dst, sp, dp := addrA, addrB, uint16(40000), uint16(portB)
		if s.fromB {
			src, dst, sp, dp = addrB, addrA, portB, 40000
		}
		pkt := ipv4Packet(src, dst, 6, tcpHeader(sp, dp, s))
		now = now.Add(10 * time.Millisecond)
		d.Dissect(&capture.Frame{Index: i + 1, Time: now, OrigLen: len(pkt), Data: pkt, LinkType: capture.LinkRaw}, &p)
	}
	info := p.Info.String()
	if !strings.HasPrefix(info, "[TCP Dup ACK 2#1] 47001") {
		t.Fatalf("info %q", info)
	}
	kinds := map[span.Kind]string{}
	for _, s := range p.Info.Spans {
		kinds[s.Kind] += info[s.Start:s.End] + ";"
	}
	if kinds[span.Analysis] != "[TCP Dup ACK 2#1];" || kinds[span.Port] != "47001;40000;" || kinds[span.Window] != "130304;" {
		t.Errorf("spans %v", kinds)
	}
}

// TestTCPShortHeader: a header longer than the segment (here cut by the IP
// length) shows raw numbers and the options that fit, then the error.
func TestTCPShortHeader(t *testing.T) {
	opts := append(append(optMSS(1460), 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1), optWS(7)...)
	tcp := tcpHeader(8009, 38856, seg{flags: thSYN | thACK, seq: 2476748472, ack: 1925569328, win: 14480, opts: opts})
	pkt := ipv4Packet(addrA, addrB, 6, tcp[:len(tcp)-4])
	p := renderOne(t, capture.LinkRaw, pkt)
	want := "8009 → 38856 [SYN, ACK] Seq=2476748472 Ack=1925569328 Win=14480 MSS=1460 SACK_PERM TSval=1 TSecr=0[Malformed Packet]"
	if got := p.Info.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// An option whose length runs past the segment.
	tcp = tcpHeader(8009, 38856, seg{flags: thACK, seq: 1, ack: 2, win: 114, opts: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}})
	p = renderOne(t, capture.LinkRaw, ipv4Packet(addrA, addrB, 6, tcp[:len(tcp)-4]))
	want = "8009 → 38856 [ACK] Seq=1 Ack=2 Win=114[Malformed Packet: length of contained item exceeds length of containing item]"
	if got := p.Info.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestTCPReassemblyGap: after a capture gap, a segment inside the PDU being
// reassembled is one more segment of it; one past its end starts afresh.
func TestTCPReassemblyGap(t *testing.T) {
	const port = 40999
	tcpPortApps[port] = lpApp{}
	defer delete(tcpPortApps, port)
	segs := append(handshake(),
		seg{flags: thACK, seq: isnA + 1, ack: isnB + 1, win: 502, payload: []byte{10, 'a', 'b', 'c'}},  // 4: needs 7 more
		seg{flags: thACK, seq: isnA + 8, ack: isnB + 1, win: 502, payload: []byte{'h', 'i', 'j', 'k'}}, // 5: after a gap, inside
		seg{flags: thACK, seq: isnA + 12, ack: isnB + 1, win: 502, payload: []byte{2, 'x', 'y'}},       // 6: a new PDU
	)
	got := renderSegsPort(t, segs, port)
	checkLines(t, got, map[int]string{
		3: "TCP | 40000 → 40999 [ACK] Seq=1 Ack=1 Win=64256 Len=4 [TCP segment of a reassembled PDU]",
		4: "TCP | [TCP Previous segment not captured] 40000 → 40999 [ACK] Seq=8 Ack=1 Win=64256 Len=4 [TCP segment of a reassembled PDU]",
		5: "LP | PDU 2",
	})
}
