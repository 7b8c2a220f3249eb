package dissect

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders ICMP and ICMPv6 as packet-icmp.c and packet-icmpv6.c do
// in tshark's single pass: echo replies name their request, error messages
// carry the offending datagram whose transport ports and payload become the
// frame's (tshark's udp.srcport / udp.payload fields come from the inner
// header), and neighbor discovery names the link-layer addresses.

// extState is the per-capture state of the protocols outside the core.
type extState struct {
	echo *convTable[echoKey, int]    // echo requests seen: frame number
	tftp *convTable[tftpKey, bool]   // TFTP transfers announced by a request
	sctp *convTable[sctpKey, uint32] // SCTP: first TSN of each direction
}

type echoKey struct {
	a, b    netip.Addr
	id, seq uint16
	v6      bool
}

func makeEchoKey(src, dst netip.Addr, id, seq uint16, v6 bool) echoKey {
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return echoKey{src, dst, id, seq, v6}
}

// echoRequest records an echo request; echoReply returns the frame of the
// matching request, or 0.
func (c *ctx) echoRequest(id, seq uint16, v6 bool) {
	e := &c.d.ext
	if e.echo == nil {
		e.echo = newConvTable[echoKey, int](4096)
	}
	v, _ := e.echo.get(makeEchoKey(c.src, c.dst, id, seq, v6))
	*v = c.p.Number
}

func (c *ctx) echoReply(id, seq uint16, v6 bool) int {
	e := &c.d.ext
	if e.echo == nil {
		return 0
	}
	if v := e.echo.lookup(makeEchoKey(c.src, c.dst, id, seq, v6)); v != nil {
		return *v
	}
	return 0
}

var icmpTypes = [...]string{
	0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench (flow control)",
	5: "Redirect", 8: "Echo (ping) request", 9: "Router advertisement", 10: "Router solicitation",
	11: "Time-to-live exceeded", 12: "Parameter problem", 13: "Timestamp request",
	14: "Timestamp reply", 15: "Information request", 16: "Information reply",
	17: "Address mask request", 18: "Address mask reply",
}

var icmpUnreach = [...]string{
	"Network unreachable", "Host unreachable", "Protocol unreachable", "Port unreachable",
	"Fragmentation needed", "Source route failed", "Destination network unknown",
	"Destination host unknown", "Source host isolated", "Network administratively prohibited",
	"Host administratively prohibited", "Network unreachable for TOS", "Host unreachable for TOS",
	"Communication administratively filtered", "Host precedence violation", "Precedence cutoff in effect",
}

var icmpRedirect = [...]string{"Redirect for network", "Redirect for host",
	"Redirect for TOS and network", "Redirect for TOS and host"}

func icmpCodeStr(typ, code byte) string {
	if s := icmpKnownCode(typ, code); s != "" {
		return s
	}
	switch typ {
	case 3, 5, 6, 9, 11, 12, 40:
		return "Unknown code: " + strconv.Itoa(int(code))
	}
	return ""
}

func icmpKnownCode(typ, code byte) string {
	switch typ {
	case 6:
		if code == 0 {
			return "Alternate address for host"
		}
	case 3:
		if int(code) < len(icmpUnreach) {
			return icmpUnreach[code]
		}
	case 5:
		if int(code) < len(icmpRedirect) {
			return icmpRedirect[code]
		}
	case 9:
		switch code {
		case 0:
			return "Normal router advertisement"
		case 16:
			return "Does not route common traffic"
		}
	case 11:
		switch code {
		case 0:
			return "Time to live exceeded in transit"
		case 1:
			return "Fragment reassembly time exceeded"
		}
	case 12:
		switch code {
		case 0:
			return "Pointer indicates the error"
		case 1:
			return "Required option missing"
		case 2:
			return "Bad length"
		}
	}
	return ""
}

