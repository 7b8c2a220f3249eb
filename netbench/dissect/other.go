package dissect

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
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
	tpa := netip.AddrFrom4([4]byte(b[24:28]))
	c.setProto("ARP")
	t := c.clearInfo()
	switch op {
	case 1:
		if spa == tpa {
			t.Lit(fmt.Sprintf("ARP Announcement for %s", spa))
		} else if spa.IsUnspecified() {
			t.Lit(fmt.Sprintf("Who has %s? (ARP Probe)", tpa))
		} else {
			t.Lit(fmt.Sprintf("Who has %s? Tell %s", tpa, spa))
		}
	case 2:
		t.Lit(fmt.Sprintf("%s is at %s", spa, macString(sha)))
	default:
		t.Lit(fmt.Sprintf("Unknown ARP opcode 0x%04x", op))
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
		c.other("ICMP", "ICMP")
	case protoICMPv6:
		c.other("ICMPv6", "ICMPv6")
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
