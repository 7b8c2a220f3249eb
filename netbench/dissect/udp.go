package dissect

import (
	"encoding/binary"
	"net/netip"

	"github.com/lens-go/lens/netbench/span"
)

// udpKey identifies a UDP conversation independent of direction.
type udpKey struct {
	a, b   netip.Addr
	pa, pb uint16
}

// udpConv is the state kept per UDP conversation for the protocols that need
// it (QUIC connection IDs and versions, RTP, ...).
type udpConv struct {
	app   udpApp
	state any
}

// udpDatagram is what UDP application dissectors see.
type udpDatagram struct {
	srcPort, dstPort uint16
	payload          []byte
	conv             *udpConv
	dir              int // 0 when the source sorts first
}

func (c *ctx) udp(b []byte) {
	p := c.p
	if len(b) < 8 {
		c.malformed("UDP", "truncated UDP header")
		return
	}
	sp := binary.BigEndian.Uint16(b[0:])
	dp := binary.BigEndian.Uint16(b[2:])
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	payload := b[8:]
	if ulen >= 8 && ulen-8 < len(payload) {
		payload = payload[:ulen-8]
	}
	if !p.HasPorts {
		p.HasPorts, p.SrcPort, p.DstPort, p.Transport = true, sp, dp, protoUDP
	}
	if !p.udpDone {
		p.udpDone = true
		p.udpPayload = payload
	}
	c.setProto("UDP")
	t := c.clearInfo()
	writePorts(t, sp, dp)
	t.Lit(" Len=")
	if ulen >= 8 {
		t.Uint(span.PayloadLen, uint64(ulen-8))
	} else {
		t.Uint(span.PayloadLen, uint64(len(payload)))
	}

	a, bb, pa, pb, dir := c.src, c.dst, sp, dp, 0
	if cmp := a.Compare(bb); cmp > 0 || (cmp == 0 && pa > pb) {
		a, bb, pa, pb, dir = bb, a, pb, pa, 1
	}
	conv, _ := c.d.udp.get(udpKey{a, bb, pa, pb})
	u := &c.d.dgs[min(c.nUDP, len(c.d.dgs)-1)]
	c.nUDP++
	*u = udpDatagram{srcPort: sp, dstPort: dp, payload: payload, conv: conv, dir: dir}
	if conv.app != nil && conv.app.dissect(c, u) {
		return
	}
	lo, hi := sp, dp
	if lo > hi {
		lo, hi = hi, lo
	}
	if app, ok := udpPortApps[lo]; ok && app.dissect(c, u) {
		return
	}
	if app, ok := udpPortApps[hi]; ok && app.dissect(c, u) {
		return
	}
	for _, h := range udpHeurs {
		if h(c, u) {
			return
		}
	}
}
