package dissect

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
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
	registerUDP(udpFuncApp(tftpUDP), 69)
	registerUDP(udpFuncApp(syslogUDP), 514)
	registerUDP(udpFuncApp(ntpUDP), 123)
	registerUDP(udpFuncApp(dhcpUDP), 67, 68)
	registerUDP(udpFuncApp(finsUDP), 9600)
	registerUDP(udpFuncApp(capwapDataUDP), 5247)
	registerUDP(udpFuncApp(l2tpUDP), 1701)
	registerUDP(udpFuncApp(dbLspDiscUDP), 17500)
	registerUDP(udpFuncApp(oicqUDP), 8000)
	registerUDP(udpFuncApp(natpmpUDP), 5351)
	registerUDP(udpFuncApp(dhcpv6UDP), 546, 547)
	registerUDP(udpFuncApp(isakmpUDP), 500, 4500)
	registerUDP(udpFuncApp(pfcpUDP), 8805)
	udpHeurs = append(udpHeurs, rtpsHeur, btDHTHeur)
	registerUDP(udpFuncApp(bfdControlUDP), 3784)
	registerUDP(udpFuncApp(bfdEchoUDP), 3785)
	registerUDP(udpFuncApp(egdUDP), 18246)
	registerUDP(udpFuncApp(cupsUDP), 631)
	registerUDP(udpFuncApp(ripUDP), 520)
	registerUDP(udpFuncApp(icqUDP), 4000)
	registerUDP(udpFuncApp(lispUDP), 4342)
	udpHeurs = append(udpHeurs, tftpHeur, wireguardHeur)
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

// --- WireGuard, found heuristically ---

func wireguardHeur(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || b[1]|b[2]|b[3] != 0 {
		return false
	}
	t := &c.p.Info
	switch b[0] {
	case 1:
		if len(b) != 148 {
			return false
		}
		t = c.colSet("WireGuard")
		st := t.Begin()
		t.Lit("Handshake Initiation, sender=0x")
		t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[4:])), 8)
		t.End(span.Message, st)
	case 2:
		if len(b) != 92 {
			return false
		}
		t = c.colSet("WireGuard")
		st := t.Begin()
		t.Lit("Handshake Response, sender=0x")
		t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[4:])), 8)
		t.Lit(", receiver=0x")
		t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[8:])), 8)
		t.End(span.Message, st)
	case 3:
		if len(b) != 64 {
			return false
		}
		t = c.colSet("WireGuard")
		st := t.Begin()
		t.Lit("Cookie Reply, receiver=0x")
		t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[4:])), 8)
		t.End(span.Message, st)
	case 4:
		if len(b) < 32 {
			return false
		}
		t = c.colSet("WireGuard")
		st := t.Begin()
		if len(b) == 32 {
			t.Lit("Keepalive")
		} else {
			t.Lit("Transport Data")
		}
		t.Lit(", receiver=0x")
		t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[4:])), 8)
		t.Lit(", counter=")
		t.B = strconv.AppendUint(t.B, binary.LittleEndian.Uint64(b[8:]), 10)
		if len(b) > 32 {
			t.Lit(", datalen=")
			t.B = strconv.AppendUint(t.B, uint64(len(b)-32), 10)
		}
		t.End(span.Message, st)
	default:
		return false
	}
	return true
}

// --- TFTP: the request goes to port 69, the transfer continues between
// the client's port and any port of the server ---

type tftpKey struct {
	client, server netip.Addr
	port           uint16
}

