package dissect

import "encoding/binary"

// This file follows tunnels down to the packet they carry, as tshark does
// by default: GTP-U, VXLAN, L2TP data messages and Teredo over UDP, GRE
// over IP, Cisco FabricPath and 802.11 data frames below IP. The columns
// are those of the innermost protocol; GTP-U wraps the Protocol column as
// "GTP <inner>".

// UDP ports tshark's tunnel dissectors register on.
const (
	portGTPU   = 2152
	portVXLAN  = 4789
	portL2TP   = 1701
	portTeredo = 3544
)

type (
	gtpuApp   struct{}
	vxlanApp  struct{}
	l2tpApp   struct{}
	teredoApp struct{}
)

func init() {
	registerUDP(gtpuApp{}, portGTPU)
	registerUDP(vxlanApp{}, portVXLAN)
	registerUDP(l2tpApp{}, portL2TP)
	registerUDP(teredoApp{}, portTeredo)
}

// maxTunnelDepth bounds nested encapsulations (a crafted frame could nest
// tunnels until the stack runs out).
const maxTunnelDepth = 8

func (c *ctx) enterTunnel() bool {
	if c.tunnels >= maxTunnelDepth {
		return false
	}
	c.tunnels++
	return true
}

// dissect handles GTPv1-U T-PDUs carrying IPv4 or IPv6.
func (gtpuApp) dissect(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 8 || b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xff {
		return false
	}
	n := 8
	if b[0]&0x07 != 0 { // E, S or PN: sequence number, N-PDU number, next extension type
		if len(b) < 12 {
			return false
		}
		n = 12
		next := b[11]
		for next != 0 {
			if n >= len(b) {
				return false
			}
			l := int(b[n]) * 4
			if l == 0 || n+l > len(b) {
				return false
			}
			next = b[n+l-1]
			n += l
		}
	}
	inner := b[n:]
	if len(inner) == 0 || (inner[0]>>4 != 4 && inner[0]>>4 != 6) || !c.enterTunnel() {
		return false
	}
	c.rawIP(inner)
	c.p.Protocol = "GTP <" + c.p.Protocol + ">"
	return true
}

// dissect handles VXLAN: an 8-byte header, then an Ethernet frame.
func (vxlanApp) dissect(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 8+14 || !c.enterTunnel() {
		return false
	}
	c.ethernet(b[8:])
	return true
}

// dissect handles L2TPv2 data messages carrying PPP.
func (l2tpApp) dissect(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 6 {
		return false
	}
	fl := binary.BigEndian.Uint16(b)
	if fl&0x8000 != 0 || fl&0x000f != 2 { // control message, or not version 2
		return false
	}
	n := 2
	if fl&0x4000 != 0 { // length
		n += 2
	}
	n += 4              // tunnel and session IDs
	if fl&0x0800 != 0 { // Ns, Nr
		n += 4
	}
	if fl&0x0200 != 0 { // offset size and padding
		if len(b) < n+2 {
			return false
		}
		n += 2 + int(binary.BigEndian.Uint16(b[n:]))
	}
	if n >= len(b) || !c.enterTunnel() {
		return false
	}
	c.ppp(b[n:])
	return true
}

// dissect handles Teredo: IPv6 in UDP, optionally behind an origin
// indication or authentication header.
func (teredoApp) dissect(c *ctx, u *udpDatagram) bool {
	b := u.payload
	for i := 0; i < 2 && len(b) >= 2 && b[0] == 0; i++ {
		switch b[1] {
		case 0: // origin indication
			if len(b) < 8 {
				return false
			}
			b = b[8:]
		case 1: // authentication
			if len(b) < 13 {
				return false
			}
			n := 13 + int(b[2]) + int(b[3])
			if n > len(b) {
				return false
			}
			b = b[n:]
		default:
			return false
		}
	}
	if len(b) < 40 || b[0]>>4 != 6 || !c.enterTunnel() {
		return false
	}
	c.ipv6(b)
	return true
}

// greTunnel follows a GRE packet to what it carries; it reports false when it
// carries something this package does not follow.
func (c *ctx) greTunnel(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	fl := binary.BigEndian.Uint16(b)
	proto := binary.BigEndian.Uint16(b[2:])
	n := 4
	if fl&0x8000 != 0 { // checksum
		n += 4
	}
	if fl&0x2000 != 0 { // key
		n += 4
	}
	if fl&0x1000 != 0 { // sequence number
		n += 4
	}
	if fl&0x0007 == 1 && fl&0x0080 != 0 { // enhanced GRE (PPTP): acknowledgement number
		n += 4
	}
	if n > len(b) {
		return false
	}
	inner := b[n:]
	switch proto {
	case etherIPv4, etherIPv6:
		if len(inner) == 0 || !c.enterTunnel() {
			return false
		}
		c.etherPayload(proto, nil, nil, inner)
	case 0x6558: // transparent Ethernet bridging
		if len(inner) < 14 || !c.enterTunnel() {
			return false
		}
		c.ethernet(inner)
	case 0x880b: // PPP
		if len(inner) == 0 || !c.enterTunnel() {
			return false
		}
		c.ppp(inner)
	case 0x88be: // ERSPAN type II (type I when there is no sequence number)
		if fl&0x1000 != 0 {
			if len(inner) < 8 {
				return false
			}
			inner = inner[8:]
		}
		if len(inner) < 14 || !c.enterTunnel() {
			return false
		}
		c.ethernet(inner)
	case 0x22eb: // ERSPAN type III
		if len(inner) < 12 {
			return false
		}
		h := 12
		if inner[11]&1 != 0 { // optional platform-specific subheader
			h += 8
		}
		if len(inner) < h+14 || !c.enterTunnel() {
			return false
		}
		c.ethernet(inner[h:])
	default:
		return false
	}
	return true
}

// fabricPath follows a Cisco FabricPath frame (Ethertype 0x8903 after the
// outer addresses): a 16-byte header, an Ethernet frame and a 4-byte FCS.
func (c *ctx) fabricPath(b []byte) bool {
	if len(b) < 4+14+4 || !c.enterTunnel() {
		return false
	}
	c.ethernet(b[2 : len(b)-4])
	return true
}

// ieee80211Data follows an 802.11 data frame with an LLC/SNAP header to the
// packet it carries; it reports false for other frames.
func (c *ctx) ieee80211Data(b []byte, fcs bool) bool {
	if len(b) < 24 {
		return false
	}
	fc0, fc1 := b[0], b[1]
	if (fc0>>2)&3 != 2 || fc0&0x03 != 0 { // not a data frame (version 0)
		return false
	}
	sub := fc0 >> 4
	if sub&0x4 != 0 || fc1&0x40 != 0 { // no body, or protected
		return false
	}
	n := 24
	if fc1&0x03 == 0x03 { // four addresses
		n += 6
	}
	if sub&0x8 != 0 { // QoS control
		n += 2
		if fc1&0x80 != 0 { // HT control
			n += 4
		}
	}
	if fcs {
		if len(b) < n+4 {
			return false
		}
		b = b[:len(b)-4]
	}
	if len(b) < n+8 {
		return false
	}
	body := b[n:]
	if body[0] != 0xaa || body[1] != 0xaa || body[2] != 0x03 {
		return false
	}
	et := binary.BigEndian.Uint16(body[6:])
	switch et {
	case etherIPv4, etherIPv6, etherARP:
	default:
		return false
	}
	c.etherPayload(et, nil, nil, body[8:])
	return true
}
