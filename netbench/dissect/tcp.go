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

// tcpFlow is one direction of a TCP conversation, with the state tshark's
// tcp_flow_t keeps for sequence analysis.
type tcpFlow struct {
	baseSet    bool
	base       uint32
	winScale   int  // -1 unknown, -2 no scaling used, else the shift count
	isFirstAck bool // no pure ACK seen since this direction's SYN

	nextSeq        uint32 // 0 = none yet (as tshark)
	nextSeqTime    time.Time
	maxSeqToBeAckd uint32
	lastAck        uint32
	lastAckTime    time.Time
	window         uint32 // last raw window; 0xffffffff before any segment
	lastNonDupAck  int
	dupAckNum      int
	lastSegFlags   uint32

	// reassembly for the application protocol
	pending   []byte
	streamPos uint32 // relative seq of the next byte the application expects
	streamSet bool
	msps      [maxMSPs]tcpMSP // the last PDUs reassembled from several segments
	nMSP      int
	mspEnd    uint32 // where the PDU being reassembled ends, when mspEndSet
	mspEndSet bool
}

// tcpConv is a TCP conversation: both directions and the application state.
type tcpConv struct {
	flows     [2]tcpFlow
	firstRTT  time.Duration // tshark's ts_first_rtt: SYN to the first pure ACK
	mruSyn    time.Time     // time of the most recent pure SYN
	app       tcpApp
	appState  any
	appTried  bool
	lastFrame int
}

