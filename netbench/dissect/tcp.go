package dissect

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/lens-go/lens/netbench/span"
)

// TCP flag bits.
const (
	thFIN = 0x001
	thSYN = 0x002
	thRST = 0x004
	thPSH = 0x008
	thACK = 0x010
	thURG = 0x020
	thECE = 0x040
	thCWR = 0x080
	thNS  = 0x100
	thRes = 0xe00
)

// tcpKey identifies a TCP conversation independent of direction: the
// endpoint that sorts first is a.
type tcpKey struct {
	a, b   netip.Addr
	pa, pb uint16
}

func makeTCPKey(src, dst netip.Addr, sp, dp uint16) (tcpKey, int) {
	if c := src.Compare(dst); c < 0 || (c == 0 && sp <= dp) {
		return tcpKey{src, dst, sp, dp}, 0
	}
	return tcpKey{dst, src, dp, sp}, 1
}

// Analysis flags of one segment (tshark's tcp.analysis.*).
const (
	taRetransmission = 1 << iota
	taLostPacket
	taAckLostPacket
	taKeepAlive
	taDuplicateAck
	taZeroWindow
	taZeroWindowProbe
	taZeroWindowProbeAck
	taKeepAliveAck
	taOutOfOrder
	taFastRetransmission
	taWindowUpdate
	taWindowFull
	taSpuriousRetransmission
	taPortsReused
)

// tcpFlow is one direction of a TCP conversation.
type tcpFlow struct {
	baseSet  bool
	base     uint32
	winScale int // -1 unknown, else the shift count
	synSeen  bool

	nextSeq        uint32 // 0 = none yet (as tshark)
	nextSeqTime    time.Time
	maxSeqToBeAckd uint32
	lastAck        uint32
	lastAckTime    time.Time
	window         uint32
	windowSet      bool
	lastNonDupAck  int
	dupAckNum      int
	lastSegFlags   uint32
	finSeen        bool

	// reassembly for the application protocol
	pending   []byte
	streamPos uint32 // relative seq of the next byte the application expects
	streamSet bool
}

// tcpConv is a TCP conversation: both directions and the application state.
type tcpConv struct {
	flows     [2]tcpFlow
	firstRTT  time.Duration
	synTime   time.Time
	synDir    int
	app       tcpApp
	appState  any
	appTried  bool
	finished  bool
	lastFrame int
}

// tcpSegment is what the application dissectors see of one TCP segment.
type tcpSegment struct {
	c        *ctx
	conv     *tcpConv
	dir      int // direction index of this segment within conv
	srcPort  uint16
	dstPort  uint16
	flags    uint16
	relSeq   uint32
	payload  []byte
	analysis uint32 // analysis flags set for this segment
	rendered bool   // the application rendered a complete PDU
}

