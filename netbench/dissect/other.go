package dissect

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"

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
	st := t.Begin()
	switch op {
	case 1:
		switch {
		case spa == tpa && zeroTHA:
			t.Lit("ARP Announcement for ")
			t.B = tpa.AppendTo(t.B)
		case spa == tpa:
			t.Lit("Gratuitous ARP for ")
			t.B = tpa.AppendTo(t.B)
			t.Lit(" (Request)")
		case spa.IsUnspecified() && zeroTHA:
			t.Lit("Who has ")
			t.B = tpa.AppendTo(t.B)
			t.Lit("? (ARP Probe)")
		default:
			t.Lit("Who has ")
			t.B = tpa.AppendTo(t.B)
			t.Lit("? Tell ")
			t.B = spa.AppendTo(t.B)
		}
	case 2:
		if spa == tpa {
			t.Lit("Gratuitous ARP for ")
			t.B = spa.AppendTo(t.B)
			t.Lit(" (Reply)")
		} else {
			t.B = spa.AppendTo(t.B)
			t.Lit(" is at ")
			t.B = appendMAC(t.B, sha)
		}
	case 3:
		t.Lit("Who is ")
		t.B = appendMAC(t.B, tha)
		t.Lit("? Tell ")
		t.B = appendMAC(t.B, sha)
	case 4:
		t.B = appendMAC(t.B, tha)
		t.Lit(" is at ")
		t.B = tpa.AppendTo(t.B)
	default:
		t.Lit("Unknown ARP opcode 0x")
		t.B = appendHexLower(t.B, uint64(op), 4)
	}
	t.End(span.Message, st)
}

// appendMAC appends a 6-byte MAC address as tshark prints it.
func appendMAC(b, mac []byte) []byte {
	const digits = "0123456789abcdef"
	for i, x := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[x>>4], digits[x&0xf])
	}
	return b
}

func (c *ctx) llc(srcMAC, dstMAC, b []byte, n int) {
	if n < len(b) {
		b = b[:n]
	}
	if len(b) < 3 {
		c.malformed("LLC", "truncated LLC header")
		return
	}
	dsap, ssap, ctl := b[0], b[1], b[2]
	switch {
	case dsap == 0x42 && ssap == 0x42:
		c.stp(b[3:])
	case dsap == 0xaa && ssap == 0xaa && ctl == 0x03 && len(b) >= 8:
		oui := uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5])
		pid := binary.BigEndian.Uint16(b[6:])
		switch {
		case oui == 0 && pid >= 0x0600:
			c.etherPayload(pid, srcMAC, dstMAC, b[8:])
		case oui == 0x00000c && pid == 0x2000:
			c.cdp(b[8:])
		case oui == 0x00000c && pid == 0x2004:
			c.other("DTP", "Dynamic Trunk Protocol")
		case oui == 0x004096 && pid == 0x0000:
			c.other("WLCCP", "U, func=UI; SNAP, OUI 0x004096 (Cisco Systems, Inc), PID 0x0000")
		default:
			c.other("LLC", fmt.Sprintf("U, func=UI; SNAP, OUI 0x%06X, PID 0x%04X", oui, pid))
		}
	case ctl&0xef == 0xaf && len(b) >= 6 && b[3] == 0x81:
		c.other("XID", fmt.Sprintf("Basic Format; Type %d LLC (Class I LLC); Window Size %d", b[4]&0x1f, b[5]>>1))
	default:
		c.other("LLC", fmt.Sprintf("I, N(R)=0, N(S)=0; DSAP 0x%02x, SSAP 0x%02x", dsap, ssap))
	}
}

// stp renders a spanning tree BPDU as packet-stp.c does.
func (c *ctx) stp(b []byte) {
	if len(b) < 4 {
		c.malformed("STP", "truncated BPDU")
		return
	}
	version, typ := b[2], b[3]
	switch typ {
	case 0x80:
		c.other("STP", "Topology Change Notification")
		return
	case 0x00, 0x02:
	default:
		c.other("STP", "Unknown BPDU type")
		return
	}
	if len(b) < 27 {
		c.malformed("STP", "truncated BPDU")
		return
	}
	c.setProto("STP")
	t := c.clearInfo()
	st := t.Begin()
	switch {
	case typ == 0:
		t.Lit("Conf. ")
	case version == 3:
		t.Lit("MST. ")
	case version == 4:
		t.Lit("SPT. ")
	default:
		t.Lit("RST. ")
	}
	if b[4]&1 != 0 {
		t.Lit("TC + ")
	}
	prio := binary.BigEndian.Uint16(b[5:])
	t.Lit("Root = ")
	t.B = strconv.AppendUint(t.B, uint64(prio&0xf000), 10)
	t.Lit("/")
	t.B = strconv.AppendUint(t.B, uint64(prio&0x0fff), 10)
	t.Lit("/")
	t.Lit(macString(b[7:13]))
	t.Lit("  Cost = ")
	t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(b[13:])), 10)
	t.Lit("  Port = 0x")
	t.B = appendHexLower(t.B, uint64(binary.BigEndian.Uint16(b[25:])), 4)
	t.End(span.Message, st)
}