func tftpOpcode(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func tftpUDP(c *ctx, u *udpDatagram) bool {
	op := tftpOpcode(u.payload)
	if op < 1 || op > 6 {
		return false
	}
	if op == 1 || op == 2 {
		e := &c.d.ext
		if e.tftp == nil {
			e.tftp = newConvTable[tftpKey, bool](1024)
		}
		v, _ := e.tftp.get(tftpKey{c.src, c.dst, u.srcPort})
		*v = true
	}
	tftpRender(c, u.payload)
	return true
}

// tftpHeur claims the datagrams of a transfer a request announced.
func tftpHeur(c *ctx, u *udpDatagram) bool {
	e := &c.d.ext
	if e.tftp == nil {
		return false
	}
	if e.tftp.lookup(tftpKey{c.src, c.dst, u.srcPort}) == nil && e.tftp.lookup(tftpKey{c.dst, c.src, u.dstPort}) == nil {
		return false
	}
	op := tftpOpcode(u.payload)
	if op < 1 || op > 6 {
		return false
	}
	u.conv.app = udpFuncApp(tftpUDP)
	tftpRender(c, u.payload)
	return true
}

// cstring returns the NUL-terminated string at the start of b and the rest.
func cstring(b []byte) ([]byte, []byte) {
	if i := indexByte(b, 0); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func tftpRender(c *ctx, b []byte) {
	t := c.colSet("TFTP")
	st := t.Begin()
	op := tftpOpcode(b)
	rest := b[2:]
	switch op {
	case 1, 2:
		if op == 1 {
			t.Lit("Read Request, File: ")
		} else {
			t.Lit("Write Request, File: ")
		}
		var f, mode []byte
		f, rest = cstring(rest)
		mode, rest = cstring(rest)
		t.LitBytes(f)
		t.Lit(", Transfer type: ")
		t.LitBytes(mode)
		for len(rest) > 0 {
			var k, v []byte
			k, rest = cstring(rest)
			v, rest = cstring(rest)
			t.Lit(", ")
			t.LitBytes(k)
			t.Lit("=")
			t.LitBytes(v)
		}
	case 3:
		if len(rest) >= 2 {
			t.Lit("Data Packet, Block: ")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(rest)), 10)
			if len(rest)-2 < 512 {
				t.Lit(" (last)")
			}
		}
	case 4:
		if len(rest) >= 2 {
			t.Lit("Acknowledgement, Block: ")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(rest)), 10)
		}
	case 5:
		if len(rest) >= 2 {
			t.Lit("Error Code, Code: ")
			t.Lit(tftpErrors(binary.BigEndian.Uint16(rest)))
			msg, _ := cstring(rest[2:])
			t.Lit(", Message: ")
			t.LitBytes(msg)
		}
	case 6:
		t.Lit("Option Acknowledgement")
		for len(rest) > 0 {
			var k, v []byte
			k, rest = cstring(rest)
			v, rest = cstring(rest)
			t.Lit(", ")
			t.LitBytes(k)
			t.Lit("=")
			t.LitBytes(v)
		}
	}
	t.End(span.Message, st)
}

func tftpErrors(code uint16) string {
	switch code {
	case 0:
		return "Not defined"
	case 1:
		return "File not found"
	case 2:
		return "Access violation"
	case 3:
		return "Disk full or allocation exceeded"
	case 4:
		return "Illegal TFTP Operation"
	case 5:
		return "Unknown transfer ID"
	case 6:
		return "File already exists"
	case 7:
		return "No such user"
	case 8:
		return "Option negotiation failed"
	}
	return "Unknown (" + strconv.Itoa(int(code)) + ")"
}

// --- Syslog ---

var syslogFacilities = [...]string{"KERN", "USER", "MAIL", "DAEMON", "AUTH", "SYSLOG", "LPR",
	"NEWS", "UUCP", "CRON", "AUTHPRIV", "FTP", "NTP", "AUDIT", "ALERT", "CRON2",
	"LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"}
var syslogLevels = [8]string{"EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}

func syslogUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	pri, msg := -1, b
	if len(b) >= 3 && b[0] == '<' {
		for i := 1; i < len(b) && i <= 4; i++ {
			if b[i] == '>' {
				if i > 1 {
					pri = atoiPrefix(b[1:i])
					msg = b[i+1:]
				}
				break
			}
			if b[i] < '0' || b[i] > '9' {
				break
			}
		}
	}
	t := c.colSet("Syslog")
	st := t.Begin()
	if pri >= 0 {
		fac, lev := pri>>3, pri&7
		if fac < len(syslogFacilities) {
			t.Lit(syslogFacilities[fac])
		} else {
			t.Lit("UNKNOWN")
		}
		t.Lit(".")
		t.Lit(syslogLevels[lev])
		t.Lit(": ")
	}
	t.Lit(formatText(msg))
	t.End(span.Message, st)
	return true
}

// --- NTP ---