func (c *ctx) tcp(b []byte) {
	p := c.p
	if len(b) < 20 {
		c.setProto("TCP")
		c.malformed("TCP", "truncated TCP header")
		return
	}
	sp := binary.BigEndian.Uint16(b[0:])
	dp := binary.BigEndian.Uint16(b[2:])
	seq := binary.BigEndian.Uint32(b[4:])
	ack := binary.BigEndian.Uint32(b[8:])
	hlen := int(b[12]>>4) * 4
	flags := uint16(b[12]&0x0f)<<8 | uint16(b[13])
	win := binary.BigEndian.Uint16(b[14:])
	urg := binary.BigEndian.Uint16(b[18:])
	first := !p.tcpDone && !p.udpDone
	if !p.tcpDone {
		p.tcpDone = true
		if !p.HasPorts || p.Transport == protoUDP {
			p.HasPorts, p.SrcPort, p.DstPort, p.Transport = true, sp, dp, protoTCP
		}
	}
	_ = first
	c.setProto("TCP")
	t := c.clearInfo()
	if hlen < 20 {
		writePorts(t, sp, dp)
		t.Lit(" [BOGUS TCP HEADER LENGTH (" + strconv.Itoa(hlen) + ", must be at least 20)]")
		return
	}
	if hlen > len(b) {
		writePorts(t, sp, dp)
		c.malformed("TCP", "truncated TCP options")
		return
	}
	payload := b[hlen:]
	seglen := len(payload)
	if p.TCP == (TCPFields{}) {
		p.TCP = TCPFields{Flags: flags, Seq: seq, Ack: ack, Window: win, Len: seglen}
	}
	if len(p.Payload) == 0 && seglen > 0 {
		p.Payload = payload
	}

	key, dir := makeTCPKey(c.src, c.dst, sp, dp)
	conv, fresh := c.d.tcp.get(key)
	var analysis uint32
	if !fresh && flags&thSYN != 0 && flags&thACK == 0 && conv.flows[dir].synSeen &&
		seq != conv.flows[dir].base && (conv.finished || conv.flows[dir].nextSeq != 0) {
		// A new SYN on a conversation already seen: tshark starts a new
		// conversation and says the ports were reused.
		*conv = tcpConv{}
		fresh = true
		analysis |= taPortsReused
	}
	if fresh {
		conv.flows[0].winScale, conv.flows[1].winScale = -1, -1
		conv.flows[0].lastNonDupAck, conv.flows[1].lastNonDupAck = 0, 0
	}
	fwd, rev := &conv.flows[dir], &conv.flows[1-dir]
	now := c.frame.Time

	// Relative sequence numbers.
	if !fwd.baseSet {
		fwd.baseSet = true
		if flags&thSYN != 0 {
			fwd.base = seq
		} else {
			fwd.base = seq - 1
		}
	}
	if flags&thSYN != 0 && flags&thACK == 0 && !fwd.synSeen {
		fwd.base = seq
	}
	if flags&thACK != 0 && !rev.baseSet {
		rev.baseSet = true
		rev.base = ack - 1
	}
	if flags&thSYN != 0 {
		if flags&thACK == 0 {
			conv.synTime, conv.synDir = now, dir
		} else if !conv.synTime.IsZero() && conv.synDir != dir && conv.firstRTT == 0 {
			conv.firstRTT = now.Sub(conv.synTime)
		}
	}
	relSeq := seq - fwd.base
	relAck := ack - rev.base

	// Options (parsed before analysis: window scaling comes from the SYN).
	opts := b[20:hlen]
	ws := -1
	if flags&thSYN != 0 {
		ws = synWindowShift(opts)
		fwd.synSeen = true
		fwd.winScale = ws
		if flags&thACK != 0 {
			// SYN+ACK: scaling is used only when both sides offered it.
			if fwd.winScale < 0 || rev.winScale < 0 {
				if rev.synSeen || fwd.winScale < 0 {
					fwd.winScale, rev.winScale = -2, -2
				}
			}
		}
	}
	window := uint32(win)
	if flags&thSYN == 0 && fwd.winScale >= 0 && (rev.winScale >= 0 || !rev.synSeen) {
		window <<= uint(fwd.winScale)
	}

	seg := tcpSegment{c: c, conv: conv, dir: dir, srcPort: sp, dstPort: dp, flags: flags, relSeq: relSeq, payload: payload}
	analysis |= c.tcpAnalyze(conv, fwd, rev, seq, ack, uint32(seglen), flags, window, now)
	seg.analysis = analysis
	conv.lastFrame = p.Number
	if flags&(thFIN|thRST) != 0 {
		if flags&thRST != 0 || (fwd.finSeen || rev.finSeen) {
			conv.finished = true
		}
		if flags&thFIN != 0 {
			fwd.finSeen = true
		}
	}

	// The TCP Info column.
	writePorts(t, sp, dp)
	t.Lit(" ")
	writeFlags(t, flags)
	t.Lit(" Seq=")
	t.Uint(span.Seq, uint64(relSeq))
	if flags&thACK != 0 {
		t.Lit(" Ack=")
		t.Uint(span.Ack, uint64(relAck))
	}
	t.Lit(" Win=")
	t.Uint(span.Window, uint64(window))
	if flags&thURG != 0 {
		t.Lit(" Urg=")
		t.Uint(span.None, uint64(urg))
	}
	t.Lit(" Len=")
	t.Uint(span.PayloadLen, uint64(seglen))
	writeOptions(t, opts, rev)

	c.fenceB, c.fenceS = prefixAnalysis(t, analysis, fwd)

	if seglen > 0 {
		c.tcpPayload(&seg)
	}
}

func writePorts(t *span.Text, sp, dp uint16) {
	t.Uint(span.Port, uint64(sp))
	t.Lit(" → ")
	t.Uint(span.Port, uint64(dp))
}

