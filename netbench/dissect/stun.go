package dissect

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders STUN/TURN (packet-stun.c) and RFC 3489 "classic" STUN
// (packet-classicstun.c): the method and class, then the attributes tshark
// appends to the Info column in packet order.

func init() {
	registerUDP(udpFuncApp(stunUDP), 3478)
	udpHeurs = append(udpHeurs, stunHeurUDP)
	registerTCP(stunTCPApp{}, 3478)
	tcpHeurs = append(tcpHeurs, stunHeurTCP)
}

const stunCookie = 0x2112a442

var stunMethods = [...]string{
	1: "Binding", 2: "SharedSecret", 3: "Allocate", 4: "Refresh", 6: "Send", 7: "Data",
	8: "CreatePermission", 9: "Channel-Bind", 10: "Connect", 11: "ConnectionBind",
	12: "ConnectionAttempt", 0x80: "GOOG-PING",
}

var stunClasses = [4]string{"Request", "Indication", "Success Response", "Error Response"}

func stunMethodClass(typ uint16) (method, class int) {
	method = int(typ&0x000f | (typ&0x00e0)>>1 | (typ&0x3e00)>>2)
	class = int((typ&0x0100)>>7 | (typ&0x0010)>>4)
	return
}

func stunMethodName(m int) string {
	if m < len(stunMethods) && stunMethods[m] != "" {
		return stunMethods[m]
	}
	return "Unknown"
}

// stunLooksValid checks a message with the magic cookie (the heuristic).
func stunLooksValid(b []byte, exact bool) bool {
	if len(b) < 20 || b[0]&0xc0 != 0 || binary.BigEndian.Uint32(b[4:]) != stunCookie {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:])) + 20
	if exact && n != len(b) || n > len(b) || n&3 != 0 {
		return false
	}
	m, _ := stunMethodClass(binary.BigEndian.Uint16(b))
	return stunMethodName(m) != "Unknown"
}

func stunUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) >= 4 && b[0]&0xc0 == 0x40 { // TURN ChannelData
		if 4+int(binary.BigEndian.Uint16(b[2:])) > len(b) {
			return false
		}
		t := c.colSet("STUN")
		t.Field(span.Message, "ChannelData TURN Message")
		return true
	}
	if len(b) < 20 || b[0]&0xc0 != 0 {
		return false
	}
	if binary.BigEndian.Uint32(b[4:]) != stunCookie {
		return classicSTUN(c, b)
	}
	if int(binary.BigEndian.Uint16(b[2:]))+20 > len(b) {
		return false
	}
	if m, _ := stunMethodClass(binary.BigEndian.Uint16(b)); stunMethodName(m) == "Unknown" {
		return false
	}
	stunRender(c, b)
	return true
}

func stunHeurUDP(c *ctx, u *udpDatagram) bool {
	if !stunLooksValid(u.payload, true) {
		return false
	}
	u.conv.app = udpFuncApp(stunConvUDP)
	stunRender(c, u.payload)
	return true
}

// stunConvUDP dissects the later datagrams of a conversation the heuristic
// claimed (tshark sets the conversation's dissector for TURN).
func stunConvUDP(c *ctx, u *udpDatagram) bool {
	if stunLooksValid(u.payload, false) {
		stunRender(c, u.payload)
		return true
	}
	return false
}

var classicSTUNTypes = map[uint16]string{
	0x0001: "Binding Request", 0x0101: "Binding Response", 0x0111: "Binding Error Response",
	0x0002: "Shared Secret Request", 0x0102: "Shared Secret Response",
	0x0112: "Shared Secret Error Response",
}

func classicSTUN(c *ctx, b []byte) bool {
	name, ok := classicSTUNTypes[binary.BigEndian.Uint16(b)]
	if !ok || int(binary.BigEndian.Uint16(b[2:]))+20 > len(b) {
		return false
	}
	t := c.colSet("CLASSIC-STUN")
	t.Lit("Message: ")
	t.Field(span.Message, name)
	return true
}

var stunAddrAttrs = map[uint16]string{
	0x0001: "MAPPED-ADDRESS", 0x8023: "ALTERNATE-SERVER", 0x802b: "RESPONSE-ORIGIN",
	0x802c: "OTHER-ADDRESS", 0x8090: "MS-ALT-MAPPED-ADDRESS",
}

var stunXorAddrAttrs = map[uint16]string{
	0x0020: "XOR-MAPPED-ADDRESS", 0x0012: "XOR-PEER-ADDRESS", 0x0016: "XOR-RELAYED-ADDRESS",
	0x8020: "MS-XOR-MAPPED-ADDRESS", 0x0021: "XOR-RESPONSE-TARGET", 0x0023: "XOR-REFLECTED-FROM",
}

var stunErrors = map[int]string{
	300: "Try Alternate", 400: "Bad Request", 401: "Unauthenticated", 403: "Forbidden",
	405: "Mobility Forbidden", 420: "Unknown Attribute", 437: "Allocation Mismatch",
	438: "Stale Nonce", 440: "Address Family not Supported", 441: "Wrong Credentials",
	442: "Unsupported Transport Protocol", 443: "Peer Address Family Mismatch",
	446: "Connection Already Exists", 447: "Connection Timeout or Failure",
	486: "Allocation Quota Reached", 487: "Role Conflict", 500: "Server Error",
	508: "Insufficient Port Capacity",
}