var ntpPrivCodes = map[byte]string{0: "PEER_LIST", 1: "PEER_LIST_SUM", 2: "PEER_INFO",
	3: "PEER_STATS", 4: "SYS_INFO", 5: "SYS_STATS", 6: "IO_STATS", 7: "MEM_STATS",
	8: "LOOP_INFO", 9: "TIMER_STATS", 10: "CONFIG", 11: "UNCONFIG", 12: "SET_SYS_FLAG",
	13: "CLR_SYS_FLAG", 14: "MONITOR", 15: "NOMONITOR", 16: "GET_RESTRICT", 17: "RESADDFLAGS",
	18: "RESSUBFLAGS", 19: "UNRESTRICT", 20: "MON_GETLIST", 21: "RESET_STATS",
	22: "RESET_PEER", 23: "REREAD_KEYS", 24: "DO_DIRTY_HACK", 25: "DONT_DIRTY_HACK",
	26: "TRUSTKEY", 27: "UNTRUSTKEY", 28: "AUTHINFO", 29: "TRAPS", 30: "ADD_TRAP",
	31: "CLR_TRAP", 32: "REQUEST_KEY", 33: "CONTROL_KEY", 34: "GET_CTLSTATS",
	35: "GET_LEAPINFO", 36: "GET_CLOCKINFO", 37: "SET_CLKFUDGE", 38: "GET_KERNEL",
	39: "GET_CLKBUGINFO", 41: "SET_PRECISION", 42: "MON_GETLIST_1", 43: "HOSTNAME_ASSOCID",
	44: "IF_STATS", 45: "IF_RELOAD"}

var ntpModes = [8]string{"reserved", "symmetric active", "symmetric passive", "client",
	"server", "broadcast", "reserved for NTP control message", "reserved for private use"}

func ntpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 1 {
		return false
	}
	mode := b[0] & 7
	if mode == 7 && len(b) >= 4 { // private (ntpdc) messages
		t := c.colSet("NTP")
		st := t.Begin()
		t.Lit("NTP Version ")
		t.B = strconv.AppendUint(t.B, uint64(b[0]>>3&7), 10)
		t.Lit(", private, ")
		if b[0]&0x80 != 0 {
			t.Lit("Response, ")
		} else {
			t.Lit("Request, ")
		}
		if name, ok := ntpPrivCodes[b[3]]; ok {
			t.Lit(name)
		} else {
			t.Lit("Unknown (" + strconv.Itoa(int(b[3])) + ")")
		}
		t.End(span.Message, st)
		return true
	}
	if mode >= 6 {
		return false
	}
	if len(b) < 48 {
		return false
	}
	t := c.colSet("NTP")
	st := t.Begin()
	t.Lit("NTP Version ")
	t.B = strconv.AppendUint(t.B, uint64(b[0]>>3&7), 10)
	t.Lit(", ")
	t.Lit(ntpModes[mode])
	t.End(span.Message, st)
	return true
}

// --- DHCP / BOOTP ---

var dhcpTypes = [...]string{1: "Discover", 2: "Offer", 3: "Request", 4: "Decline", 5: "ACK",
	6: "NAK", 7: "Release", 8: "Inform", 9: "Force Renew", 10: "Lease query",
	11: "Lease Unassigned", 12: "Lease Unknown", 13: "Lease Active"}

func dhcpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 240 || (b[0] != 1 && b[0] != 2) ||
		binary.BigEndian.Uint32(b[236:]) != 0x63825363 {
		return false
	}
	msgType := -1
	for o := 240; o < len(b); {
		code := b[o]
		if code == 0 {
			o++
			continue
		}
		if code == 255 || o+1 >= len(b) {
			break
		}
		l := int(b[o+1])
		if o+2+l > len(b) {
			break
		}
		if code == 53 && l >= 1 {
			msgType = int(b[o+2])
			break
		}
		o += 2 + l
	}
	if msgType < 0 {
		t := c.colSet("BOOTP")
		if b[0] == 1 {
			t.Field(span.Message, "Boot Request")
		} else {
			t.Field(span.Message, "Boot Reply")
		}
		return true
	}
	t := c.colSet("DHCP")
	st := t.Begin()
	t.Lit("DHCP ")
	name := "Unknown"
	if msgType < len(dhcpTypes) && dhcpTypes[msgType] != "" {
		name = dhcpTypes[msgType]
	}
	t.Lit(name)
	for i := len(name); i < 8; i++ {
		t.B = append(t.B, ' ')
	}
	t.Lit(" - Transaction ID 0x")
	t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint32(b[4:])), 16)
	t.End(span.Message, st)
	return true
}

// --- OMRON FINS over UDP ---

