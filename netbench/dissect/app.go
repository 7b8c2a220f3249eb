package dissect

import "github.com/lens-go/lens/netbench/span"

// tcpApp is an application protocol carried over TCP. dissect is given the
// stream bytes of one direction that are ready (bytes held back from earlier
// segments followed by this segment's payload) and returns how many it
// consumed; the rest is held back and offered again, with the next
// segment's payload appended, as tshark's desegmentation does. An app that
// renders a complete PDU calls s.done() (usually through colSet).
type tcpApp interface {
	dissect(s *tcpSegment, data []byte) (consumed int)
}

// udpApp is an application protocol carried over UDP; it reports whether it
// took the datagram.
type udpApp interface {
	dissect(c *ctx, u *udpDatagram) bool
}

// tcpHeuristic and udpHeuristic claim a conversation by looking at its first
// payload.
type (
	tcpHeuristic func(s *tcpSegment, data []byte) tcpApp
	udpHeuristic func(c *ctx, u *udpDatagram) bool
)

// The registries are filled by each protocol's file in init and only read
// afterwards.
var (
	tcpPortApps = map[uint16]tcpApp{}
	udpPortApps = map[uint16]udpApp{}
	tcpHeurs    []tcpHeuristic
	udpHeurs    []udpHeuristic
)

func registerTCP(app tcpApp, ports ...uint16) {
	for _, p := range ports {
		tcpPortApps[p] = app
	}
}

func registerUDP(app udpApp, ports ...uint16) {
	for _, p := range ports {
		udpPortApps[p] = app
	}
}

// Column helpers mirroring epan's col_* calls on the Info column. The fence
// is the end of text put there by col_prepend_fence_fstr (TCP analysis
// notes): clearing keeps what is before it.

// colClear empties the Info column back to the fence.
func (c *ctx) colClear() *span.Text {
	t := &c.p.Info
	t.B = t.B[:c.fenceB]
	t.Spans = t.Spans[:c.fenceS]
	return t
}

// colSet sets the Protocol column and clears the Info column to the fence.
func (c *ctx) colSet(proto string) *span.Text {
	c.setProto(proto)
	return c.colClear()
}

// colSep appends sep when the Info column is not empty (col_append_sep_*).
func (c *ctx) colSep(sep string) *span.Text {
	t := &c.p.Info
	if len(t.B) > 0 {
		t.Lit(sep)
	}
	return t
}

// setFence puts the fence at the end of the current Info text.
func (c *ctx) setFence() {
	c.fenceB = len(c.p.Info.B)
	c.fenceS = len(c.p.Info.Spans)
}

// done records that the app rendered a complete PDU in this frame.
func (s *tcpSegment) done() { s.rendered = true }

// tcpPayload hands a segment's payload to the conversation's application
// dissector, holding back bytes of PDUs that continue in later segments, as
// tshark 4.0's desegment_tcp does with its multi-segment PDUs (MSPs).
func (c *ctx) tcpPayload(s *tcpSegment) {
	conv := s.conv
	if !conv.appTried {
		conv.appTried = true
		conv.app = pickTCPApp(s)
	} else if conv.app == nil {
		// tshark tries the heuristic dissectors on every segment of a
		// conversation that no dissector has claimed yet.
		conv.app = pickTCPHeur(s)
	}
	if conv.app == nil {
		return
	}
	fl := &conv.flows[s.dir]
	if s.analysis&(taRetransmission|taSpuriousRetransmission) != 0 {
		// tshark hands retransmitted data to its data dissector, or finds
		// it in a PDU reassembled already: no application rendering and
		// no reassembly note.
		return
	}
	if fl.streamSet && seqLT(s.relSeq, fl.streamPos) {
		c.oldTCPData(s, fl)
		return
	}
	if fl.streamSet && seqGT(s.relSeq, fl.streamPos) && len(fl.pending) > 0 && fl.mspEndSet && seqLT(s.relSeq, fl.mspEnd) {
		// After a gap, but inside the PDU being reassembled: tshark adds
		// the segment to it, and the PDU, missing the gap, never completes.
		c.setProto("TCP")
		c.colSep(" ").Field(span.Analysis, "[TCP segment of a reassembled PDU]")
		return
	}
	data := s.payload
	switch {
	case !fl.streamSet || s.relSeq != fl.streamPos:
		// First data in this direction, or a gap: start afresh here.
		fl.pending = fl.pending[:0]
	case len(fl.pending) > 0:
		fl.pending = appendPending(fl.pending, data)
		data = fl.pending
	}
	held := len(data) - len(s.payload)
	start := s.relSeq - uint32(held)
	fl.streamSet = true
	fl.streamPos = s.relSeq + uint32(len(s.payload))
	n := conv.app.dissect(s, data)
	if n < 0 {
		n = 0
	}
	if held > 0 && n > held {
		// A PDU reassembled from several segments is complete.
		fl.addMSP(start, start+uint32(n))
	}
	if n >= len(data) {
		fl.pending = fl.pending[:0]
		return
	}
	rest := data[n:]
	fl.mspEnd, fl.mspEndSet = fl.streamPos+uint32(s.need), s.need > 0
	if len(rest) > maxPending {
		// Give up on a PDU larger than any real one: drop it.
		fl.pending = fl.pending[:0]
	} else {
		fl.pending = appendPending(fl.pending[:0], rest) // rest may alias pending: copy moves forward
	}
	if !s.rendered {
		c.setProto("TCP")
		c.colSep(" ").Field(span.Analysis, "[TCP segment of a reassembled PDU]")
	}
}

