package dissect

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders the protocols below or beside IP that carry no flow:
// ARP, 802.2 LLC, other Ethertypes, 802.11, PPP control protocols and IP
// protocols other than TCP and UDP.

func macString(b []byte) string { return net.HardwareAddr(b).String() }

func (c *ctx) arp(b []byte) {
	if len(b) < 8 {
		c.malformed("ARP", "truncated ARP header")
		return
	}
	htype := binary.BigEndian.Uint16(b[0:])
	ptype := binary.BigEndian.Uint16(b[2:])
	hlen, plen := int(b[4]), int(b[5])
	op := binary.BigEndian.Uint16(b[6:])
	need := 8 + 2*hlen + 2*plen
	if len(b) < need || htype != 1 || ptype != etherIPv4 || hlen != 6 || plen != 4 {
		c.other("ARP", fmt.Sprintf("ARP opcode %d", op))
		return
	}
	sha := b[8 : 8+6]
	spa := netip.AddrFrom4([4]byte(b[14:18]))
	tha := b[18:24]
	tpa := netip.AddrFrom4([4]byte(b[24:28]))
	switch op {
	case 3, 4:
		c.setProto("RARP")
	default:
		c.setProto("ARP")
	}
	t := c.clearInfo()
	zeroTHA := tha[0]|tha[1]|tha[2]|tha[3]|tha[4]|tha[5] == 0
	switch op {
	case 1:
		switch {
		case spa == tpa && zeroTHA:
			t.Field(span.Message, "ARP Announcement for "+tpa.String())
		case spa == tpa:
			t.Field(span.Message, "Gratuitous ARP for "+tpa.String()+" (Request)")
		case spa.IsUnspecified() && zeroTHA:
			t.Field(span.Message, "Who has "+tpa.String()+"? (ARP Probe)")
		default:
			t.Field(span.Message, "Who has "+tpa.String()+"? Tell "+spa.String())
		}
	case 2:
		if spa == tpa {
			t.Field(span.Message, "Gratuitous ARP for "+spa.String()+" (Reply)")
		} else {
			t.Field(span.Message, spa.String()+" is at "+macString(sha))
		}
	case 3:
		t.Field(span.Message, "Who is "+macString(tha)+"? Tell "+macString(sha))
	case 4:
		t.Field(span.Message, macString(tha)+" is at "+tpa.String())
	default:
		t.Field(span.Message, fmt.Sprintf("Unknown ARP opcode 0x%04x", op))
	}
}

func (c *ctx) llc(srcMAC, dstMAC, b []byte, n int) {
	if n < len(b) {
		b = b[:n]
	}
	if len(b) < 3 {
		c.malformed("LLC", "truncated LLC header")
		return
	}
	dsap, ssap := b[0], b[1]
	switch {
	case dsap == 0x42 && ssap == 0x42:
		c.other("STP", "Spanning Tree Protocol")
	default:
		c.other("LLC", fmt.Sprintf("I, N(R)=0, N(S)=0; DSAP 0x%02x, SSAP 0x%02x", dsap, ssap))
	}
}

func (c *ctx) etherOther(et uint16, srcMAC, dstMAC, b []byte) {
	switch et {
	case 0x8035:
		c.arp(b)
	case etherLLDP:
		c.other("LLDP", "LLDP")
	case etherEAPOL:
		c.other("EAPOL", "EAPOL")
	case etherPPPoED:
		c.other("PPPoED", "PPPoE Discovery")
	default:
		c.other("Ethernet", fmt.Sprintf("Ethernet II, type 0x%04x", et))
	}
}

func (c *ctx) ieee80211(b []byte) {
	c.other("802.11", "802.11 frame")
}

func (c *ctx) pppControl(proto uint16, b []byte) {
	c.other("PPP", fmt.Sprintf("PPP protocol 0x%04x", proto))
}

func (c *ctx) ipOther(proto uint8, b []byte, ver int) {
	name := ipProtoName(proto)
	switch proto {
	case protoICMP:
		c.icmp(b)
	case protoICMPv6:
		c.icmpv6(b)
	case protoGRE:
		if c.gre(b) {
			return
		}
		c.other("GRE", "Encapsulated "+name)
	case protoAH:
		if len(b) >= 12 {
			n := (int(b[1]) + 2) * 4
			if n <= len(b) {
				c.ipPayload(b[0], b[n:], ver)
				return
			}
		}
		c.malformed("AH", "truncated AH header")
	case protoESP:
		if len(b) >= 4 {
			c.other("ESP", fmt.Sprintf("ESP (SPI=0x%08x)", binary.BigEndian.Uint32(b)))
			return
		}
		c.malformed("ESP", "truncated ESP header")
	default:
		if ver == 6 {
			c.other("IPv6", name)
		} else {
			c.other("IPv4", name)
		}
	}
}

// gre dissects a GRE header and hands the payload on by its protocol type;
// it reports false when the header is cut short.
func (c *ctx) gre(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	fl := binary.BigEndian.Uint16(b)
	proto := binary.BigEndian.Uint16(b[2:])
	n := 4
	if fl&0x8000 != 0 || fl&0x4000 != 0 { // checksum or routing present
		n += 4
	}
	if fl&0x2000 != 0 { // key
		n += 4
	}
	if fl&0x1000 != 0 { // sequence number
		n += 4
	}
	if fl&7 == 1 && fl&0x0080 != 0 { // enhanced GRE acknowledgment
		n += 4
	}
	if n > len(b) {
		return false
	}
	b = b[n:]
	switch proto {
	case 0x6558: // transparent Ethernet bridging
		c.ethernet(b)
	case 0x880b: // PPP
		if len(b) == 0 {
			c.setProto("GRE")
			c.clearInfo()
			return true
		}
		c.ppp(b)
	default:
		c.etherPayload(proto, nil, nil, b)
	}
	return true
}