var finsCommands = map[uint16]string{
	0x0101: "Memory Area Read", 0x0102: "Memory Area Write", 0x0103: "Memory Area Fill",
	0x0104: "Multiple Memory Area Read", 0x0105: "Memory Area Transfer",
	0x0201: "Parameter Area Read", 0x0202: "Parameter Area Write", 0x0203: "Parameter Area Clear",
	0x0220: "Data Link Table Read", 0x0221: "Data Link Table Write",
	0x0304: "Program Area Protect", 0x0305: "Program Area Protect Clear",
	0x0306: "Program Area Read", 0x0307: "Program Area Write", 0x0308: "Program Area Clear",
	0x0401: "Run", 0x0402: "Stop", 0x0501: "Controller Data Read", 0x0502: "Connection Data Read",
	0x0601: "Controller Status Read", 0x0602: "Network Status Read", 0x0603: "Data Link Status Read",
	0x0620: "Cycle Time Read", 0x0701: "Clock Read", 0x0702: "Clock Write",
	0x0801: "LOOP-BACK Test", 0x0802: "Broadcast Test Results Read", 0x0803: "Broadcast Test Data Send",
	0x0920: "Message Read | Message Clear | FAL/FALS Read",
	0x0c01: "Access Right Acquire", 0x0c02: "Access Right Forced Acquire", 0x0c03: "Access Right Release",
	0x2101: "Error Clear", 0x2102: "Error Log Read", 0x2103: "Error Log Clear",
	0x2201: "File Name Read", 0x2202: "Single File Read", 0x2203: "Single File Write",
	0x2204: "Memory Card Format", 0x2205: "File Delete", 0x2206: "Volume Label Create/Delete",
	0x2207: "File Copy", 0x2208: "File Name Change", 0x2209: "File Data Check",
	0x220a: "Memory Area File Transfer", 0x220b: "Parameter Area File Transfer",
	0x220c: "Program Area File Transfer", 0x220f: "File Memory Index Read",
	0x2210: "File Memory Read", 0x2211: "File Memory Write",
	0x2301: "Forced Set/Reset", 0x2302: "Forced Set/Reset Cancel", 0x230a: "Multiple Forced Status Read",
	0x2601: "Name Set", 0x2602: "Name Delete", 0x2603: "Name Read",
}

func finsUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 12 || b[0]&0x80 == 0 {
		return false
	}
	code := binary.BigEndian.Uint16(b[10:])
	t := c.colSet("OMRON")
	st := t.Begin()
	if b[0]&0x40 != 0 {
		t.Lit("Response : ")
	} else {
		t.Lit("Command  : ")
	}
	if name, ok := finsCommands[code]; ok {
		t.Lit(name)
	} else {
		t.Lit("Unknown")
	}
	if code == 0x0101 && b[0]&0x40 == 0 && len(b) >= 16 {
		area := b[12]
		addr := uint64(binary.BigEndian.Uint16(b[13:]))
		switch {
		case area == 0x82:
			t.Lit(" (D")
			t.B = strconv.AppendUint(t.B, addr, 10)
			t.Lit(")")
		case area >= 0x90 && area <= 0x97:
			t.Lit(" (E")
			t.B = strconv.AppendUint(t.B, uint64(area-0x90), 10)
			t.Lit("_")
			t.B = strconv.AppendUint(t.B, addr, 10)
			t.Lit(")")
		}
	}
	t.End(span.Message, st)
	return true
}

// capwapDataUDP is the CAPWAP data channel: a header of HLEN words, then a
// native 802.11 frame (T flag with wireless binding 1) or an Ethernet frame.
func capwapDataUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 8 || b[0] != 0 {
		return false
	}
	w := binary.BigEndian.Uint32(b)
	hl := int(w>>19&0x1f) * 4
	if hl < 8 || hl > len(b) || w&0x80 != 0 { // keep-alive: no frame
		return false
	}
	inner := b[hl:]
	if len(inner) == 0 {
		return false
	}
	if w>>8&1 == 1 && w>>9&0x1f == 1 {
		// tshark swaps the frame control bytes by default (Cisco APs send
		// them swapped): do the same in place, and undo it after.
		if len(inner) >= 2 {
			inner[0], inner[1] = inner[1], inner[0]
			defer func() { inner[0], inner[1] = inner[1], inner[0] }()
		}
		c.tunnelPayload((*ctx).ieee80211, inner)
	} else {
		c.tunnelPayload((*ctx).ethernet, inner)
	}
	return true
}

var l2tpMsgTypes = [...]string{1: "SCCRQ", 2: "SCCRP", 3: "SCCCN", 4: "StopCCN", 6: "Hello",
	7: "OCRQ", 8: "OCRP", 9: "OCCN", 10: "ICRQ", 11: "ICRP", 12: "ICCN", 14: "CDN",
	15: "WEN", 16: "SLI"}