func (c *ctx) icmp(b []byte) {
	if len(b) < 4 {
		c.malformed("ICMP", "truncated ICMP header")
		return
	}
	typ, code := b[0], b[1]
	t := c.colSet("ICMP")
	st := t.Begin()
	name := ""
	if int(typ) < len(icmpTypes) {
		name = icmpTypes[typ]
	}
	if name == "" {
		name = "Unknown ICMP (obsolete or malformed?)"
	}
	if typ == 9 && (code == 0 || code == 16) {
		name = "Mobile IP Advertisement"
	}
	t.Lit(name)
	for i := len(name); i < 20; i++ {
		t.B = append(t.B, ' ')
	}
	if cs := icmpCodeStr(typ, code); cs != "" {
		t.Lit(" (")
		t.Lit(cs)
		t.Lit(")")
	}
	switch typ {
	case 0, 8, 13, 14:
		if len(b) < 8 {
			break
		}
		id := binary.BigEndian.Uint16(b[4:])
		seq := binary.BigEndian.Uint16(b[6:])
		t.Lit(" id=0x")
		t.B = appendHexLower(t.B, uint64(id), 4)
		t.Lit(", seq=")
		t.B = strconv.AppendUint(t.B, uint64(seq), 10)
		t.Lit("/")
		t.B = strconv.AppendUint(t.B, uint64(seq>>8|seq<<8), 10)
		if c.ipTTL >= 0 {
			t.Lit(", ttl=")
			t.B = strconv.AppendUint(t.B, uint64(c.ipTTL), 10)
		}
		switch typ {
		case 8:
			c.echoRequest(id, seq, false)
		case 0:
			if n := c.echoReply(id, seq, false); n > 0 {
				t.Lit(" (request in ")
				t.B = strconv.AppendInt(t.B, int64(n), 10)
				t.Lit(")")
			}
		}
	case 3, 4, 5, 11, 12:
		if len(b) > 8 {
			c.icmpInner(b[8:])
		}
	}
	t.End(span.Message, st)
	if (typ == 3 || typ == 11 || typ == 12) && len(b) >= 8 && b[5] != 0 && 8+int(b[5])*4 > len(b) {
		// RFC 4884 length beyond the datagram: tshark's extension parsing throws.
		t.Lit("[Malformed Packet]")
	}
}

// icmpInner reads the datagram quoted in an ICMP error: its transport ports
// and payload become the frame's, as tshark's first udp/tcp fields do.
func (c *ctx) icmpInner(b []byte) {
	var proto byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || ihl > len(b) {
			return
		}
		end := int(binary.BigEndian.Uint16(b[2:]))
		if end > len(b) || end < ihl {
			end = len(b)
		}
		if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return // not the first fragment: no transport header
		}
		proto = b[9]
		b = b[ihl:end]
	case 6:
		if len(b) < 40 {
			return
		}
		end := 40 + int(binary.BigEndian.Uint16(b[4:]))
		if end > len(b) {
			end = len(b)
		}
		proto = b[6]
		b = b[40:end]
	default:
		return
	}
	p := c.p
	switch proto {
	case protoUDP:
		if len(b) < 8 {
			return
		}
		if !p.HasPorts {
			p.HasPorts, p.SrcPort, p.DstPort, p.Transport = true, binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), protoUDP
		}
		pl := b[8:]
		if ul := int(binary.BigEndian.Uint16(b[4:])); ul >= 8 && ul-8 < len(pl) {
			pl = pl[:ul-8]
		}
		if len(p.Payload) == 0 {
			p.Payload = pl
		}
	case protoTCP:
		if len(b) < 4 {
			return
		}
		if !p.HasPorts {
			p.HasPorts, p.SrcPort, p.DstPort, p.Transport = true, binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), protoTCP
		}
		if len(b) < 20 {
			return
		}
		hl := int(b[12]>>4) * 4
		if hl >= 20 && hl < len(b) && len(p.Payload) == 0 {
			p.Payload = b[hl:]
		}
	}
}

// --- ICMPv6 ---

var icmpv6Types = map[byte]string{
	1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem",
	128: "Echo (ping) request", 129: "Echo (ping) reply",
	130: "Multicast Listener Query", 131: "Multicast Listener Report", 132: "Multicast Listener Done",
	133: "Router Solicitation", 134: "Router Advertisement", 135: "Neighbor Solicitation",
	136: "Neighbor Advertisement", 137: "Redirect", 138: "Router Renumbering",
	139: "ICMP Node Information Query", 140: "ICMP Node Information Response",
	141: "Inverse Neighbor Discovery Solicitation Message",
	142: "Inverse Neighbor Discovery Advertisement Message",
	143: "Multicast Listener Report Message v2",
	144: "Home Agent Address Discovery Request Message", 145: "Home Agent Address Discovery Reply Message",
	146: "Mobile Prefix Solicitation", 147: "Mobile Prefix Advertisement",
	151: "Multicast Router Advertisement", 152: "Multicast Router Solicitation",
	153: "Multicast Router Termination", 155: "RPL Control Message",
}

var icmpv6Unreach = [...]string{
	"no route to destination", "Administratively prohibited", "Beyond scope of source address",
	"Address unreachable", "Port unreachable", "Source address failed ingress/egress policy",
	"Reject route to destination", "Error in Source Routing Header",
}