// cdp renders the Device ID and Port ID of a Cisco Discovery Protocol frame.
func (c *ctx) cdp(b []byte) {
	c.setProto("CDP")
	t := c.clearInfo()
	if len(b) < 4 {
		return
	}
	st := t.Begin()
	for o := 4; o+4 <= len(b); {
		typ := binary.BigEndian.Uint16(b[o:])
		l := int(binary.BigEndian.Uint16(b[o+2:]))
		if l < 4 || o+l > len(b) {
			break
		}
		switch typ {
		case 1:
			t.Lit("Device ID: ")
			t.LitBytes(b[o+4 : o+l])
			t.Lit("  ")
		case 3:
			t.Lit("Port ID: ")
			t.LitBytes(b[o+4 : o+l])
			t.Lit("  ")
		}
		o += l
	}
	t.End(span.Message, st)
}

var lldpChassisPfx = [8]string{1: "CO/", 2: "IA/", 3: "PC/", 4: "MA/", 5: "NA/", 6: "IN/", 7: "LA/"}
var lldpPortPfx = [8]string{1: "IA/", 2: "PC/", 3: "MA/", 4: "NA/", 5: "IN/", 6: "AC/", 7: "LA/"}

// lldp renders the chassis ID, port ID and TTL of an LLDP frame.
func (c *ctx) lldp(b []byte) {
	c.setProto("LLDP")
	t := c.clearInfo()
	st := t.Begin()
	for len(b) >= 2 {
		h := binary.BigEndian.Uint16(b)
		typ, l := h>>9, int(h&0x1ff)
		if typ == 0 || 2+l > len(b) {
			break
		}
		v := b[2 : 2+l]
		switch {
		case (typ == 1 || typ == 2) && l >= 1:
			pfx := lldpChassisPfx
			if typ == 2 {
				pfx = lldpPortPfx
			}
			sub := v[0]
			if int(sub) < len(pfx) {
				t.Lit(pfx[sub])
			}
			switch {
			case (typ == 1 && sub == 4 || typ == 2 && sub == 3) && l == 7:
				t.Lit(macString(v[1:7]))
			case (typ == 1 && sub == 5 || typ == 2 && sub == 4) && l == 6 && v[1] == 1:
				t.Lit(netip.AddrFrom4([4]byte(v[2:6])).String())
			default:
				t.LitBytes(v[1:])
			}
			t.Lit(" ")
		case typ == 3 && l >= 2:
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(v)), 10)
			t.Lit(" ")
		}
		b = b[2+l:]
	}
	t.End(span.Message, st)
}

func (c *ctx) etherOther(et uint16, srcMAC, dstMAC, b []byte) {
	switch et {
	case 0x8035:
		c.arp(b)
	case 0x8903: // Cisco FabricPath: FTag/TTL, then the inner Ethernet frame with its FCS
		if len(b) >= 2+14+4 {
			c.ethernet(b[2 : len(b)-4])
			return
		}
		c.malformed("CFP", "truncated FabricPath header")
	case etherLLDP:
		c.lldp(b)
	case etherEAPOL:
		c.eapol(b)
	case etherPPPoED:
		c.pppoed(b)
	default:
		c.other("Ethernet", fmt.Sprintf("Ethernet II, type 0x%04x", et))
	}
}

var wlanMgmtNames = [16]string{"Association Request", "Association Response",
	"Reassociation Request", "Reassociation Response", "Probe Request", "Probe Response",
	"Measurement Pilot", "", "Beacon frame", "ATIM", "Disassociate", "Authentication",
	"Deauthentication", "Action", "Action No Ack", ""}