// l2tpUDP is L2TPv2: control messages name their type, data messages carry
// a PPP frame.
func l2tpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 6 || b[1]&0x0f != 2 {
		return false
	}
	fl := binary.BigEndian.Uint16(b)
	o := 2
	if fl&0x4000 != 0 {
		o += 2
	}
	if o+4 > len(b) {
		return false
	}
	tunnel := binary.BigEndian.Uint16(b[o:])
	session := binary.BigEndian.Uint16(b[o+2:])
	o += 4
	if fl&0x0800 != 0 {
		o += 4
	}
	if fl&0x0200 != 0 {
		if o+2 > len(b) {
			return false
		}
		o += 2 + int(binary.BigEndian.Uint16(b[o:]))
	}
	if o > len(b) {
		return false
	}
	if fl&0x8000 == 0 { // data: PPP
		c.ppp(b[o:])
		return true
	}
	t := c.colSet("L2TP")
	st := t.Begin()
	t.Lit("Control Message - ")
	avps := b[o:]
	if len(avps) >= 8 && binary.BigEndian.Uint16(avps[4:]) == 0 && binary.BigEndian.Uint16(avps[2:]) == 0 {
		mt := int(binary.BigEndian.Uint16(avps[6:]))
		if len(avps) >= 8 && mt < len(l2tpMsgTypes) && l2tpMsgTypes[mt] != "" {
			t.Lit(l2tpMsgTypes[mt])
		} else {
			t.Lit("Unknown Message Type (" + strconv.Itoa(mt) + ")")
		}
	} else {
		t.Lit("ZLB     ")
	}
	t.Lit(" (tunnel id=")
	t.B = strconv.AppendUint(t.B, uint64(tunnel), 10)
	t.Lit(", session id=")
	t.B = strconv.AppendUint(t.B, uint64(session), 10)
	t.Lit(")")
	t.End(span.Message, st)
	return true
}

// --- Dropbox LAN sync discovery: a JSON document on port 17500 ---

func dbLspDiscUDP(c *ctx, u *udpDatagram) bool {
	if len(u.payload) == 0 || u.payload[0] != '{' {
		return false
	}
	t := c.colSet("DB-LSP-DISC/JSON")
	t.Field(span.Message, "Dropbox LAN sync Discovery Protocol, JavaScript Object Notation")
	return true
}

// --- OICQ ---

func oicqUDP(c *ctx, u *udpDatagram) bool {
	if len(u.payload) < 7 || u.payload[0] != 0x02 {
		return false
	}
	t := c.colSet("OICQ")
	t.Field(span.Message, "OICQ Protocol ")
	return true
}

// --- NAT-PMP ---

func natpmpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 2 || b[0] != 0 {
		return false
	}
	var name string
	switch b[1] {
	case 0:
		name = "External Address Request"
	case 128:
		name = "External Address Response"
	case 1:
		name = "Map UDP Request"
	case 2:
		name = "Map TCP Request"
	case 129:
		name = "Map UDP Response"
	case 130:
		name = "Map TCP Response"
	default:
		return false
	}
	t := c.colSet("NAT-PMP")
	t.Field(span.Message, name)
	return true
}

// --- DHCPv6 ---

var dhcpv6Types = [...]string{1: "Solicit", 2: "Advertise", 3: "Request", 4: "Confirm",
	5: "Renew", 6: "Rebind", 7: "Reply", 8: "Release", 9: "Decline", 10: "Reconfigure",
	11: "Information-request", 12: "Relay-forw", 13: "Relay-reply"}

func dhcpv6UDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || b[0] == 0 || int(b[0]) >= len(dhcpv6Types) || b[0] >= 12 {
		return false
	}
	t := c.colSet("DHCPv6")
	st := t.Begin()
	t.Lit(dhcpv6Types[b[0]])
	t.Lit(" XID: 0x")
	t.B = strconv.AppendUint(t.B, uint64(b[1])<<16|uint64(b[2])<<8|uint64(b[3]), 16)
	for o := 4; o+4 <= len(b); {
		code := binary.BigEndian.Uint16(b[o:])
		l := int(binary.BigEndian.Uint16(b[o+2:]))
		if o+4+l > len(b) {
			break
		}
		if code == 1 {
			t.Lit(" CID: ")
			t.B = hex.AppendEncode(t.B, b[o+4:o+4+l])
			t.Lit(" ")
		}
		o += 4 + l
	}
	t.End(span.Message, st)
	return true
}

// --- ISAKMP / IKE ---

