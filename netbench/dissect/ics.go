package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders industrial and IoT protocols whose Info column is a
// function of a fixed header: HART-IP, Beckhoff AMS/ADS, Modbus/TCP, MQTT.

func init() {
	registerUDP(udpFuncApp(hartipUDP), 5094)
	udpHeurs = append(udpHeurs, hartipHeur)
	registerTCP(&tcpFuncApp{hdr: 8, pduLen: hartipLen, render: hartipTCP}, 5094)
	registerTCP(&tcpFuncApp{hdr: 6, pduLen: amsLen, render: amsRender}, 48898)
	registerTCP(&tcpFuncApp{hdr: 7, pduLen: modbusLen, render: modbusRender}, 502)
	registerTCP(&tcpFuncApp{hdr: 2, pduLen: mqttLen, render: mqttRender}, 1883)
	registerTCP(&tcpFuncApp{hdr: 16, pduLen: hislipLen, render: hislipRender}, 4880)
}

// --- HART-IP ---

var hartipTypes = map[byte]string{0: "Request", 1: "Response", 2: "Publish", 3: "Error", 15: "NAK"}
var hartipIDs = map[byte]string{0: "Session Initiate", 1: "Session Close", 2: "Keep Alive",
	3: "Pass Through", 4: "Direct PDU", 128: "Read Audit Log"}

func hartipValid(b []byte) bool {
	if len(b) < 8 || (b[0] != 1 && b[0] != 2) {
		return false
	}
	_, okT := hartipTypes[b[1]]
	_, okI := hartipIDs[b[2]]
	return okT && okI
}

func hartipRender(c *ctx, b []byte) {
	t := c.colSet("HART_IP")
	st := t.Begin()
	t.Lit(hartipIDs[b[2]])
	t.Lit(" ")
	t.Lit(hartipTypes[b[1]])
	t.Lit(", Sequence Number ")
	t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(b[4:])), 10)
	t.End(span.Message, st)
}

func hartipUDP(c *ctx, u *udpDatagram) bool {
	if !hartipValid(u.payload) {
		return false
	}
	hartipRender(c, u.payload)
	return true
}

// hartipHeur takes the datagrams the server answers from another port.
func hartipHeur(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if !hartipValid(b) || int(binary.BigEndian.Uint16(b[6:])) != len(b) {
		return false
	}
	u.conv.app = udpFuncApp(hartipUDP)
	hartipRender(c, b)
	return true
}

func hartipLen(b []byte) int {
	if b[0] != 1 && b[0] != 2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(b[6:]))
}

func hartipTCP(s *tcpSegment, pdu []byte) {
	s.done()
	if !hartipValid(pdu) {
		s.c.colSet("HART_IP")
		return
	}
	hartipRender(s.c, pdu)
}

// --- Beckhoff AMS/ADS over TCP ---

var adsCommands = [...]string{1: "Read Device Info", 2: "Read", 3: "Write", 4: "Read State",
	5: "Write Control", 6: "Add Device Notification", 7: "Delete Device Notification",
	8: "Device Notification", 9: "Read Write"}

func amsLen(b []byte) int {
	n := binary.LittleEndian.Uint32(b[2:])
	if n > maxPending {
		return -1
	}
	return 6 + int(n)
}

func amsRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("AMS")
	h := pdu[6:]
	if len(h) < 32 {
		return
	}
	cmd := binary.LittleEndian.Uint16(h[16:])
	flags := binary.LittleEndian.Uint16(h[18:])
	st := t.Begin()
	if int(cmd) < len(adsCommands) && adsCommands[cmd] != "" {
		t.Lit("ADS ")
		if cmd == 6 && flags&1 != 0 {
			t.Lit("Device Notification") // as tshark words it
		} else {
			t.Lit(adsCommands[cmd])
		}
		if flags&1 != 0 {
			t.Lit(" Response")
		} else {
			t.Lit(" Request")
		}
	} else {
		t.Lit("ADS Unknown Command")
	}
	t.End(span.Message, st)
}

// --- Modbus/TCP ---

var modbusFuncs = map[byte]string{
	1: "Read Coils", 2: "Read Discrete Inputs", 3: "Read Holding Registers",
	4: "Read Input Registers", 5: "Write Single Coil", 6: "Write Single Register",
	7: "Read Exception Status", 8: "Diagnostics", 11: "Get Comm Event Counter",
	12: "Get Comm Event Log", 15: "Write Multiple Coils", 16: "Write Multiple Registers",
	17: "Report Slave ID", 20: "Read File Record", 21: "Write File Record",
	22: "Mask Write Register", 23: "Read Write Register", 24: "Read FIFO Queue",
	43: "Encapsulated Interface Transport",
}