// ieee80211 renders an 802.11 frame: management frames by subtype with their
// sequence number, flags and SSID; unprotected data frames through their LLC
// header to the protocol they carry.
func (c *ctx) ieee80211(b []byte) {
	if len(b) < 2 {
		c.malformed("802.11", "truncated 802.11 header")
		return
	}
	fc := b[0]
	flags := b[1]
	typ, sub := fc>>2&3, fc>>4
	switch typ {
	case 0: // management
		if len(b) < 24 || wlanMgmtNames[sub] == "" {
			break
		}
		c.setProto("802.11")
		t := c.clearInfo()
		st := t.Begin()
		wlanSummary(t, wlanMgmtNames[sub], b, flags)
		body := b[24:]
		fixed := 0
		switch sub {
		case 0:
			fixed = 4
		case 1, 3:
			fixed = 6
		case 2:
			fixed = 10
		case 5, 8:
			fixed = 12
			if sub == 8 && len(body) >= 10 {
				t.Lit(", BI=")
				t.B = strconv.AppendUint(t.B, uint64(binary.LittleEndian.Uint16(body[8:])), 10)
			}
		default:
			fixed = -1
		}
		if fixed >= 0 && fixed <= len(body) {
			ies := body[fixed:]
			for len(ies) >= 2 {
				id, l := ies[0], int(ies[1])
				if 2+l > len(ies) {
					break
				}
				if id == 0 {
					if l > 0 {
						t.Lit(", SSID=\"")
						t.LitBytes(ies[2 : 2+l])
						t.Lit("\"")
					}
					break
				}
				ies = ies[2+l:]
			}
		}
		t.End(span.Message, st)
		return
	case 2: // data
		hl := 24
		if flags&3 == 3 {
			hl += 6
		}
		if sub&0x8 != 0 {
			hl += 2
			if flags&0x80 != 0 {
				hl += 4
			}
		}
		if sub&0x4 != 0 { // no data
			break
		}
		if flags&0x40 == 0 && len(b) >= hl+3 {
			rest := b[hl:]
			c.llc(nil, nil, rest, len(rest))
			return
		}
		if len(b) >= 24 {
			c.setProto("802.11")
			t := c.clearInfo()
			st := t.Begin()
			name := "Data"
			if sub&0x8 != 0 {
				name = "QoS Data"
			}
			wlanSummary(t, name, b, flags)
			t.End(span.Message, st)
			return
		}
	}
	c.other("802.11", "802.11 frame")
}

// wlanSummary writes "NAME, SN=n, FN=n, Flags=........".
func wlanSummary(t *span.Text, name string, b []byte, flags byte) {
	sc := binary.LittleEndian.Uint16(b[22:])
	t.Lit(name)
	t.Lit(", SN=")
	t.B = strconv.AppendUint(t.B, uint64(sc>>4), 10)
	t.Lit(", FN=")
	t.B = strconv.AppendUint(t.B, uint64(sc&0xf), 10)
	t.Lit(", Flags=")
	const letters = "opmPRMFT"
	for i := 0; i < 8; i++ {
		if flags&(0x80>>i) != 0 {
			t.B = append(t.B, letters[i])
		} else {
			t.B = append(t.B, '.')
		}
	}
}

var pppControlNames = map[uint16]string{
	0xc021: "PPP LCP", 0x8021: "PPP IPCP", 0x80fd: "PPP CCP", 0x8057: "PPP IPV6CP",
	0x8053: "PPP ECP", 0x8281: "PPP MPLSCP", 0x80fb: "PPP CCP", 0x8029: "PPP ATCP",
}

var pppCodes = [...]string{1: "Configuration Request", 2: "Configuration Ack",
	3: "Configuration Nak", 4: "Configuration Reject", 5: "Termination Request",
	6: "Termination Ack", 7: "Code Reject", 8: "Protocol Reject", 9: "Echo Request",
	10: "Echo Reply", 11: "Discard Request", 12: "Identification", 13: "Time Remaining",
	14: "Reset Request", 15: "Reset Ack"}

// pppControl renders the PPP control protocols (LCP, IPCP, CCP, ...).
func (c *ctx) pppControl(proto uint16, b []byte) {
	if (proto == 0x0f || proto == 0x8f) && len(b) >= 3 && b[0] == 0 {
		// Cisco HDLC in a PPP capture (tshark's PPP dissector hands it on):
		// address, control 0, then an Ethertype.
		c.etherPayload(binary.BigEndian.Uint16(b[1:]), nil, nil, b[3:])
		return
	}
	name, ok := pppControlNames[proto]
	if !ok {
		c.other("PPP", fmt.Sprintf("PPP protocol 0x%04x", proto))
		return
	}
	t := c.colSet(name)
	if len(b) < 1 {
		return
	}
	code := b[0]
	if int(code) < len(pppCodes) && pppCodes[code] != "" && (code <= 11 || proto == 0x80fd || proto == 0xc021) {
		t.Field(span.Message, pppCodes[code])
	} else {
		t.Field(span.Message, "Unknown")
	}
}