var ikev1Exchanges = map[byte]string{0: "NONE", 1: "Base", 2: "Identity Protection (Main Mode)",
	3: "Authentication Only", 4: "Aggressive", 5: "Informational", 6: "Transaction (Config Mode)",
	32: "Quick Mode", 33: "New Group Mode"}
var ikev2Exchanges = map[byte]string{34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA",
	37: "INFORMATIONAL", 38: "IKE_SESSION_RESUME", 43: "IKE_INTERMEDIATE"}

func isakmpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if u.srcPort == 4500 || u.dstPort == 4500 {
		if len(b) < 4 || b[0]|b[1]|b[2]|b[3] != 0 {
			return false // ESP in UDP, or a keep-alive: not ISAKMP
		}
		b = b[4:]
	}
	if len(b) < 28 {
		return false
	}
	major := b[17] >> 4
	exch := b[18]
	t := c.colSet("ISAKMP")
	st := t.Begin()
	if major >= 2 {
		name, ok := ikev2Exchanges[exch]
		if !ok {
			name = "Unknown"
		}
		t.Lit(name)
		t.Lit(" MID=")
		t.B = appendPadded(t.B, uint64(binary.BigEndian.Uint32(b[20:])), 2)
		if b[19]&0x08 != 0 {
			t.Lit(" Initiator")
		} else {
			t.Lit(" Responder")
		}
		if b[19]&0x20 != 0 {
			t.Lit(" Response")
		} else {
			t.Lit(" Request")
		}
	} else {
		name, ok := ikev1Exchanges[exch]
		if !ok {
			name = "Unknown"
		}
		t.Lit(name)
	}
	t.End(span.Message, st)
	return true
}

// --- PFCP ---

var pfcpTypes = map[byte]string{1: "Heartbeat Request", 2: "Heartbeat Response",
	3: "PFD Management Request", 4: "PFD Management Response", 5: "Association Setup Request",
	6: "Association Setup Response", 7: "Association Update Request",
	8: "Association Update Response", 9: "Association Release Request",
	10: "Association Release Response", 11: "Version Not Supported Response",
	12: "Node Report Request", 13: "Node Report Response", 14: "Session Set Deletion Request",
	15: "Session Set Deletion Response", 50: "Session Establishment Request",
	51: "Session Establishment Response", 52: "Session Modification Request",
	53: "Session Modification Response", 54: "Session Deletion Request",
	55: "Session Deletion Response", 56: "Session Report Request", 57: "Session Report Response"}

func pfcpUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || b[0]>>5 != 1 {
		return false
	}
	name, ok := pfcpTypes[b[1]]
	if !ok {
		name = "Unknown"
	}
	t := c.colSet("PFCP")
	t.Field(span.Message, "PFCP "+name)
	return true
}

// --- RTPS (DDS wire protocol), found by its magic ---

var rtpsSubmessages = map[byte]string{0x01: "PAD", 0x06: "ACKNACK", 0x07: "HEARTBEAT",
	0x08: "GAP", 0x09: "INFO_TS", 0x0c: "INFO_SRC", 0x0d: "INFO_REPLY_IP4", 0x0e: "INFO_DST",
	0x0f: "INFO_REPLY", 0x12: "NACK_FRAG", 0x13: "HEARTBEAT_FRAG", 0x15: "DATA", 0x16: "DATA_FRAG"}