func icmpv6CodeStr(typ, code byte) string {
	switch typ {
	case 1:
		if int(code) < len(icmpv6Unreach) {
			return icmpv6Unreach[code]
		}
	case 3:
		switch code {
		case 0:
			return "hop limit exceeded in transit"
		case 1:
			return "fragment reassembly time exceeded"
		}
	case 4:
		switch code {
		case 0:
			return "erroneous header field encountered"
		case 1:
			return "unrecognized Next Header type encountered"
		case 2:
			return "unrecognized IPv6 option encountered"
		}
	}
	return ""
}

// ndpLinkAddr returns the link-layer address in the first option of the
// given type (1 source, 2 target), or nil.
func ndpLinkAddr(opts []byte, want byte) []byte {
	for len(opts) >= 2 {
		n := int(opts[1]) * 8
		if n == 0 || n > len(opts) {
			return nil
		}
		if opts[0] == want && n >= 8 {
			return opts[2:8]
		}
		opts = opts[n:]
	}
	return nil
}

func (c *ctx) icmpv6(b []byte) {
	if len(b) < 4 {
		c.malformed("ICMPv6", "truncated ICMPv6 header")
		return
	}
	typ, code := b[0], b[1]
	t := c.colSet("ICMPv6")
	st := t.Begin()
	name, ok := icmpv6Types[typ]
	if !ok {
		name = "Unknown (" + strconv.Itoa(int(typ)) + ")"
	}
	if typ == 128 && c.p.Transport == protoUDP && c.p.DstPort == 3544 {
		c.setProto("Teredo")
		name = "Direct IPv6 Connectivity Test"
	}
	t.Lit(name)
	if cs := icmpv6CodeStr(typ, code); cs != "" {
		t.Lit(" (")
		t.Lit(cs)
		t.Lit(")")
	}
	switch typ {
	case 1, 2, 3, 4:
		if len(b) > 8 {
			c.icmpInner(b[8:])
		}
	case 128, 129:
		if len(b) < 8 {
			break
		}
		id := binary.BigEndian.Uint16(b[4:])
		seq := binary.BigEndian.Uint16(b[6:])
		t.Lit(" id=0x")
		t.B = appendHexLower(t.B, uint64(id), 4)
		t.Lit(", seq=")
		t.B = strconv.AppendUint(t.B, uint64(seq), 10)
		if c.ipTTL >= 0 {
			t.Lit(", hop limit=")
			t.B = strconv.AppendUint(t.B, uint64(c.ipTTL), 10)
		}
		if typ == 128 {
			if c.p.Protocol != "Teredo" {
				c.echoRequest(id, seq, true)
			}
		} else if n := c.echoReply(id, seq, true); n > 0 {
			t.Lit(" (request in ")
			t.B = strconv.AppendInt(t.B, int64(n), 10)
			t.Lit(")")
		}
	case 133: // Router Solicitation
		if len(b) >= 8 {
			if ll := ndpLinkAddr(b[8:], 1); ll != nil {
				t.Lit(" from ")
				t.Lit(macString(ll))
			}
		}
	case 134: // Router Advertisement
		if len(b) >= 16 {
			if ll := ndpLinkAddr(b[16:], 1); ll != nil {
				t.Lit(" from ")
				t.Lit(macString(ll))
			}
		}
	case 135: // Neighbor Solicitation
		if len(b) >= 24 {
			t.Lit(" for ")
			t.Lit(netip.AddrFrom16([16]byte(b[8:24])).String())
			if ll := ndpLinkAddr(b[24:], 1); ll != nil {
				t.Lit(" from ")
				t.Lit(macString(ll))
			}
		}
	case 136: // Neighbor Advertisement
		if len(b) >= 24 {
			t.Lit(" ")
			t.Lit(netip.AddrFrom16([16]byte(b[8:24])).String())
			fl := b[4]
			if fl&0xe0 != 0 {
				t.Lit(" (")
				n := 0
				for i, f := range [3]string{"rtr", "sol", "ovr"} {
					if fl&(0x80>>i) != 0 {
						if n > 0 {
							t.Lit(", ")
						}
						t.Lit(f)
						n++
					}
				}
				t.Lit(")")
			}
			if ll := ndpLinkAddr(b[24:], 2); ll != nil {
				t.Lit(" is at ")
				t.Lit(macString(ll))
			}
		}
	}
	t.End(span.Message, st)
	if c.truncated && typ >= 133 && typ <= 137 {
		// tshark reads the options past the captured bytes and throws.
		t.Lit("[Packet size limited during capture]")
	}
}