// oldTCPData handles a segment that starts before the point the application
// has reached: out-of-order data, a keep-alive byte, a fast retransmission.
func (c *ctx) oldTCPData(s *tcpSegment, fl *tcpFlow) {
	end := s.relSeq + uint32(len(s.payload))
	if pstart := fl.streamPos - uint32(len(fl.pending)); len(fl.pending) > 0 && !seqLT(s.relSeq, pstart) {
		// Inside the PDU being reassembled: one more segment of it.
		c.setProto("TCP")
		c.colSep(" ").Field(span.Analysis, "[TCP segment of a reassembled PDU]")
		return
	}
	if m := fl.findMSP(s.relSeq); m != nil {
		// Inside a PDU reassembled already: "Retransmitted TCP segment
		// data", or an overlap past its end that the reassembly rejects.
		if s.relSeq != m.start && seqGT(end, m.end) {
			c.p.Info.Lit("[Reassembly error, protocol TCP: New fragment overlaps old data (retransmission?)]")
		}
		return
	}
	if s.analysis&(taOutOfOrder|taKeepAlive) != 0 {
		// tshark shows these as data (tcp.no_subdissector_on_error).
		return
	}
	// Otherwise (a fast retransmission, say) tshark dissects the segment
	// again on its own.
	if n := s.conv.app.dissect(s, s.payload); n < len(s.payload) && !s.rendered {
		c.setProto("TCP")
		c.colSep(" ").Field(span.Analysis, "[TCP segment of a reassembled PDU]")
	}
}

// tcpMSP is a PDU the application reassembled from several segments, in
// relative sequence numbers [start, end).
type tcpMSP struct{ start, end uint32 }

// maxMSPs is how many reassembled PDUs a flow remembers for recognising
// retransmitted and overlapping data.
const maxMSPs = 8

func (fl *tcpFlow) addMSP(start, end uint32) {
	fl.msps[fl.nMSP%maxMSPs] = tcpMSP{start, end}
	fl.nMSP++
}

// findMSP returns the remembered reassembled PDU that holds seq, or nil.
func (fl *tcpFlow) findMSP(seq uint32) *tcpMSP {
	n := min(fl.nMSP, maxMSPs)
	for i := 0; i < n; i++ {
		m := &fl.msps[i]
		if !seqLT(seq, m.start) && seqLT(seq, m.end) {
			return m
		}
	}
	return nil
}

// appendPending appends b to the held-back bytes p, growing p in large steps
// so that a PDU spread over many segments costs few allocations.
func appendPending(p, b []byte) []byte {
	if need := len(p) + len(b); need > cap(p) {
		q := make([]byte, len(p), max(2*need, 4096))
		copy(q, p)
		p = q
	}
	return append(p, b...)
}

// maxPending bounds the bytes held back for one direction of a conversation.
const maxPending = 1 << 20

func pickTCPApp(s *tcpSegment) tcpApp {
	lo, hi := s.srcPort, s.dstPort
	if lo > hi {
		lo, hi = hi, lo
	}
	if a, ok := tcpPortApps[lo]; ok {
		return a
	}
	if a, ok := tcpPortApps[hi]; ok {
		return a
	}
	return pickTCPHeur(s)
}

// pickTCPHeur returns the first heuristic dissector that claims s.
func pickTCPHeur(s *tcpSegment) tcpApp {
	for _, h := range tcpHeurs {
		if a := h(s, s.payload); a != nil {
			return a
		}
	}
	return nil
}