var flagNames = [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"}

func writeFlags(t *span.Text, flags uint16) {
	start := t.Begin()
	t.Lit("[")
	n := 0
	for i, name := range flagNames {
		if flags&(1<<i) != 0 {
			if n > 0 {
				t.Lit(", ")
			}
			t.Lit(name)
			n++
		}
	}
	if flags&thRes != 0 {
		if n > 0 {
			t.Lit(", ")
		}
		t.Lit("Reserved")
		n++
	}
	if n == 0 {
		t.Lit("<None>")
	}
	t.Lit("]")
	t.End(span.Flags, start)
}

// synWindowShift returns the window-scale shift of a SYN's options, or -1.
func synWindowShift(opts []byte) int {
	for len(opts) > 0 {
		kind := opts[0]
		if kind == 0 {
			break
		}
		if kind == 1 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			break
		}
		if kind == 3 && opts[1] == 3 {
			s := int(opts[2])
			if s > 14 {
				s = 14
			}
			return s
		}
		opts = opts[opts[1]:]
	}
	return -1
}

// writeOptions appends the options tshark shows in the Info column, in
// packet order: MSS, WS, SACK_PERM, TSval/TSecr, SLE/SRE.
func writeOptions(t *span.Text, opts []byte, rev *tcpFlow) {
	for len(opts) > 0 {
		kind := opts[0]
		if kind == 0 {
			return
		}
		if kind == 1 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			return
		}
		o := opts[:opts[1]]
		opts = opts[opts[1]:]
		start := t.Len()
		switch {
		case kind == 2 && len(o) == 4:
			t.Lit(" ")
			start = t.Begin()
			t.Lit("MSS=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(o[2:])), 10)
		case kind == 3 && len(o) == 3:
			t.Lit(" ")
			start = t.Begin()
			s := uint(o[2])
			if s > 14 {
				s = 14
			}
			t.Lit("WS=")
			t.B = strconv.AppendUint(t.B, 1<<s, 10)
		case kind == 4 && len(o) == 2:
			t.Lit(" ")
			start = t.Begin()
			t.Lit("SACK_PERM")
		case kind == 8 && len(o) == 10:
			t.Lit(" ")
			start = t.Begin()
			t.Lit("TSval=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(o[2:])), 10)
			t.Lit(" TSecr=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(o[6:])), 10)
		case kind == 5 && len(o) >= 10:
			for i := 2; i+8 <= len(o); i += 8 {
				t.Lit(" ")
				s := t.Begin()
				t.Lit("SLE=")
				t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(o[i:])-rev.base), 10)
				t.Lit(" SRE=")
				t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(o[i+4:])-rev.base), 10)
				t.End(span.Option, s)
			}
			continue
		default:
			continue
		}
		t.End(span.Option, start)
	}
}

// prefixAnalysis puts tshark's sequence-analysis notes in front of the Info
// column, in the order tshark's successive prepends leave them.
func prefixAnalysis(t *span.Text, a uint32, fwd *tcpFlow) (fenceB, fenceS int) {
	if a == 0 {
		return 0, 0
	}
	var pre span.Text
	add := func(flag uint32, s string) {
		if a&flag != 0 {
			pre.Field(span.Analysis, s)
			pre.Lit(" ")
		}
	}
	// Displayed order = reverse of the order tshark prepends them.
	add(taZeroWindowProbeAck, "[TCP ZeroWindowProbeAck]")
	add(taZeroWindowProbe, "[TCP ZeroWindowProbe]")
	add(taZeroWindow, "[TCP ZeroWindow]")
	if a&taDuplicateAck != 0 {
		pre.Field(span.Analysis, "[TCP Dup ACK "+strconv.Itoa(fwd.lastNonDupAck)+"#"+strconv.Itoa(fwd.dupAckNum)+"]")
		pre.Lit(" ")
	}
	add(taKeepAliveAck, "[TCP Keep-Alive ACK]")
	add(taKeepAlive, "[TCP Keep-Alive]")
	add(taWindowFull, "[TCP Window Full]")
	add(taWindowUpdate, "[TCP Window Update]")
	add(taAckLostPacket, "[TCP ACKed unseen segment]")
	add(taLostPacket, "[TCP Previous segment not captured]")
	add(taSpuriousRetransmission, "[TCP Spurious Retransmission]")
	add(taOutOfOrder, "[TCP Out-Of-Order]")
	add(taFastRetransmission, "[TCP Fast Retransmission]")
	add(taRetransmission, "[TCP Retransmission]")
	add(taPortsReused, "[TCP Port numbers reused]")
	prefixText(t, &pre)
	return len(pre.B), len(pre.Spans)
}

// prefixText puts pre in front of t, shifting t's spans.
func prefixText(t *span.Text, pre *span.Text) {
	n := int32(len(pre.B))
	old := append([]byte(nil), t.B...)
	oldSpans := append([]span.Span(nil), t.Spans...)
	t.Reset()
	t.Append(pre)
	t.B = append(t.B, old...)
	for _, s := range oldSpans {
		t.Spans = append(t.Spans, span.Span{Start: s.Start + n, End: s.End + n, Kind: s.Kind})
	}
}