func rtpsHeur(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 16 || string(b[:4]) != "RTPS" {
		return false
	}
	t := c.colSet("RTPS")
	st := t.Begin()
	defer t.End(span.Message, st)
	if len(b) >= 16 && string(b[8:16]) == "NDDSPING" {
		t.Lit("PING")
		return true
	}
	n := 0
	for o := 20; o+4 <= len(b); {
		id, fl := b[o], b[o+1]
		var l int
		if fl&1 != 0 {
			l = int(binary.LittleEndian.Uint16(b[o+2:]))
		} else {
			l = int(binary.BigEndian.Uint16(b[o+2:]))
		}
		sub := b[o:]
		if 4+l <= len(sub) && l > 0 {
			sub = sub[:4+l]
		}
		if n > 0 {
			t.Lit(", ")
		}
		n++
		name, ok := rtpsSubmessages[id]
		if !ok {
			name = "UNKNOWN"
		}
		t.Lit(name)
		if id == 0x15 && len(sub) >= 16 {
			kind := ""
			switch binary.BigEndian.Uint32(sub[12:]) {
			case 0x000100c2:
				kind = "p"
			case 0x000003c2:
				kind = "w"
			case 0x000004c2:
				kind = "r"
			case 0x000200c2:
				kind = "m"
			}
			if kind != "" {
				t.Lit("(")
				t.Lit(kind)
				if fl&0x02 != 0 && len(sub) >= 24 {
					// Inline QoS: the status info says unregistered/disposed.
					q := 8 + int(binary.BigEndian.Uint16(sub[6:])) // after octetsToInlineQos
					if fl&1 != 0 {
						q = 8 + int(binary.LittleEndian.Uint16(sub[6:]))
					}
					for q+4 <= len(sub) {
						var pid, pl int
						if fl&1 != 0 {
							pid, pl = int(binary.LittleEndian.Uint16(sub[q:])), int(binary.LittleEndian.Uint16(sub[q+2:]))
						} else {
							pid, pl = int(binary.BigEndian.Uint16(sub[q:])), int(binary.BigEndian.Uint16(sub[q+2:]))
						}
						if pid == 1 || q+4+pl > len(sub) {
							break
						}
						if pid == 0x71 && pl >= 4 {
							v := sub[q+7]
							switch v & 3 {
							case 3:
								t.Lit("[UD]")
							case 2:
								t.Lit("[U]")
							case 1:
								t.Lit("[D]")
							}
						}
						q += 4 + pl
					}
				}
				t.Lit(")")
			}
		}
		if l == 0 {
			break
		}
		o += 4 + l
	}
	return true
}

// --- BFD ---

var bfdDiag = [...]string{"No Diagnostic", "Control Detection Time Expired", "Echo Function Failed",
	"Neighbor Signaled Session Down", "Forwarding Plane Reset", "Path Down",
	"Concatenated Path Down", "Administratively Down", "Reverse Concatenated Path Down",
	"Mis-Connectivity Defect"}
var bfdStates = [4]string{"AdminDown", "Down", "Init", "Up"}

func bfdControlUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 24 || b[0]>>5 != 1 {
		return false
	}
	t := c.colSet("BFD Control")
	st := t.Begin()
	t.Lit("Diag: ")
	if d := int(b[0] & 0x1f); d < len(bfdDiag) {
		t.Lit(bfdDiag[d])
	} else {
		t.Lit("Unknown")
	}
	t.Lit(", State: ")
	t.Lit(bfdStates[b[1]>>6])
	t.Lit(", Flags: 0x")
	t.B = appendHexLower(t.B, uint64(b[1]&0x3f), 2)
	t.End(span.Message, st)
	return true
}

func bfdEchoUDP(c *ctx, u *udpDatagram) bool {
	c.colSet("BFD Echo").Field(span.Message, "Originator specific content")
	return true
}

// --- GE Ethernet Global Data ---

func egdUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 12 || b[0] != 0x0d {
		return false
	}
	t := c.colSet("EGD")
	st := t.Begin()
	t.Lit("Data Msg: ExchangeID=0x")
	t.B = appendHex(t.B, uint64(binary.LittleEndian.Uint32(b[8:])), 8)
	t.Lit(", RequestID=")
	t.B = strconv.AppendUint(t.B, uint64(binary.LittleEndian.Uint16(b[2:])), 10)
	t.End(span.Message, st)
	return true
}

// --- CUPS browsing: "type state uri ..." ---

func cupsUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	f := make([][]byte, 0, 3)
	for len(f) < 3 {
		i := 0
		for i < len(b) && b[i] == ' ' {
			i++
		}
		b = b[i:]
		j := 0
		for j < len(b) && b[j] != ' ' && b[j] != '\n' {
			j++
		}
		if j == 0 {
			return false
		}
		f = append(f, b[:j])
		b = b[j:]
	}
	var state string
	switch string(f[1]) {
	case "3":
		state = "idle"
	case "4":
		state = "processing"
	case "5":
		state = "stopped"
	default:
		state = "unknown"
	}
	t := c.colSet("CUPS")
	st := t.Begin()
	t.LitBytes(f[2])
	t.Lit(" (" + state + ")")
	t.End(span.Message, st)
	return true
}

// --- RIP ---

func ripUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || (b[1] != 1 && b[1] != 2) {
		return false
	}
	t := c.colSet("RIPv" + strconv.Itoa(int(b[1])))
	switch b[0] {
	case 1:
		t.Field(span.Message, "Request")
	case 2:
		t.Field(span.Message, "Response")
	default:
		t.Field(span.Message, "Unknown command ("+strconv.Itoa(int(b[0]))+")")
	}
	return true
}

