package dissect

import (
	"encoding/binary"
	"fmt"

	"github.com/lens-go/lens/netbench/capture"
)

// Ethertypes handled below the IP layer.
const (
	etherIPv4       = 0x0800
	etherARP        = 0x0806
	etherVLAN       = 0x8100
	etherQinQ       = 0x88a8
	etherQinQOld    = 0x9100
	etherIPv6       = 0x86dd
	etherPPPoES     = 0x8864
	etherPPPoED     = 0x8863
	etherMPLS       = 0x8847
	etherMPLSMcst   = 0x8848
	etherLLDP       = 0x88cc
	etherEAPOL      = 0x888e
	etherFabricPath = 0x8903
)

// link dissects the link-layer header of type lt and hands the payload on.
func (c *ctx) link(lt capture.LinkType, b []byte) {
	switch lt {
	case capture.LinkEthernet:
		c.ethernet(b)
	case capture.LinkRaw, capture.LinkRawAlt, capture.LinkRawAlt2:
		c.rawIP(b)
	case capture.LinkIPv4:
		c.ipv4(b)
	case capture.LinkIPv6:
		c.ipv6(b)
	case capture.LinkNull:
		if len(b) < 4 {
			c.malformed("Null/Loopback", "truncated loopback header")
			return
		}
		af := binary.LittleEndian.Uint32(b)
		if af > 0xffff { // written in the other byte order
			af = binary.BigEndian.Uint32(b)
		}
		c.bsdAF(af, b[4:])
	case capture.LinkLoop:
		if len(b) < 4 {
			c.malformed("Null/Loopback", "truncated loopback header")
			return
		}
		c.bsdAF(binary.BigEndian.Uint32(b), b[4:])
	case capture.LinkLinuxSLL:
		if len(b) < 16 {
			c.malformed("SLL", "truncated Linux cooked header")
			return
		}
		c.sllProto(binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[14:]), b[16:])
	case capture.LinkLinuxSLL2:
		if len(b) < 20 {
			c.malformed("SLL", "truncated Linux cooked v2 header")
			return
		}
		c.sllProto(binary.BigEndian.Uint16(b[8:]), binary.BigEndian.Uint16(b[0:]), b[20:])
	case capture.LinkPPP:
		c.ppp(b)
	case capture.LinkPPPHDLC:
		c.ppp(b)
	case capture.LinkIEEE80211:
		if !c.ieee80211Data(b, false) {
			c.ieee80211(b)
		}
	case capture.LinkRadiotap:
		if len(b) < 8 {
			c.malformed("802.11", "truncated radiotap header")
			return
		}
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n > len(b) {
			c.malformed("802.11", "truncated radiotap header")
			return
		}
		if !c.ieee80211Data(b[n:], radiotapFCS(b[:n])) {
			c.ieee80211(b[n:])
		}
	case capture.LinkCHDLC:
		c.chdlc(b)
	default:
		c.p.Skip = true
		c.p.SkipReason = fmt.Sprintf("unsupported link type %d", lt)
		c.setProto("Unknown")
		t := c.clearInfo()
		t.Lit(fmt.Sprintf("WTAP_ENCAP = %d", lt))
	}
}

func (c *ctx) ethernet(b []byte) {
	if len(b) < 14 {
		c.malformed("Ethernet", "truncated Ethernet header")
		return
	}
	et := binary.BigEndian.Uint16(b[12:])
	c.etherPayload(et, b[6:12], b[0:6], b[14:])
}

// etherPayload dispatches on an Ethertype (or an 802.3 length).
func (c *ctx) etherPayload(et uint16, srcMAC, dstMAC, b []byte) {
	for {
		switch et {
		case etherVLAN, etherQinQ, etherQinQOld:
			if len(b) < 4 {
				c.malformed("VLAN", "truncated 802.1Q tag")
				return
			}
			et = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
			continue
		case etherIPv4:
			c.ipv4(b)
		case etherIPv6:
			c.ipv6(b)
		case etherARP:
			c.arp(b)
		case etherPPPoES:
			if len(b) < 8 {
				c.malformed("PPPoES", "truncated PPPoE header")
				return
			}
			n := int(binary.BigEndian.Uint16(b[4:]))
			rest := b[6:]
			if n <= len(rest) {
				rest = rest[:n]
			}
			c.pppProto(rest)
		case etherFabricPath:
			if !c.fabricPath(b) {
				c.etherOther(et, srcMAC, dstMAC, b)
			}
		case etherMPLS, etherMPLSMcst:
			for len(b) >= 4 {
				bos := b[2]&1 == 1
				b = b[4:]
				if bos {
					break
				}
			}
			if len(b) > 0 && b[0]>>4 == 4 {
				c.ipv4(b)
			} else if len(b) > 0 && b[0]>>4 == 6 {
				c.ipv6(b)
			} else {
				c.other("MPLS", "MPLS Label Switched Packet")
			}
		default:
			if et <= 1500 {
				c.llc(srcMAC, dstMAC, b, int(et))
				return
			}
			c.etherOther(et, srcMAC, dstMAC, b)
		}
		return
	}
}

