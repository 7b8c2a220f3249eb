package dissect

import (
	"encoding/binary"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders EtherNet/IP (packet-enip.c) encapsulation and the CIP
// explicit messages it carries (packet-cip.c): "<class> - <service>" for
// requests, "<status>: <class> - <service>" for responses, whose class comes
// from the request with the same connection sequence count.

func init() {
	registerTCP(&tcpFuncApp{hdr: 24, pduLen: enipLen, render: enipRender}, 44818)
	registerUDP(udpFuncApp(enipUDP), 44818)
}

func enipLen(b []byte) int {
	return 24 + int(binary.LittleEndian.Uint16(b[2:]))
}

var enipCommands = map[uint16]string{
	0x0000: "NOP", 0x0004: "List Services", 0x0063: "List Identity", 0x0064: "List Interfaces",
	0x0065: "Register Session", 0x0066: "Unregister Session", 0x006f: "Send RR Data",
	0x0070: "Send Unit Data", 0x0072: "Indicate Status", 0x0073: "Cancel",
}

var cipServices = map[byte]string{
	0x01: "Get Attribute All", 0x02: "Set Attribute All", 0x03: "Get Attribute List",
	0x04: "Set Attribute List", 0x05: "Reset", 0x06: "Start", 0x07: "Stop", 0x08: "Create",
	0x09: "Delete", 0x0a: "Multiple Service Packet", 0x0d: "Apply Attributes",
	0x0e: "Get Attribute Single", 0x10: "Set Attribute Single", 0x11: "Find Next Object Instance",
	0x14: "Error Response", 0x15: "Restore", 0x16: "Save", 0x17: "No Operation",
	0x18: "Get Member", 0x19: "Set Member", 0x1a: "Insert Member", 0x1b: "Remove Member",
	0x1c: "Group Sync",
}

var cipClasses = map[uint32]string{
	0x01: "Identity", 0x02: "Message Router", 0x03: "DeviceNet", 0x04: "Assembly",
	0x05: "Connection", 0x06: "Connection Manager", 0x07: "Register", 0x0f: "Parameter",
	0x37: "File", 0xf4: "Port", 0xf5: "TCP/IP Interface", 0xf6: "Ethernet Link",
}

var cipStatus = map[byte]string{
	0x00: "Success", 0x01: "Connection failure", 0x02: "Resource unavailable",
	0x03: "Invalid parameter value", 0x04: "Path segment error", 0x05: "Path destination unknown",
	0x06: "Partial transfer", 0x07: "Connection lost", 0x08: "Service not supported",
	0x09: "Invalid attribute value", 0x0a: "Attribute list error", 0x0b: "Already in requested mode/state",
	0x0c: "Object state conflict", 0x0d: "Object already exists", 0x0e: "Attribute not settable",
	0x0f: "Privilege violation", 0x10: "Device state conflict", 0x11: "Reply data too large",
	0x13: "Not enough data", 0x14: "Attribute not supported", 0x15: "Too much data",
	0x16: "Object does not exist", 0x1e: "Embedded service error", 0x20: "Invalid parameter",
}

// cipState remembers the class of recent requests by sequence count.
type cipState struct {
	seq   [16]uint16
	class [16]uint32
	n     int
}

func (st *cipState) put(seq uint16, class uint32) {
	i := st.n % len(st.seq)
	st.seq[i], st.class[i] = seq, class
	st.n++
}

func (st *cipState) get(seq uint16) (uint32, bool) {
	for i := 0; i < len(st.seq) && i < st.n; i++ {
		if st.seq[i] == seq {
			return st.class[i], true
		}
	}
	return 0, false
}

func cipServiceName(svc byte) string {
	if s, ok := cipServices[svc&0x7f]; ok {
		return s
	}
	return "Service (0x" + string(appendHexLower(nil, uint64(svc&0x7f), 2)) + ")"
}

func cipClassName(class uint32) string {
	if s, ok := cipClasses[class]; ok {
		return s
	}
	return "Class (0x" + string(appendHexLower(nil, uint64(class), 2)) + ")"
}

// cipPathClass returns the class of a request path (padded EPATH).
func cipPathClass(path []byte) (uint32, bool) {
	for len(path) >= 2 {
		seg := path[0]
		switch seg {
		case 0x20:
			return uint32(path[1]), true
		case 0x21:
			if len(path) < 4 {
				return 0, false
			}
			return uint32(binary.LittleEndian.Uint16(path[2:])), true
		case 0x24, 0x30, 0x28:
			path = path[2:]
		case 0x25, 0x31, 0x29:
			path = path[4:]
		default:
			return 0, false
		}
	}
	return 0, false
}

func enipRender(s *tcpSegment, pdu []byte) {
	s.done()
	st, _ := s.conv.appState.(*cipState)
	if st == nil {
		st = &cipState{}
		s.conv.appState = st
	}
	enipInfo(s.c, pdu, s.srcPort == 44818, st)
}

func enipUDP(c *ctx, u *udpDatagram) bool {
	if len(u.payload) < 24 {
		return false
	}
	enipInfo(c, u.payload, u.srcPort == 44818, nil)
	return true
}

func enipInfo(c *ctx, pdu []byte, rsp bool, st *cipState) {
	cmd := binary.LittleEndian.Uint16(pdu)
	data := pdu[24:]
	if (cmd == 0x6f || cmd == 0x70) && len(data) >= 8 {
		if cipCPF(c, data[6:], rsp, st) {
			return
		}
	}
	t := c.colSet("ENIP")
	s := t.Begin()
	if name, ok := enipCommands[cmd]; ok {
		t.Lit(name)
	} else {
		t.Lit("Unknown Command (0x" + string(appendHexLower(nil, uint64(cmd), 4)) + ")")
	}
	if rsp {
		t.Lit(" (Rsp)")
	} else {
		t.Lit(" (Req)")
	}
	if cmd == 0x63 && rsp && len(data) >= 2+4 {
		// List Identity: the product name of the identity item.
		if len(data) >= 6 && binary.LittleEndian.Uint16(data) >= 1 && binary.LittleEndian.Uint16(data[2:]) == 0x0c {
			item := data[6:]
			if len(item) >= 33 {
				n := int(item[32])
				if 33+n <= len(item) {
					t.Lit(", ")
					t.LitBytes(item[33 : 33+n])
				}
			}
		}
	}
	t.End(span.Message, s)
	if 24+int(binary.LittleEndian.Uint16(pdu[2:])) > len(pdu) {
		t.Lit("[Malformed Packet]")
	}
}

// cipCPF reads the common packet format items and renders the CIP message
// of a connected (0xb1) or unconnected (0xb2) data item.
func cipCPF(c *ctx, b []byte, rsp bool, st *cipState) bool {
	if len(b) < 2 {
		return false
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	for i := 0; i < n && len(b) >= 4; i++ {
		typ := binary.LittleEndian.Uint16(b)
		l := int(binary.LittleEndian.Uint16(b[2:]))
		if 4+l > len(b) {
			return false
		}
		v := b[4 : 4+l]
		b = b[4+l:]
		switch typ {
		case 0xb1:
			if len(v) < 3 {
				return false
			}
			cipMessage(c, v[2:], binary.LittleEndian.Uint16(v), true, st)
			return true
		case 0xb2:
			if len(v) < 1 {
				return false
			}
			cipMessage(c, v, 0, false, st)
			return true
		}
	}
	return false
}

func cipMessage(c *ctx, m []byte, seq uint16, connected bool, st *cipState) {
	t := c.colSet("CIP")
	s := t.Begin()
	defer t.End(span.Message, s)
	svc := m[0]
	if svc&0x80 == 0 { // request
		if len(m) < 2 {
			return
		}
		pl := int(m[1]) * 2
		if 2+pl > len(m) {
			return
		}
		class, ok := cipPathClass(m[2 : 2+pl])
		if st != nil && connected && ok {
			st.put(seq, class)
		}
		if ok {
			t.Lit(cipClassName(class))
			t.Lit(" - ")
		}
		t.Lit(cipServiceName(svc))
		if svc == 0x0a {
			cipMSP(t, m[2+pl:])
		}
		return
	}
	if len(m) < 4 {
		return
	}
	status := m[2]
	if name, ok := cipStatus[status]; ok {
		t.Lit(name)
	} else {
		t.Lit("Unknown (0x" + string(appendHexLower(nil, uint64(status), 2)) + ")")
	}
	t.Lit(": ")
	if st != nil && connected {
		if class, ok := st.get(seq); ok && class != 0x02 {
			t.Lit(cipClassName(class))
			t.Lit(" - ")
		}
	}
	t.Lit(cipServiceName(svc))
	if svc&0x7f == 0x0a {
		data := m[4+int(m[3])*2:]
		cipMSP(t, data)
	}
}

// cipMSP appends the services of a Multiple Service Packet.
func cipMSP(t *span.Text, b []byte) {
	if len(b) < 2 {
		return
	}
	n := int(binary.LittleEndian.Uint16(b))
	if 2+2*n > len(b) {
		return
	}
	t.Lit(": ")
	for i := 0; i < n; i++ {
		off := int(binary.LittleEndian.Uint16(b[2+2*i:]))
		if off >= len(b) {
			return
		}
		if i > 0 {
			t.Lit(", ")
		}
		t.Lit(cipServiceName(b[off]))
	}
}
