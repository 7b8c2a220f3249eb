package dissect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IP protocol numbers.
const (
	protoHopOpts  = 0
	protoICMP     = 1
	protoIGMP     = 2
	protoIPIP     = 4
	protoTCP      = 6
	protoUDP      = 17
	protoIPv6     = 41
	protoRouting  = 43
	protoFragment = 44
	protoGRE      = 47
	protoESP      = 50
	protoAH       = 51
	protoICMPv6   = 58
	protoNoNext   = 59
	protoDstOpts  = 60
	protoSCTP     = 132
)

// ipProtoNames are the names tshark uses for IP protocol numbers in
// "Fragmented IP protocol (proto=UDP 17, ...)".
var ipProtoNames = map[uint8]string{
	0: "IPv6 Hop-by-Hop Option", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP",
	41: "IPv6", 43: "IPv6 Routing", 44: "IPv6 Fragment", 47: "GRE", 50: "ESP", 51: "AH",
	58: "ICMPv6", 59: "IPv6 No Next Header", 60: "IPv6 Destination Options", 89: "OSPF IGP",
	103: "PIM", 112: "VRRP", 132: "SCTP",
}

func ipProtoName(p uint8) string {
	if s, ok := ipProtoNames[p]; ok {
		return s
	}
	return "Unknown"
}

func (c *ctx) setAddrs(src, dst netip.Addr) {
	if !c.p.HasIP {
		c.p.HasIP = true
		c.p.Src, c.p.Dst = src, dst
	}
	c.src, c.dst = src, dst
	c.ipDepth++
}

func (c *ctx) ipv4(b []byte) {
	if len(b) < 20 || b[0]>>4 != 4 {
		if len(b) > 0 && b[0]>>4 != 4 {
			c.setProto("IPv4")
			t := c.clearInfo()
			t.Lit(fmt.Sprintf("Bogus IP version (%d)", b[0]>>4))
			return
		}
		c.malformed("IPv4", "truncated IPv4 header")
		return
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || ihl > len(b) {
		c.setProto("IPv4")
		t := c.clearInfo()
		t.Lit(fmt.Sprintf("Bogus IPv4 header length (%d, must be at least 20)", ihl))
		return
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	c.setAddrs(src, dst)
	if total == 0 && len(b) > 0 { // TSO: length left to the hardware
		total = len(b)
	}
	if total < ihl {
		c.setProto("IPv4")
		t := c.clearInfo()
		t.Lit(fmt.Sprintf("Bogus IP length (%d, less than header length %d)", total, ihl))
		return
	}
	end := total
	if end > len(b) {
		end = len(b)
		c.truncated = true
	}
	payload := b[ihl:end]
	proto := b[9]
	id := binary.BigEndian.Uint16(b[4:])
	fl := binary.BigEndian.Uint16(b[6:])
	mf := fl&0x2000 != 0
	off := int(fl&0x1fff) * 8
	if mf || off > 0 {
		key := fragKey{src: src, dst: dst, id: uint32(id), proto: proto}
		whole, done := c.d.frags.add(key, off, total-ihl, mf, payload, end < total)
		if !done {
			c.setProto("IPv4")
			t := c.clearInfo()
			t.Field(0, fmt.Sprintf("Fragmented IP protocol (proto=%s %d, off=%d, ID=%04x)", ipProtoName(proto), proto, off, id))
			return
		}
		c.reassembled = true
		payload = whole
	}
	c.ipPayload(proto, payload, 4)
}

func (c *ctx) ipv6(b []byte) {
	if len(b) < 40 || b[0]>>4 != 6 {
		c.malformed("IPv6", "truncated IPv6 header")
		return
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	c.setAddrs(src, dst)
	plen := int(binary.BigEndian.Uint16(b[4:]))
	end := 40 + plen
	if plen == 0 { // jumbogram or TSO
		end = len(b)
	}
	if end > len(b) {
		end = len(b)
		c.truncated = true
	}
	next := b[6]
	rest := b[40:end]
	for {
		switch next {
		case protoHopOpts, protoRouting, protoDstOpts:
			if len(rest) < 8 {
				c.malformed("IPv6", "truncated IPv6 extension header")
				return
			}
			n := (int(rest[1]) + 1) * 8
			if n > len(rest) {
				c.malformed("IPv6", "truncated IPv6 extension header")
				return
			}
			next = rest[0]
			rest = rest[n:]
			continue
		case protoFragment:
			if len(rest) < 8 {
				c.malformed("IPv6", "truncated IPv6 fragment header")
				return
			}
			nxt := rest[0]
			fo := binary.BigEndian.Uint16(rest[2:])
			off := int(fo>>3) * 8
			mf := fo&1 != 0
			ident := binary.BigEndian.Uint32(rest[4:])
			frag := rest[8:]
			if !mf && off == 0 { // atomic fragment
				next, rest = nxt, frag
				continue
			}
			key := fragKey{src: src, dst: dst, id: ident, proto: nxt}
			whole, done := c.d.frags.add(key, off, len(frag), mf, frag, false)
			if !done {
				c.setProto("IPv6")
				t := c.clearInfo()
				more := "n"
				if mf {
					more = "y"
				}
				t.Lit(fmt.Sprintf("IPv6 fragment (off=%d more=%s ident=0x%08x nxt=%d)", off, more, ident, nxt))
				return
			}
			c.reassembled = true
			next, rest = nxt, whole
			continue
		case protoNoNext:
			c.setProto("IPv6")
			c.clearInfo()
			return
		}
		break
	}
	c.ipPayload(next, rest, 6)
}

// ipPayload dispatches an IP payload on its protocol number.
func (c *ctx) ipPayload(proto uint8, b []byte, ver int) {
	c.p.IPProto = proto
	switch proto {
	case protoTCP:
		c.tcp(b)
	case protoUDP:
		c.udp(b)
	case protoIPIP:
		c.ipv4(b)
	case protoIPv6:
		c.ipv6(b)
	default:
		c.ipOther(proto, b, ver)
	}
}