var modbusDiag = map[uint16]string{
	0: "Return Query Data", 1: "Restart Communications Option", 2: "Return Diagnostic Register",
	3: "Change ASCII Input Delimiter", 4: "Force Listen Only Mode",
	10: "Clear Counters and Diagnostic Register", 11: "Return Bus Message Count",
	12: "Return Bus Communication Error Count", 13: "Return Bus Exception Error Count",
	14: "Return Slave Message Count", 15: "Return Slave No Response Count",
	16: "Return Slave NAK Count", 17: "Return Slave Busy Count",
	18: "Return Bus Character Overrun Count", 20: "Clear Overrun Counter and Flag",
}

func modbusLen(b []byte) int {
	if binary.BigEndian.Uint16(b[2:]) != 0 {
		return -1
	}
	return 6 + int(binary.BigEndian.Uint16(b[4:]))
}

func appendRight(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func modbusRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("Modbus/TCP")
	if len(pdu) < 8 {
		return
	}
	st := t.Begin()
	if s.dstPort == 502 {
		t.Lit("   Query: Trans: ")
	} else {
		t.Lit("Response: Trans: ")
	}
	t.B = appendRight(t.B, uint64(binary.BigEndian.Uint16(pdu)), 5)
	t.Lit("; Unit: ")
	t.B = appendRight(t.B, uint64(pdu[6]), 3)
	t.Lit(", Func: ")
	fc := pdu[7]
	exc := fc&0x80 != 0
	fc &= 0x7f
	t.B = appendRight(t.B, uint64(fc), 3)
	name, ok := modbusFuncs[fc]
	if !ok {
		name = "Unknown function (" + strconv.Itoa(int(fc)) + ")"
	}
	switch {
	case exc:
		t.Lit(": ")
		t.Lit(name)
		t.Lit(". Exception returned ")
	case fc == 8 && len(pdu) >= 10:
		t.Lit("/  1: ")
		if d, ok := modbusDiag[binary.BigEndian.Uint16(pdu[8:])]; ok {
			t.Lit(d)
		} else {
			t.Lit("Reserved")
		}
	case fc == 43 && len(pdu) >= 9:
		t.Lit("/  1: ")
		switch pdu[8] {
		case 13:
			t.Lit("CANopen General Reference")
		case 14:
			t.Lit("Read Device Identification")
		default:
			t.Lit("Unknown")
		}
	default:
		t.Lit(": ")
		t.Lit(name)
	}
	t.End(span.Message, st)
}

// --- MQTT ---

// mqttLen decodes the fixed header's remaining length (a varint).
func mqttLen(b []byte) int {
	n, mul := 0, 1
	for i := 1; i < 5; i++ {
		if i >= len(b) {
			return 5 // need more header bytes: ask for at least this much
		}
		n += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return i + 1 + n
		}
		mul *= 128
	}
	return -1
}

var mqttTypes = [...]string{1: "Connect Command", 2: "Connect Ack", 3: "Publish Message",
	4: "Publish Ack", 5: "Publish Received", 6: "Publish Release", 7: "Publish Complete",
	8: "Subscribe Request", 9: "Subscribe Ack", 10: "Unsubscribe Request",
	11: "Unsubscribe Ack", 12: "Ping Request", 13: "Ping Response", 14: "Disconnect Req",
	15: "Authentication Exchange"}

func mqttRender(s *tcpSegment, pdu []byte) {
	first := !s.rendered
	if first {
		s.c.colSet("MQTT")
		s.done()
	}
	t := s.c.colSep(", ")
	st := t.Begin()
	defer t.End(span.Message, st)
	typ := int(pdu[0] >> 4)
	name := "Unknown"
	if typ < len(mqttTypes) && mqttTypes[typ] != "" {
		name = mqttTypes[typ]
	}
	t.Lit(name)
	// Skip the fixed header.
	o := 1
	for o < len(pdu) && pdu[o]&0x80 != 0 {
		o++
	}
	o++
	v := pdu[o:]
	str := func(b []byte) ([]byte, []byte, bool) {
		if len(b) < 2 {
			return nil, nil, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if 2+n > len(b) {
			return nil, nil, false
		}
		return b[2 : 2+n], b[2+n:], true
	}
	switch typ {
	case 3:
		topic, rest, ok := str(v)
		if !ok {
			return
		}
		if qos := pdu[0] >> 1 & 3; qos > 0 && len(rest) >= 2 {
			t.Lit(" (id=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(rest)), 10)
			t.Lit(")")
		}
		t.Lit(" [")
		t.LitBytes(topic)
		t.Lit("]")
	case 4, 5, 6, 7, 9, 11:
		if len(v) >= 2 {
			t.Lit(" (id=")
			t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(v)), 10)
			t.Lit(")")
		}
	case 8, 10:
		if len(v) < 2 {
			return
		}
		t.Lit(" (id=")
		t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(v)), 10)
		t.Lit(")")
		rest := v[2:]
		for len(rest) > 0 {
			topic, r, ok := str(rest)
			if !ok {
				break
			}
			t.Lit(" [")
			t.LitBytes(topic)
			t.Lit("]")
			rest = r
			if typ == 8 && len(rest) > 0 {
				rest = rest[1:] // requested QoS
			}
		}
	}
}