// --- ICQ over UDP ---

func icqUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 2 {
		return false
	}
	v := binary.LittleEndian.Uint16(b)
	if v < 2 || v > 5 {
		return false
	}
	vs := strconv.Itoa(int(v))
	t := c.colSet("ICQv" + vs)
	t.Field(span.Message, "ICQ Version "+vs+" protocol")
	return true
}

// --- BitTorrent DHT (bencoded dictionaries), found heuristically ---

func btDHTHeur(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 || b[0] != 'd' || b[1] != '1' || b[2] != ':' || (b[3] != 'a' && b[3] != 'r' && b[3] != 'e') {
		return false
	}
	t := c.colSet("BT-DHT")
	st := t.Begin()
	t.Lit("BitTorrent DHT Protocol")
	if b[3] == 'e' && len(b) > 5 && b[4] == 'l' && b[5] == 'i' {
		// "d1:eli<code>e<len>:<message>e"
		rest := b[6:]
		code := atoiPrefix(rest)
		if i := indexByte(rest, 'e'); i >= 0 {
			rest = rest[i+1:]
			n := atoiPrefix(rest)
			if j := indexByte(rest, ':'); j >= 0 && j+1+n <= len(rest) {
				t.Lit("error_no=")
				t.B = strconv.AppendInt(t.B, int64(code), 10)
				t.Lit(" error_msg=")
				t.LitBytes(rest[j+1 : j+1+n])
				t.Lit(" ")
			}
		}
		t.End(span.Message, st)
		return true
	}
	if i := bytesIndex(b, "6:valuesl"); i >= 0 {
		// Count the strings of the peer list.
		rest, n := b[i+9:], 0
		for len(rest) > 0 && rest[0] != 'e' {
			l := atoiPrefix(rest)
			j := indexByte(rest, ':')
			if j < 0 || j+1+l > len(rest) {
				break
			}
			rest = rest[j+1+l:]
			n++
		}
		t.Lit(" reply=")
		t.B = strconv.AppendInt(t.B, int64(n), 10)
		t.Lit(" peers")
		t.End(span.Message, st)
		return true
	}
	const key = "5:nodes"
	for i := 0; i+len(key) < len(b); i++ {
		if b[i] == '5' && string(b[i:i+len(key)]) == key {
			n := atoiPrefix(b[i+len(key):])
			t.Lit(" reply=")
			t.B = strconv.AppendInt(t.B, int64(n/26), 10)
			t.Lit(" nodes")
			break
		}
	}
	t.End(span.Message, st)
	return true
}

// bytesIndex is the index of s in b, or -1.
func bytesIndex(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if b[i] == s[0] && string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// --- LISP control messages over UDP ---

func lispUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 4 {
		return false
	}
	typ := b[0] >> 4
	var name string
	switch typ {
	case 1:
		name = "Map-Request"
	case 2:
		name = "Map-Reply"
	case 3:
		name = "Map-Register"
	case 4:
		name = "Map-Notify"
	case 8:
		name = "Encapsulated Control Message"
	default:
		return false
	}
	t := c.colSet("LISP")
	st := t.Begin()
	defer t.End(span.Message, st)
	t.Lit(name)
	if (typ != 3 && typ != 4) || b[3] != 1 || len(b) < 16 {
		return true
	}
	o := 16 + int(binary.BigEndian.Uint16(b[14:]))
	if o+12 > len(b) {
		return true
	}
	mask := int(b[o+5])
	afi := binary.BigEndian.Uint16(b[o+10:])
	p := b[o+12:]
	iid := -1
	if afi == 16387 && len(p) >= 12 && p[2] == 2 { // LCAF instance ID
		iid = int(binary.BigEndian.Uint32(p[6:]))
		afi = binary.BigEndian.Uint16(p[10:])
		p = p[12:]
	}
	var addr netip.Addr
	switch {
	case afi == 1 && len(p) >= 4:
		addr = netip.AddrFrom4([4]byte(p[:4]))
	case afi == 2 && len(p) >= 16:
		addr = netip.AddrFrom16([16]byte(p[:16]))
	default:
		return true
	}
	t.Lit(" for ")
	if iid >= 0 {
		t.Lit("[")
		t.B = strconv.AppendInt(t.B, int64(iid), 10)
		t.Lit("] ")
	}
	t.B = addr.AppendTo(t.B)
	t.Lit("/")
	t.B = strconv.AppendInt(t.B, int64(mask), 10)
	return true
}