func (conv *tcpConv) init() {
	for i := range conv.flows {
		conv.flows[i].winScale = -1
		conv.flows[i].window = 0xffffffff
	}
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
	// need may be set by an application that returns with bytes left
	// over: how many bytes past the end of the data it was given complete
	// the PDU (tshark's pinfo->desegment_len). 0 means unknown ("one more
	// segment"). With it the core knows where the PDU ends, and treats a
	// segment after a capture gap that still falls inside the PDU as one
	// more (never completed) segment of it, as tshark does.
	need int
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
	if hlen < 20 || hlen > len(b)+c.ipMissing {
		// No sequence analysis: tshark has no segment length. It shows the
		// raw numbers, then gives up (bogus length) or shows the options
		// until they run past the segment.
		writePorts(t, sp, dp)
		t.Lit(" ")
		writeFlags(t, flags)
		t.Lit(" Seq=")
		t.Uint(span.Seq, uint64(seq))
		if flags&thACK != 0 {
			t.Lit(" Ack=")
			t.Uint(span.Ack, uint64(ack))
		}
		t.Lit(" Win=")
		t.Uint(span.Window, uint64(win))
		if hlen < 20 {
			t.Lit(", bogus TCP header length (" + strconv.Itoa(hlen) + ", must be at least 20)")
			return
		}
		c.p.Skip, c.p.SkipReason = true, "TCP header longer than the segment"
		if writeShortOptions(t, b[20:], hlen-20) {
			t.Lit("[Malformed Packet: length of contained item exceeds length of containing item]")
		} else {
			t.Lit("[Malformed Packet]")
		}
		return
	}
	if hlen > len(b) {
		writePorts(t, sp, dp)
		c.malformed("TCP", "truncated TCP options")
		return
	}
	payload := b[hlen:]
	// The segment length comes from the IP length, as tshark's reported
	// length: a capture cut short by the snapshot length keeps it.
	seglen := len(payload) + c.ipMissing
	truncated := c.ipMissing > 0
	if p.TCP == (TCPFields{}) {
		p.TCP = TCPFields{Flags: flags, Seq: seq, Ack: ack, Window: win, Len: seglen}
	}
	if len(p.tcpPayload) == 0 && seglen > 0 {
		p.tcpPayload = payload
	}

	key, dir := makeTCPKey(c.src, c.dst, sp, dp)
	conv, fresh := c.d.tcp.get(key)
	if fresh {
		conv.init()
	}
	var analysis uint32
	fwd, rev := &conv.flows[dir], &conv.flows[1-dir]
	switch {
	case flags&(thSYN|thACK) == thSYN && fwd.baseSet && seq != fwd.base:
		// A new SYN on a conversation already seen: tshark starts a new
		// conversation and says the ports were reused.
		fl := [2][]byte{conv.flows[0].pending[:0], conv.flows[1].pending[:0]}
		*conv = tcpConv{}
		conv.init()
		conv.flows[0].pending, conv.flows[1].pending = fl[0], fl[1]
		analysis |= taPortsReused
	case flags&(thSYN|thACK) == thSYN|thACK && fwd.baseSet && seq != fwd.base:
		fwd.base = seq
		analysis |= taPortsReused
	}
	now := c.frame.Time
	opts := b[20:hlen]

	// Sequence analysis on the raw window, as tshark calls it before it
	// scales the window and before it reads the options.
	analysis |= c.tcpAnalyze(conv, fwd, rev, seq, ack, uint32(seglen), flags, uint32(win), now)
	relSeq := seq - fwd.base
	relAck := ack - rev.base

	window := uint32(win)
	if flags&thSYN == 0 && fwd.winScale >= 0 {
		window <<= uint(fwd.winScale)
	}
	if flags&thSYN != 0 {
		if ws := synWindowShift(opts); ws >= 0 {
			fwd.winScale = ws
		}
		// verify_tcp_window_scaling
		if fwd.winScale == -1 {
			fwd.winScale, rev.winScale = -2, -2
		} else if flags&thACK != 0 && rev.winScale == -2 {
			fwd.winScale = -2
		}
		if flags&thACK == 0 {
			conv.mruSyn = now
		}
		fwd.isFirstAck = true
	}
	if flags&(thSYN|thACK) == thACK {
		if !conv.mruSyn.IsZero() && conv.firstRTT == 0 {
			conv.firstRTT = now.Sub(conv.mruSyn)
		}
		fwd.isFirstAck = false
	}

	seg := &c.d.segs[min(c.nTCP, len(c.d.segs)-1)]
	c.nTCP++
	*seg = tcpSegment{c: c, conv: conv, dir: dir, srcPort: sp, dstPort: dp, flags: flags, relSeq: relSeq, payload: payload}
	seg.analysis = analysis
	conv.lastFrame = p.Number

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

	c.fenceB, c.fenceS = prefixAnalysis(t, &p.infoScratch, analysis, fwd)

	if truncated && seglen > 0 {
		// tshark still hands the captured bytes to the application (no
		// reassembly is possible); an exception then adds its note unless
		// the application rendered the frame itself (HTTP's "Continuation
		// [Packet size limited during capture]" and the like).
		if !conv.appTried {
			conv.appTried = true
			conv.app = pickTCPApp(seg)
		}
		if conv.app != nil {
			conv.app.dissect(seg, payload)
		}
		if !seg.rendered {
			t.Lit("[Packet size limited during capture]")
		}
		return
	}
	if seglen > 0 {
		c.tcpPayload(seg)
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

// writeShortOptions writes the options of a header cut short (avail bytes
// of the hlen-20 announced): those that fit, as writeOptions does. It
// reports whether it stopped at an option whose length runs past the
// bytes (tshark's ContainedBoundsError) rather than at a missing byte.
func writeShortOptions(t *span.Text, avail []byte, n int) (contained bool) {
	if n > len(avail) {
		n = len(avail)
	}
	opts := avail[:n]
	i := 0
	for i < len(opts) {
		kind := opts[i]
		if kind == 0 || kind == 1 {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 {
			return false
		}
		if i+l > len(opts) {
			return true
		}
		writeOptions(t, opts[i:i+l], &tcpFlow{})
		i += l
	}
	return false
}

// prefixAnalysis puts tshark's sequence-analysis notes in front of the Info
// column, in the order tshark's successive col_prepend_fence_fstr calls
// leave them, and returns the fence (the end of the notes). pre is scratch
// storage.
func prefixAnalysis(t, pre *span.Text, a uint32, fwd *tcpFlow) (fenceB, fenceS int) {
	if a == 0 {
		return 0, 0
	}
	pre.Reset()
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
		s := pre.Begin()
		pre.Lit("[TCP Dup ACK ")
		pre.B = strconv.AppendInt(pre.B, int64(fwd.lastNonDupAck), 10)
		pre.Lit("#")
		pre.B = strconv.AppendInt(pre.B, int64(fwd.dupAckNum), 10)
		pre.Lit("]")
		pre.End(span.Analysis, s)
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
	prefixText(t, pre)
	return len(pre.B), len(pre.Spans)
}

// prefixText puts pre in front of t in place, shifting t's spans.
func prefixText(t *span.Text, pre *span.Text) {
	n, ns := len(pre.B), len(pre.Spans)
	old, oldS := len(t.B), len(t.Spans)
	t.B = append(t.B, pre.B...) // grow by n
	copy(t.B[n:], t.B[:old])
	copy(t.B, pre.B)
	t.Spans = append(t.Spans, pre.Spans...) // grow by ns
	copy(t.Spans[ns:], t.Spans[:oldS])
	for i := ns; i < len(t.Spans); i++ {
		t.Spans[i].Start += int32(n)
		t.Spans[i].End += int32(n)
	}
	copy(t.Spans, pre.Spans)
}

func seqGT(a, b uint32) bool { return int32(a-b) > 0 }
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }

// tcpAnalyze is tshark 4.0's tcp_analyze_sequence_number: it sets the
// relative sequence bases, classifies the segment (retransmission,
// duplicate ACK, ...) and updates the flow state. window is the raw window.
func (c *ctx) tcpAnalyze(conv *tcpConv, fwd, rev *tcpFlow, seq, ack, seglen uint32, flags uint16, window uint32, now time.Time) uint32 {
	var a uint32
	const noSFR = thSYN | thFIN | thRST
	if !fwd.baseSet {
		fwd.baseSet = true
		if flags&thSYN != 0 {
			fwd.base = seq
		} else {
			fwd.base = seq - 1
		}
	}
	if !rev.baseSet && flags&thACK != 0 {
		rev.baseSet = true
		rev.base = ack - 1
	}

	// ZERO WINDOW PROBE
	if seglen == 1 && seq == fwd.nextSeq && rev.window == 0 {
		a |= taZeroWindowProbe
		goto finishedFwd
	}
	// ZERO WINDOW
	if window == 0 && flags&noSFR == 0 {
		a |= taZeroWindow
	}
	// LOST PACKET
	if fwd.nextSeq != 0 && seqGT(seq, fwd.nextSeq) && flags&thRST == 0 {
		a |= taLostPacket
	}
	// KEEP ALIVE
	if (seglen == 0 || seglen == 1) && seq == fwd.nextSeq-1 && flags&noSFR == 0 {
		a |= taKeepAlive
	}
	// WINDOW UPDATE
	if seglen == 0 && window != 0 && window != fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && flags&noSFR == 0 {
		a |= taWindowUpdate
	}
	// WINDOW FULL
	if seglen > 0 && rev.winScale != -1 && flags&noSFR == 0 {
		shift := uint(0)
		if !rev.isFirstAck && rev.winScale >= 0 {
			shift = uint(rev.winScale)
		}
		if seq+seglen == rev.lastAck+rev.window<<shift {
			a |= taWindowFull
		}
	}
	// KEEP ALIVE ACK
	if seglen == 0 && window != 0 && window == fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && rev.lastSegFlags&taKeepAlive != 0 && flags&noSFR == 0 {
		a |= taKeepAliveAck
		goto finishedFwd
	}
	// ZERO WINDOW PROBE ACK
	if seglen == 0 && window == 0 && window == fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && rev.lastSegFlags&taZeroWindowProbe != 0 && flags&noSFR == 0 {
		a |= taZeroWindowProbeAck
		goto finishedFwd
	}
	// DUPLICATE ACK
	if seglen == 0 && window != 0 && window == fwd.window && seq == fwd.nextSeq &&
		ack == fwd.lastAck && flags&noSFR == 0 {
		if fwd.dupAckNum == -1 {
			fwd.dupAckNum = 1
		} else {
			fwd.dupAckNum++
		}
		a |= taDuplicateAck
	}

finishedFwd:
	// If the ack number changed we must reset the dupack counters.
	if ack != fwd.lastAck {
		fwd.lastNonDupAck = c.p.Number
		fwd.dupAckNum = 0
	}
	// ACKED LOST PACKET
	if rev.maxSeqToBeAckd != 0 && seqGT(ack, rev.maxSeqToBeAckd) && flags&thACK != 0 {
		if seqLT(rev.maxSeqToBeAckd, rev.nextSeq) {
			rev.maxSeqToBeAckd = rev.nextSeq
			a |= taAckLostPacket
		} else {
			if rev.dupAckNum == 0 {
				a |= taAckLostPacket
			}
			rev.dupAckNum = -1
		}
	}
	// RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER
	if seglen > 0 || flags&(thSYN|thFIN) != 0 {
		a |= c.retransmissionType(conv, fwd, rev, seq, seglen, flags, a, now)
	}

	{
		nextSeq := seq + seglen
		if flags&(thSYN|thFIN) != 0 {
			nextSeq++
		}
		if (seqGT(nextSeq, fwd.nextSeq) || fwd.nextSeq == 0) && a&taZeroWindowProbe == 0 {
			fwd.nextSeq = nextSeq
			fwd.nextSeqTime = now
		}
		if (seq == fwd.maxSeqToBeAckd || fwd.maxSeqToBeAckd == 0) && a&taZeroWindowProbe == 0 {
			fwd.maxSeqToBeAckd = fwd.nextSeq
		}
	}
	fwd.window = window
	fwd.lastAck = ack
	fwd.lastAckTime = now
	fwd.lastSegFlags = a
	if debugTCP {
		println("frame", c.p.Number, "seq", seq, "ack", ack, "len", seglen, "fwd.next", fwd.nextSeq, "fwd.max", fwd.maxSeqToBeAckd, "fwd.dup", fwd.dupAckNum, "rev.next", rev.nextSeq, "rev.max", rev.maxSeqToBeAckd, "rev.dup", rev.dupAckNum, "a", a)
	}
	return a
}

// retransmissionType tells a segment that does not advance the sequence
// number apart: fast retransmission, out-of-order, spurious retransmission
// or plain retransmission.
func (c *ctx) retransmissionType(conv *tcpConv, fwd, rev *tcpFlow, seq, seglen uint32, flags uint16, a uint32, now time.Time) uint32 {
	if a&taKeepAlive != 0 {
		return 0
	}
	notAdvanced := fwd.nextSeq != 0 && seqLT(seq, fwd.nextSeq)
	if seglen > 1 && fwd.nextSeq-1 == seq {
		notAdvanced = false
	}
	// Spurious: the data was acknowledged already.
	if seglen > 0 && rev.lastAck != 0 && seqLE(seq+seglen, rev.lastAck) {
		return taSpuriousRetransmission
	}
	if !notAdvanced {
		return 0
	}
	// Fast retransmission: at least two duplicate ACKs in the other
	// direction for this sequence number, within 20 ms.
	// tshark computes the time differences as unsigned 64-bit nanoseconds,
	// so a timestamp that goes backwards is never "close".
	if d := now.Sub(rev.lastAckTime); rev.dupAckNum >= 2 && rev.lastAck == seq && d >= 0 && d < 20*time.Millisecond {
		return taFastRetransmission
	}
	// Out-of-order: close to the segment with the highest sequence number.
	thres := 3 * time.Millisecond
	if conv.firstRTT != 0 {
		thres = conv.firstRTT
	}
	next := seq + seglen
	if flags&(thSYN|thFIN) != 0 {
		next++
	}
	if d := now.Sub(fwd.nextSeqTime); d >= 0 && d < thres && fwd.nextSeq != next {
		return taOutOfOrder
	}
	return taRetransmission
}

var debugTCP = false