// stunRender writes the Info column of one STUN message (header checked).
func stunRender(c *ctx, b []byte) {
	typ := binary.BigEndian.Uint16(b)
	m, cl := stunMethodClass(typ)
	t := c.colSet("STUN")
	st := t.Begin()
	t.Lit(stunMethodName(m))
	t.Lit(" ")
	t.Lit(stunClasses[cl])
	end := 20 + int(binary.BigEndian.Uint16(b[2:]))
	if end > len(b) {
		end = len(b)
	}
	for off := 20; off+4 <= end; {
		at := binary.BigEndian.Uint16(b[off:])
		al := int(binary.BigEndian.Uint16(b[off+2:]))
		v := b[off+4:]
		if off+4+al > end {
			break
		}
		v = v[:al]
		switch at {
		case 0x0006: // USERNAME
			t.Lit(" user: ")
			t.LitBytes(v)
		case 0x0014: // REALM
			t.Lit(" realm: ")
			t.LitBytes(v)
		case 0x0015: // NONCE
			t.Lit(" with nonce")
		case 0x0009: // ERROR-CODE
			if al >= 4 {
				code := int(v[2]&7)*100 + int(v[3])
				t.Lit(" error-code: ")
				t.B = strconv.AppendInt(t.B, int64(code), 10)
				t.Lit(" (")
				if s, ok := stunErrors[code]; ok {
					t.Lit(s)
				} else {
					t.Lit("*Unknown error code*")
				}
				t.Lit(")")
				if al >= 5 {
					t.Lit(" ")
					t.LitBytes(v[4:])
				}
			}
		case 0x0019: // REQUESTED-TRANSPORT
			if al >= 4 {
				switch v[0] {
				case 17:
					t.Lit(" UDP")
				case 6:
					t.Lit(" TCP")
				default:
					t.Lit(" Unknown (0x" + strconv.FormatUint(uint64(v[0]), 16) + ")")
				}
			}
		case 0x000c: // CHANNEL-NUMBER
			if al >= 4 {
				t.Lit(" ChannelNumber=0x")
				t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(v)), 16)
			}
		case 0x000d: // LIFETIME
			if al >= 4 {
				t.Lit(" lifetime: ")
				t.B = strconv.AppendInt(t.B, int64(int32(binary.BigEndian.Uint32(v))), 10)
			}
		case 0x0010: // BANDWIDTH
			if al >= 4 {
				t.Lit(" bandwidth: ")
				t.B = strconv.AppendInt(t.B, int64(int32(binary.BigEndian.Uint32(v))), 10)
			}
		default:
			if name, ok := stunAddrAttrs[at]; ok {
				stunAddr(t, name, v, nil)
			} else if name, ok := stunXorAddrAttrs[at]; ok {
				stunAddr(t, name, v, b[4:20])
			}
		}
		off += 4 + (al+3)&^3
	}
	t.End(span.Message, st)
}

// stunAddr appends " NAME: addr:port"; xor is the cookie and transaction ID
// for the XOR-ed attributes.
func stunAddr(t *span.Text, name string, v, xor []byte) {
	if len(v) < 8 {
		return
	}
	port := binary.BigEndian.Uint16(v[2:])
	var addr netip.Addr
	switch v[1] {
	case 1:
		a := [4]byte(v[4:8])
		if xor != nil {
			port ^= binary.BigEndian.Uint16(xor)
			for i := range a {
				a[i] ^= xor[i]
			}
		}
		addr = netip.AddrFrom4(a)
	case 2:
		if len(v) < 20 {
			return
		}
		a := [16]byte(v[4:20])
		if xor != nil {
			port ^= binary.BigEndian.Uint16(xor)
			for i := range a {
				a[i] ^= xor[i]
			}
		}
		addr = netip.AddrFrom16(a)
	default:
		return
	}
	t.Lit(" ")
	t.Lit(name)
	t.Lit(": ")
	t.B = addr.AppendTo(t.B)
	t.Lit(":")
	t.B = strconv.AppendUint(t.B, uint64(port), 10)
}

// --- STUN over TCP: messages back to back, each with its own length ---

type stunTCPApp struct{}

func stunHeurTCP(s *tcpSegment, data []byte) tcpApp {
	if stunLooksValid(data, false) {
		return stunTCPApp{}
	}
	return nil
}

func stunTCPLen(b []byte) int {
	if b[0]&0xc0 == 0x40 { // ChannelData: padded to 4 over TCP
		return 4 + (int(binary.BigEndian.Uint16(b[2:]))+3)&^3
	}
	return 20 + int(binary.BigEndian.Uint16(b[2:]))
}

func (stunTCPApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	return tcpPDUs(s, data, 4, stunTCPLen, stunTCPRender)
}

func stunTCPRender(s *tcpSegment, pdu []byte) {
	s.done()
	if pdu[0]&0xc0 == 0x40 {
		t := s.c.colSet("STUN")
		t.Field(span.Message, "ChannelData TURN Message")
		return
	}
	if len(pdu) < 20 || binary.BigEndian.Uint32(pdu[4:]) != stunCookie {
		if len(pdu) < 20 || !classicSTUN(s.c, pdu) {
			s.c.colSet("STUN")
		}
		return
	}
	stunRender(s.c, pdu)
}
