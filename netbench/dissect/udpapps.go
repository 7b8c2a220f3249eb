package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file holds small application protocols over UDP whose Info column
// is a simple function of a few header fields.

// udpFuncApp adapts a function to udpApp.
type udpFuncApp func(c *ctx, u *udpDatagram) bool

func (f udpFuncApp) dissect(c *ctx, u *udpDatagram) bool { return f(c, u) }

func init() {
	registerUDP(udpFuncApp(synphasorUDP), 4713)
	registerUDP(udpFuncApp(openvpnUDP), 1194)
	registerUDP(udpFuncApp(uftpUDP), 1044)
	registerUDP(udpFuncApp(cipIOUDP), 2222)
	udpHeurs = append(udpHeurs, mojitoHeur)
	registerUDP(udpFuncApp(teredoUDP), 3544)
	registerUDP(udpFuncApp(gtpUUDP), 2152)
	registerUDP(udpFuncApp(vxlanUDP), 4789)
}

// tunnelPayload runs fn, which dissects a tunneled packet, so that the
// frame's payload ends up as tshark's: the first TCP payload, else the first
// UDP payload (the tunnel's own).
func (c *ctx) tunnelPayload(fn func(c *ctx, b []byte), b []byte) {
	save := c.p.Payload
	c.p.Payload = nil
	fn(c, b)
	if len(c.p.Payload) == 0 || c.p.Transport != protoTCP {
		c.p.Payload = save
	}
}

// vxlanUDP is VXLAN: an 8-byte header, then an Ethernet frame.
func vxlanUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 8+14 {
		return false
	}
	c.tunnelPayload((*ctx).ethernet, b[8:])
	return true
}

// teredoUDP is packet-teredo.c: optional authentication and origin
// indication headers, then an IPv6 packet.
func teredoUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) >= 4 && b[0] == 0 && b[1] == 1 { // authentication header
		n := 4 + int(b[2]) + int(b[3]) + 9
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	if len(b) >= 8 && b[0] == 0 && b[1] == 0 { // origin indication
		b = b[8:]
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return false
	}
	c.ipv6(b)
	return true
}

// gtpUUDP is GTPv1-U: a G-PDU carries an IP packet; the Protocol column
// becomes "GTP <inner>".
func gtpUUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 8 || b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xff {
		return false
	}
	n := 8
	if b[0]&0x07 != 0 {
		n = 12
		if n > len(b) {
			return false
		}
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
	if n >= len(b) {
		return false
	}
	inner := b[n:]
	if v := inner[0] >> 4; v != 4 && v != 6 {
		return false
	}
	if inner[0]>>4 == 4 {
		c.tunnelPayload((*ctx).ipv4, inner)
	} else {
		c.tunnelPayload((*ctx).ipv6, inner)
	}
	c.setProto("GTP <" + c.p.Protocol + ">")
	return true
}

// appendHex appends v as width upper-case hex digits.
func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789ABCDEF"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[v>>(4*uint(i))&0xf])
	}
	return b
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func synphasorUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || b[0] != 0xaa {
		return false
	}
	t := c.colSet("SYNCHROPHASOR")
	synphasorInfo(t, b)
	return true
}

func openvpnUDP(c *ctx, u *udpDatagram) bool {
	if len(u.payload) < 1 {
		return false
	}
	t := c.colSet("OpenVPN")
	openvpnInfo(t, u.payload)
	return true
}

// --- UFTP (versions 4 and 5 share the header and message layout) ---

var uftpFuncs = [...]string{
	1: "ANNOUNCE", 2: "REGISTER", 3: "CLIENT_KEY", 4: "REG_CONF", 5: "KEYINFO",
	6: "KEYINFO_ACK", 7: "FILEINFO", 8: "FILEINFO_ACK", 9: "FILESEG", 10: "DONE",
	11: "STATUS", 12: "COMPLETE", 13: "DONE_CONF", 14: "HB_REQ", 15: "HB_RESP",
	16: "KEY_REQ", 17: "PROXY_KEY", 18: "ENCRYPTED", 19: "ABORT", 20: "CONG_CTRL",
	21: "CC_ACK",
}

func uftpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 16 || (b[0] != 0x40 && b[0] != 0x50) {
		return false
	}
	fn := b[1]
	name := "Unknown"
	if int(fn) < len(uftpFuncs) && uftpFuncs[fn] != "" {
		name = uftpFuncs[fn]
	}
	t := c.colSet("UFTP")
	st := t.Begin()
	t.Lit(name)
	for i := len(name); i < 12; i++ {
		t.B = append(t.B, ' ')
	}
	t.Lit(" ID=")
	t.B = appendHex(t.B, uint64(binary.BigEndian.Uint32(b[8:])), 8)
	m := b[16:]
	switch fn {
	case 7: // FILEINFO
		if len(m) >= 4 {
			t.Lit(":")
			t.B = appendHex(t.B, uint64(binary.BigEndian.Uint16(m[2:])), 4)
		}
	case 9: // FILESEG
		if len(m) >= 8 {
			t.Lit(":")
			t.B = appendHex(t.B, uint64(binary.BigEndian.Uint16(m[2:])), 4)
			t.Lit("  Section=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(m[4:])), 10)
			t.Lit("  Block=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(m[6:])), 10)
		}
	case 10, 12: // DONE, COMPLETE
		if len(m) >= 6 {
			if id := binary.BigEndian.Uint16(m[2:]); id > 0 {
				t.Lit(":")
				t.B = appendHex(t.B, uint64(id), 4)
				if fn == 10 {
					t.Lit("  Section=")
					t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(m[4:])), 10)
				}
			}
		}
	}
	t.End(span.Message, st)
	return true
}

// --- CIP I/O: ENIP common packet format on the I/O port ---

func cipIOUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 14 {
		return false
	}
	n := binary.LittleEndian.Uint16(b)
	typ := binary.LittleEndian.Uint16(b[2:])
	l := binary.LittleEndian.Uint16(b[4:])
	if n < 1 || typ != 0x8002 || l != 8 {
		return false
	}
	t := c.colSet("CIP I/O")
	st := t.Begin()
	t.Lit("Connection: ID=0x")
	t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[6:])), 8)
	t.Lit(", SEQ=")
	t.B = appendPadded(t.B, uint64(binary.LittleEndian.Uint32(b[10:])), 10)
	t.End(span.Message, st)
	return true
}

// --- Mojito (Gnutella DHT), found heuristically ---

var mojitoOpcodes = [...]string{
	1: "PING REQUEST", 2: "PING RESPONSE", 3: "STORE REQUEST", 4: "STORE RESPONSE",
	5: "FIND NODE REQUEST", 6: "FIND NODE RESPONSE", 7: "FIND VALUE REQUEST",
	8: "FIND VALUE RESPONSE", 10: "STATS REQUEST (DEPRECATED)", 11: "STATS RESPONSE (DEPRECATED)",
}

func mojitoHeur(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 60 || b[16] != 0x44 || int(binary.LittleEndian.Uint32(b[19:]))+23 != len(b) {
		return false
	}
	op := b[23]
	name := "Unknown"
	if int(op) < len(mojitoOpcodes) && mojitoOpcodes[op] != "" {
		name = mojitoOpcodes[op]
	}
	t := c.colSet("Mojito")
	t.Field(span.Message, name)
	return true
}