func (c *ctx) rawIP(b []byte) {
	if len(b) == 0 {
		c.malformed("Raw", "empty raw IP frame")
		return
	}
	switch b[0] >> 4 {
	case 4:
		c.ipv4(b)
	case 6:
		c.ipv6(b)
	default:
		c.other("Raw", "Raw packet data")
	}
}

// bsdAF dispatches on a BSD address family (loopback link types).
func (c *ctx) bsdAF(af uint32, b []byte) {
	switch af {
	case 2:
		c.ipv4(b)
	case 10, 24, 28, 30:
		c.ipv6(b)
	default:
		c.other("Null", fmt.Sprintf("Null/Loopback (family %d)", af))
	}
}

func (c *ctx) sllProto(hatype, proto uint16, b []byte) {
	switch proto {
	case 0x0004: // 802.2 LLC frames
		c.llc(nil, nil, b, len(b))
	default:
		c.etherPayload(proto, nil, nil, b)
	}
}

func (c *ctx) ppp(b []byte) {
	if len(b) >= 4 && (b[0] == 0x0f || b[0] == 0x8f) && b[1] == 0 {
		// Cisco HDLC in a PPP capture: tshark's PPP-in-HDLC dissector hands it on.
		c.chdlc(b)
		return
	}
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	c.pppProto(b)
}

func (c *ctx) pppProto(b []byte) {
	if len(b) == 0 {
		c.malformed("PPP", "truncated PPP header")
		return
	}
	var proto uint16
	if b[0]&1 == 1 { // compressed one-byte protocol field
		proto = uint16(b[0])
		b = b[1:]
	} else {
		if len(b) < 2 {
			c.malformed("PPP", "truncated PPP header")
			return
		}
		proto = binary.BigEndian.Uint16(b)
		b = b[2:]
	}
	switch proto {
	case 0x0021:
		c.ipv4(b)
	case 0x0057:
		c.ipv6(b)
	default:
		c.pppControl(proto, b)
	}
}

// malformed marks a frame whose headers are cut short.
func (c *ctx) malformed(proto, why string) {
	c.p.Skip = true
	c.p.SkipReason = why
	if c.p.Protocol == "" {
		c.setProto(proto)
	}
	t := &c.p.Info
	if c.truncated {
		// The header runs past the captured bytes of a frame cut short
		// by the snapshot length: tshark's BoundsError.
		t.Lit("[Packet size limited during capture]")
		return
	}
	t.Lit("[Malformed Packet]")
}

// other renders a frame of a protocol this package does not dissect further.
func (c *ctx) other(proto, info string) {
	c.setProto(proto)
	t := c.clearInfo()
	t.Lit(info)
}

// chdlc dissects a Cisco HDLC frame: address, control, Ethertype.
func (c *ctx) chdlc(b []byte) {
	if len(b) < 4 {
		c.malformed("CHDLC", "truncated Cisco HDLC header")
		return
	}
	et := binary.BigEndian.Uint16(b[2:])
	switch et {
	case etherIPv4, etherIPv6:
		c.etherPayload(et, nil, nil, b[4:])
	default:
		c.etherOther(et, nil, nil, b[4:])
	}
}

// radiotapFCS reports whether a radiotap header says the 802.11 frame
// ends with its FCS (the Flags field's 0x10 bit).
func radiotapFCS(h []byte) bool {
	if len(h) < 8 {
		return false
	}
	present := binary.LittleEndian.Uint32(h[4:])
	if present&0x2 == 0 {
		return false
	}
	off := 8
	for w := present; w&0x80000000 != 0; {
		if off+4 > len(h) {
			return false
		}
		w = binary.LittleEndian.Uint32(h[off:])
		off += 4
	}
	if present&0x1 != 0 { // TSFT: 8 bytes, 8-aligned
		off = (off + 7) &^ 7
		off += 8
	}
	return off < len(h) && h[off]&0x10 != 0
}