var pppoedCodes = map[byte]string{
	0x09: "Active Discovery Initiation (PADI)", 0x07: "Active Discovery Offer (PADO)",
	0x19: "Active Discovery Request (PADR)", 0x65: "Active Discovery Session-confirmation (PADS)",
	0xa7: "Active Discovery Terminate (PADT)",
}

// pppoed renders a PPPoE discovery frame.
func (c *ctx) pppoed(b []byte) {
	if len(b) < 6 {
		c.malformed("PPPoED", "truncated PPPoE header")
		return
	}
	t := c.colSet("PPPoED")
	st := t.Begin()
	if name, ok := pppoedCodes[b[1]]; ok {
		t.Lit(name)
	} else {
		t.Lit("Unknown")
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	tags := b[6:]
	if n < len(tags) {
		tags = tags[:n]
	}
	for len(tags) >= 4 {
		typ := binary.BigEndian.Uint16(tags)
		l := int(binary.BigEndian.Uint16(tags[2:]))
		if 4+l > len(tags) {
			break
		}
		if typ == 0x0102 {
			t.Lit(" AC-Name='")
			t.LitBytes(tags[4 : 4+l])
			t.Lit("'")
		}
		tags = tags[4+l:]
	}
	t.End(span.Message, st)
}

func (c *ctx) ipOther(proto uint8, b []byte, ver int) {
	name := ipProtoName(proto)
	switch proto {
	case protoICMP:
		c.icmp(b)
	case protoICMPv6:
		c.icmpv6(b)
	case protoIGMP:
		c.igmp(b)
	case 103:
		c.pim(b)
	case protoSCTP:
		c.sctp(b)
	case protoGRE:
		if c.gre(b) {
			return
		}
		c.other("GRE", "Encapsulated "+name)
	case protoAH:
		if len(b) >= 12 {
			n := (int(b[1]) + 2) * 4
			if n <= len(b) {
				c.ipTTL = -1 // tshark's ICMP sees no IP header below it
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

// igmp renders IGMP (IP protocol 2) as packet-igmp.c does for versions 1-3.
func (c *ctx) igmp(b []byte) {
	if len(b) < 8 {
		c.malformed("IGMP", "truncated IGMP message")
		return
	}
	typ := b[0]
	group := netip.AddrFrom4([4]byte(b[4:8]))
	var t *span.Text
	switch typ {
	case 0x11: // membership query
		switch {
		case len(b) >= 12:
			t = c.colSet("IGMPv3")
		case b[1] != 0:
			t = c.colSet("IGMPv2")
		default:
			t = c.colSet("IGMPv1")
		}
		st := t.Begin()
		if group.IsUnspecified() {
			t.Lit("Membership Query, general")
		} else {
			t.Lit("Membership Query, specific for group ")
			t.Lit(group.String())
		}
		t.End(span.Message, st)
	case 0x12:
		t = c.colSet("IGMPv1")
		t.Field(span.Message, "Membership Report group "+group.String())
	case 0x16:
		t = c.colSet("IGMPv2")
		t.Field(span.Message, "Membership Report group "+group.String())
	case 0x17:
		t = c.colSet("IGMPv2")
		t.Field(span.Message, "Leave Group "+group.String())
	case 0x22: // v3 report: group records
		t = c.colSet("IGMPv3")
		st := t.Begin()
		t.Lit("Membership Report")
		n := int(binary.BigEndian.Uint16(b[6:]))
		o := 8
		for i := 0; i < n && o+8 <= len(b); i++ {
			rt, aux := b[o], int(b[o+1])*4
			ns := int(binary.BigEndian.Uint16(b[o+2:]))
			g := netip.AddrFrom4([4]byte(b[o+4 : o+8])).String()
			switch {
			case ns == 0 && (rt == 2 || rt == 4):
				t.Lit(" / Join group " + g + " for any sources")
			case ns == 0 && (rt == 1 || rt == 3):
				t.Lit(" / Leave group " + g)
			default:
				t.Lit(" / Group " + g)
			}
			o += 8 + ns*4 + aux
		}
		t.End(span.Message, st)
	default:
		c.other("IGMP", fmt.Sprintf("Unknown Type:0x%02x", typ))
	}
}

var pimTypes = [...]string{"Hello", "Register", "Register-stop", "Join/Prune", "Bootstrap",
	"Assert", "Graft", "Graft-Ack", "Candidate-RP-Advertisement", "State-Refresh",
	"DF Election", "ECMP Redirect"}

// pim renders PIM version 2 (IP protocol 103).
func (c *ctx) pim(b []byte) {
	if len(b) < 4 || b[0]>>4 != 2 {
		c.other("PIM", "PIM")
		return
	}
	typ := int(b[0] & 0x0f)
	name := "Unknown"
	if typ < len(pimTypes) {
		name = pimTypes[typ]
	}
	t := c.colSet("PIMv2")
	t.Field(span.Message, name)
}

var sctpChunks = map[byte]string{0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT",
	5: "HEARTBEAT_ACK", 6: "ABORT", 7: "SHUTDOWN", 8: "SHUTDOWN_ACK", 9: "ERROR",
	10: "COOKIE_ECHO", 11: "COOKIE_ACK", 12: "ECNE", 13: "CWR", 14: "SHUTDOWN_COMPLETE",
	15: "AUTH", 64: "I_DATA", 128: "ASCONF_ACK", 130: "RE_CONFIG", 132: "PAD",
	192: "FORWARD_TSN", 193: "ASCONF", 194: "I_FORWARD_TSN"}

// sctpKey names one direction of an SCTP association: the sender of the
// TSNs.
type sctpKey struct {
	src, dst         netip.Addr
	srcPort, dstPort uint16
}

// sctp renders the chunk names of an SCTP packet (IP protocol 132).
func (c *ctx) sctp(b []byte) {
	if len(b) < 12 {
		c.malformed("SCTP", "truncated SCTP header")
		return
	}
	t := c.colSet("SCTP")
	st := t.Begin()
	for o := 12; o+4 <= len(b); {
		typ := b[o]
		l := int(binary.BigEndian.Uint16(b[o+2:]))
		name, ok := sctpChunks[typ]
		if !ok {
			name = "UNKNOWN"
		}
		t.Lit(name)
		t.Lit(" ")
		if typ == 3 && l >= 12 && o+12 <= len(b) {
			// tshark shows TSNs relative to the first one seen from the peer.
			ack := binary.BigEndian.Uint32(b[o+4:])
			e := &c.d.ext
			if e.sctp == nil {
				e.sctp = newConvTable[sctpKey, uint32](256)
			}
			base, fresh := e.sctp.get(sctpKey{c.dst, c.src, binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b)})
			if fresh {
				*base = ack
			}
			t.Lit("(Ack=")
			t.B = strconv.AppendUint(t.B, uint64(ack-*base), 10)
			t.Lit(", Arwnd=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(b[o+8:])), 10)
			t.Lit(") ")
		}
		if l < 4 {
			break
		}
		o += (l + 3) &^ 3
	}
	t.End(span.Message, st)
}

// eapol renders an EAPOL-Key frame as its place in the 4-way or group key
// handshake.
func (c *ctx) eapol(b []byte) {
	if len(b) < 4 {
		c.malformed("EAPOL", "truncated EAPOL header")
		return
	}
	switch b[1] {
	case 3: // Key
	case 1:
		c.other("EAPOL", "Start")
		return
	case 2:
		c.other("EAPOL", "Logoff")
		return
	default:
		c.other("EAPOL", "EAPOL")
		return
	}
	t := c.colSet("EAPOL")
	if len(b) < 4+95 {
		t.Field(span.Message, "Key")
		return
	}
	k := b[4:]
	info := binary.BigEndian.Uint16(k[1:])
	dataLen := binary.BigEndian.Uint16(k[93:])
	var msg string
	switch {
	case info&0x0008 == 0: // group key handshake
		if info&0x0080 != 0 {
			msg = "Key (Group Message 1 of 2)"
		} else {
			msg = "Key (Group Message 2 of 2)"
		}
	case info&0x0080 != 0 && info&0x0040 != 0:
		msg = "Key (Message 3 of 4)"
	case info&0x0080 != 0:
		msg = "Key (Message 1 of 4)"
	case info&0x0200 != 0 && dataLen == 0:
		msg = "Key (Message 4 of 4)"
	default:
		msg = "Key (Message 2 of 4)"
	}
	t.Field(span.Message, msg)
}
