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
// dissector, holding back bytes of PDUs that continue in later segments.
func (c *ctx) tcpPayload(s *tcpSegment) {
	conv := s.conv
	if !conv.appTried {
		conv.appTried = true
		conv.app = pickTCPApp(s)
	}
	if conv.app == nil {
		return
	}
	fl := &conv.flows[s.dir]
	if s.analysis&(taRetransmission|taSpuriousRetransmission) != 0 && fl.streamSet && seqLT(s.relSeq, fl.streamPos) {
		// Data already handed to the application: tshark does not dissect it again.
		return
	}
	data := s.payload
	switch {
	case !fl.streamSet || s.relSeq != fl.streamPos:
		// First data in this direction, or a gap: start afresh here.
		fl.pending = fl.pending[:0]
	case len(fl.pending) > 0:
		fl.pending = append(fl.pending, data...)
		data = fl.pending
	}
	fl.streamSet = true
	fl.streamPos = s.relSeq + uint32(len(s.payload))
	n := conv.app.dissect(s, data)
	if n < 0 {
		n = 0
	}
	if n >= len(data) {
		fl.pending = fl.pending[:0]
		return
	}
	rest := data[n:]
	if len(rest) > maxPending {
		// Give up on a PDU larger than any real one: drop it.
		fl.pending = fl.pending[:0]
	} else if len(fl.pending) > 0 && &fl.pending[0] == &data[0] {
		fl.pending = append(fl.pending[:0], rest...)
	} else {
		fl.pending = append(fl.pending[:0], rest...)
	}
	if !s.rendered {
		c.setProto("TCP")
		c.colSep(" ").Field(span.Analysis, "[TCP segment of a reassembled PDU]")
	}
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
	for _, h := range tcpHeurs {
		if a := h(s, s.payload); a != nil {
			return a
		}
	}
	return nil
}