func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }

// tcpAnalyze is tshark's tcp_analyze_sequence_number: it classifies the
// segment (retransmission, duplicate ACK, ...) and updates the flow state.
func (c *ctx) tcpAnalyze(conv *tcpConv, fwd, rev *tcpFlow, seq, ack, seglen uint32, flags uint16, window uint32, now time.Time) uint32 {
	var a uint32
	const noSFR = thSYN | thFIN | thRST
	isAck := flags&thACK != 0
	_ = isAck

	switch {
	case seglen == 1 && fwd.nextSeq != 0 && seq == fwd.nextSeq && rev.windowSet && rev.window == 0:
		a |= taZeroWindowProbe
		goto finishedFwd
	}
	if window == 0 && flags&noSFR == 0 {
		a |= taZeroWindow
	}
	if fwd.nextSeq != 0 && seqGT(seq, fwd.nextSeq) && flags&thRST == 0 {
		a |= taLostPacket
	}
	if (seglen == 0 || seglen == 1) && fwd.nextSeq != 0 && seq == fwd.nextSeq-1 && flags&noSFR == 0 {
		a |= taKeepAlive
	}
	if seglen == 0 && window != 0 && fwd.windowSet && window != fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && flags&noSFR == 0 {
		a |= taWindowUpdate
	}
	if seglen > 0 && rev.winScale != -1 && rev.windowSet && rev.lastAck != 0 &&
		seq+seglen == rev.lastAck+rev.window && flags&noSFR == 0 {
		a |= taWindowFull
	}
	if seglen == 0 && window != 0 && fwd.windowSet && window == fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && rev.lastSegFlags&taKeepAlive != 0 && flags&noSFR == 0 {
		a |= taKeepAliveAck
		goto finishedFwd
	}
	if seglen == 0 && window == 0 && fwd.windowSet && window == fwd.window && seq == fwd.nextSeq &&
		(ack == fwd.lastAck || ack == fwd.lastAck+1) && rev.lastSegFlags&taZeroWindowProbe != 0 && flags&noSFR == 0 {
		a |= taZeroWindowProbeAck
		goto finishedFwd
	}
	if seglen == 0 && window != 0 && fwd.windowSet && window == fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && flags&noSFR == 0 {
		fwd.dupAckNum++
		a |= taDuplicateAck
	}

finishedFwd:
	if a&taDuplicateAck == 0 {
		fwd.lastNonDupAck = c.p.Number
		fwd.dupAckNum = 0
	}
	if rev.maxSeqToBeAckd != 0 && seqGT(ack, rev.maxSeqToBeAckd) && flags&thACK != 0 {
		a |= taAckLostPacket
		rev.maxSeqToBeAckd = rev.nextSeq
	}
	if (seglen > 0 || flags&(thSYN|thFIN) != 0) && fwd.nextSeq != 0 && seqLT(seq, fwd.nextSeq) && a&taKeepAlive == 0 {
		switch {
		case rev.dupAckNum >= 2 && rev.lastAck == seq && now.Sub(rev.lastAckTime) < 20*time.Millisecond:
			a |= taFastRetransmission
		case func() bool {
			thres := 3 * time.Millisecond
			if conv.firstRTT != 0 {
				thres = conv.firstRTT
			}
			return now.Sub(fwd.nextSeqTime) < thres && fwd.nextSeq != seq+seglen
		}():
			a |= taOutOfOrder
		case seglen > 0 && rev.lastAck != 0 && seqLE(seq+seglen, rev.lastAck):
			a |= taSpuriousRetransmission
		default:
			a |= taRetransmission
		}
	}

	nextSeq := seq + seglen
	if flags&(thSYN|thFIN) != 0 {
		nextSeq++
	}
	if seqGT(nextSeq, fwd.nextSeq) || fwd.nextSeq == 0 {
		if a&taZeroWindowProbe == 0 {
			fwd.nextSeq = nextSeq
			fwd.nextSeqTime = now
		}
	}
	if seq == fwd.maxSeqToBeAckd || fwd.maxSeqToBeAckd == 0 {
		if a&taZeroWindowProbe == 0 {
			fwd.maxSeqToBeAckd = fwd.nextSeq
		}
	}
	fwd.window = window
	fwd.windowSet = true
	fwd.lastAck = ack
	fwd.lastAckTime = now
	fwd.lastSegFlags = a
	return a
}
