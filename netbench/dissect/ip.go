package dissect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
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

func (c *ctx) setAddrs(src, dst netip.Addr, ip []byte) {
	if !c.p.HasIP {
		c.p.HasIP = true
		c.p.Src, c.p.Dst = src, dst
		c.p.IP = ip
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
	c.setAddrs(src, dst, b)
	c.ipTTL = b[8]
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
			t.Lit("Fragmented IP protocol (proto=")
			t.Lit(ipProtoName(proto))
			t.Lit(" ")
			t.B = strconv.AppendUint(t.B, uint64(proto), 10)
			t.Lit(", off=")
			t.B = strconv.AppendInt(t.B, int64(off), 10)
			t.Lit(", ID=")
			t.B = appendHexWidth(t.B, uint64(id), 4)
			t.Lit(")")
			return
		}
		c.reassembled = true
		payload = whole
		end = total
	}
	c.ipMissing = c.missing(total - end)
	c.ipPayload(proto, payload, 4)
}

func (c *ctx) ipv6(b []byte) {
	if len(b) < 40 || b[0]>>4 != 6 {
		c.malformed("IPv6", "truncated IPv6 header")
		return
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	c.setAddrs(src, dst, b)
	c.ipTTL = b[7]
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
	missing := 0
	if plen != 0 {
		missing = 40 + plen - end
	}
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
				t.Lit("IPv6 fragment (off=")
				t.B = strconv.AppendInt(t.B, int64(off), 10)
				t.Lit(" more=")
				t.Lit(more)
				t.Lit(" ident=0x")
				t.B = appendHexWidth(t.B, uint64(ident), 8)
				t.Lit(" nxt=")
				t.B = strconv.AppendUint(t.B, uint64(nxt), 10)
				t.Lit(")")
				return
			}
			c.reassembled = true
			next, rest = nxt, whole
			missing = 0
			continue
		case protoAH:
			if len(rest) < 8 {
				c.malformed("IPv6", "truncated AH header")
				return
			}
			n := (int(rest[1]) + 2) * 4
			if n > len(rest) {
				c.malformed("IPv6", "truncated AH header")
				return
			}
			next, rest = rest[0], rest[n:]
			continue
		case protoNoNext:
			c.setProto("IPv6")
			c.clearInfo().Lit("IPv6 no next header")
			return
		}
		break
	}
	c.ipMissing = c.missing(missing)
	c.ipPayload(next, rest, 6)
}

// missing bounds the bytes an IP header says are missing from the end of
// its payload by those missing from the end of the frame: like tshark's
// reported length, a length field never reaches past the frame on the wire.
func (c *ctx) missing(n int) int {
	if fm := c.frame.OrigLen - len(c.frame.Data); n > fm {
		n = fm
	}
	if n < 0 {
		n = 0
	}
	return n
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
	case protoAH:
		// The authentication header is followed by the protected payload,
		// which tshark dissects in place.
		if len(b) >= 8 && (int(b[1])+2)*4 <= len(b) && c.enterTunnel() {
			c.ipPayload(b[0], b[(int(b[1])+2)*4:], ver)
			return
		}
		c.ipOther(proto, b, ver)
	case protoGRE:
		if !c.greTunnel(b) {
			c.ipOther(proto, b, ver)
		}
	case protoICMP, protoICMPv6:
		c.icmpErrorPayload(proto, b)
		c.ipOther(proto, b, ver)
	default:
		c.ipOther(proto, b, ver)
	}
}

// icmpErrorPayload records the transport payload of the datagram quoted in an
// ICMP or ICMPv6 error message: tshark dissects the quoted IP, UDP and TCP
// headers, so its udp.payload / tcp.payload fields come from them.
func (c *ctx) icmpErrorPayload(proto uint8, b []byte) {
	if len(b) < 8 {
		return
	}
	typ := b[0]
	inner := b[8:]
	var next uint8
	if proto == protoICMP {
		switch typ {
		case 3, 4, 5, 11, 12:
		default:
			return
		}
		if len(inner) < 20 || inner[0]>>4 != 4 {
			return
		}
		ihl := int(inner[0]&0x0f) * 4
		if ihl < 20 || ihl > len(inner) {
			return
		}
		if binary.BigEndian.Uint16(inner[6:])&0x1fff != 0 {
			return // not the first fragment: no transport header
		}
		next = inner[9]
		if total := int(binary.BigEndian.Uint16(inner[2:])); total >= ihl && total < len(inner) {
			inner = inner[:total]
		}
		inner = inner[ihl:]
	} else {
		if typ < 1 || typ > 4 {
			return
		}
		if len(inner) < 40 || inner[0]>>4 != 6 {
			return
		}
		next = inner[6]
		if plen := int(binary.BigEndian.Uint16(inner[4:])); plen > 0 && 40+plen < len(inner) {
			inner = inner[:40+plen]
		}
		inner = inner[40:]
		for next == protoHopOpts || next == protoRouting || next == protoDstOpts {
			if len(inner) < 8 {
				return
			}
			n := (int(inner[1]) + 1) * 8
			if n > len(inner) {
				return
			}
			next, inner = inner[0], inner[n:]
		}
	}
	p := c.p
	switch next {
	case protoUDP:
		if len(inner) < 8 || p.udpDone {
			return
		}
		pl := inner[8:]
		if ulen := int(binary.BigEndian.Uint16(inner[4:])); ulen >= 8 && ulen-8 < len(pl) {
			pl = pl[:ulen-8]
		}
		p.udpDone = true
		p.udpPayload = pl
	case protoTCP:
		if len(inner) < 20 || len(p.tcpPayload) > 0 {
			return
		}
		hl := int(inner[12]>>4) * 4
		if hl >= 20 && hl < len(inner) {
			p.tcpPayload = inner[hl:]
		}
	}
}

// appendHexWidth appends v in lower-case hexadecimal, zero-padded to width digits.
func appendHexWidth(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < width {
		i--
		tmp[i] = digits[v&0xf]
		v >>= 4
		if i == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}