// --- HiSLIP (IVI-6.1) ---

var hislipTypes = [...]string{"Initialize", "InitializeResponse", "FatalError", "Error",
	"AsyncLock", "AsyncLockResponse", "Data", "DataEnd", "DeviceClearComplete",
	"DeviceClearAcknowledge", "AsyncRemoteLocalControl", "AsyncRemoteLocalResponse",
	"Trigger", "Interrupted", "AsyncInterrupted", "AsyncMaximumMessageSize",
	"AsyncMaximumMessageSizeResponse", "AsyncInitialize", "AsyncInitializeResponse",
	"AsyncDeviceClear", "AsyncServiceRequest", "AsyncStatusQuery", "AsyncStatusResponse",
	"AsyncDeviceClearAcknowledge", "AsyncLockInfo", "AsyncLockInfoResponse",
	"GetDescriptors", "GetDescriptorsResponse", "StartTLS", "AsyncStartTLS",
	"AsyncStartTLSResponse", "EndTLS", "AsyncEndTLS", "AsyncEndTLSResponse",
	"GetSaslMechanismList", "GetSaslMechanismListResponse", "AuthenticationStart",
	"AuthenticationExchange", "AuthenticationResult"}

func hislipLen(b []byte) int {
	if b[0] != 'H' || b[1] != 'S' {
		return -1
	}
	n := binary.BigEndian.Uint64(b[8:])
	if n > maxPending {
		return -1
	}
	return 16 + int(n)
}

// hislipRelease records whether the last AsyncLock of a connection was a
// release: the response's control code means something else then.
type hislipRelease bool

func hislipRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("HiSLIP")
	st := t.Begin()
	defer t.End(span.Message, st)
	typ, ctl := pdu[2], pdu[3]
	if int(typ) >= len(hislipTypes) {
		t.Lit("Unknown")
		return
	}
	t.Lit(hislipTypes[typ])
	payload := pdu[16:]
	switch typ {
	case 0, 6, 7: // Initialize (sub-address), Data, DataEnd
		if len(payload) > 0 {
			t.Lit(" ")
			t.Lit(formatText(payload))
		}
	case 1:
		if ctl&1 == 0 {
			t.Lit(" [Prefer Synchronized]")
		} else {
			t.Lit(" [Prefer Overlapped]")
		}
	case 4:
		s.conv.appState = hislipRelease(ctl == 0)
		switch {
		case ctl == 0:
			t.Lit(" [Release]")
		case len(payload) == 0:
			t.Lit(" [Request Exclusive]")
		default:
			t.Lit(" [Request Shared]")
		}
	case 5:
		rel, _ := s.conv.appState.(hislipRelease)
		switch {
		case ctl == 0:
			t.Lit(" [Failure]")
		case ctl == 1 && bool(rel):
			t.Lit(" [Success exclusive]")
		case ctl == 1:
			t.Lit(" [Success]")
		case ctl == 2:
			t.Lit(" [Success shared]")
		case ctl == 3:
			t.Lit(" [Error]")
		}
	case 15, 16:
		if len(payload) >= 8 {
			v := float64(binary.BigEndian.Uint64(payload))
			t.Lit(" Max Message Size: ")
			switch {
			case v >= 1<<20:
				t.B = strconv.AppendFloat(t.B, v/(1<<20), 'f', 2, 64)
				t.Lit(" Mbytes")
			case v >= 1<<10:
				t.B = strconv.AppendFloat(t.B, v/(1<<10), 'f', 2, 64)
				t.Lit(" Kbytes")
			default:
				t.B = strconv.AppendFloat(t.B, v, 'f', 0, 64)
				t.Lit(" bytes")
			}
		}
	case 22:
		t.Lit(" STB (0x")
		t.B = strconv.AppendUint(t.B, uint64(ctl), 16)
		t.Lit(")")
	case 25:
		if ctl&1 != 0 {
			t.Lit(" [Exclusive lock granted]")
		} else {
			t.Lit(" [No exclusive lock granted]")
		}
	}
}
