package dissect

import (
	"github.com/lens-go/lens/netbench/span"
)

// This file renders DNP 3.0 (packet-dnp.c) over TCP: link-layer frames
// carrying a transport segment and an application fragment, whose function
// code (and, for reads and writes, object groups) make the Info column.

func init() {
	registerTCP(&tcpFuncApp{hdr: 3, pduLen: dnp3Len, render: dnp3Render}, 20000)
}

// dnp3Len is the length of the link-layer frame: a 10-byte header block,
// then the user data in blocks of 16 bytes, each followed by a 2-byte CRC.
func dnp3Len(b []byte) int {
	if b[0] != 0x05 || b[1] != 0x64 {
		return -1
	}
	l := int(b[2])
	if l < 5 {
		return -1
	}
	ud := l - 5
	return 10 + ud + 2*((ud+15)/16)
}

var dnp3Funcs = map[byte]string{
	0: "Confirm", 1: "Read", 2: "Write", 3: "Select", 4: "Operate", 5: "Direct Operate",
	6: "Direct Operate No Ack", 7: "Immediate Freeze", 8: "Immediate Freeze No Ack",
	9: "Freeze and Clear", 10: "Freeze and Clear No Ack", 11: "Freeze With Time",
	12: "Freeze With Time No Ack", 13: "Cold Restart", 14: "Warm Restart",
	15: "Initialize Data", 16: "Initialize Application", 17: "Start Application",
	18: "Stop Application", 19: "Save Configuration", 20: "Enable Spontaneous Messages",
	21: "Disable Spontaneous Messages", 22: "Assign Classes", 23: "Delay Measurement",
	24: "Record Current Time", 25: "Open File", 26: "Close File", 27: "Delete File",
	28: "Get File Info", 29: "Authenticate File", 30: "Abort File", 31: "Activate Config",
	32: "Authentication Request", 33: "Authentication Error", 129: "Response",
	130: "Unsolicited Response", 131: "Authentication Response",
}

var dnp3Groups = map[byte]string{
	1: "Binary Input", 2: "Binary Input Change", 3: "Double-bit Input",
	4: "Double-bit Input Change", 10: "Binary Output", 11: "Binary Output Change",
	20: "Counter", 21: "Frozen Counter", 22: "Counter Change Event", 23: "Frozen Counter Event",
	30: "Analog Input", 31: "Frozen Analog Input", 32: "Analog Input Change",
	34: "Analog Input Deadband", 40: "Analog Output Status", 42: "Analog Output Change",
	50: "Time and Date", 70: "File Control", 80: "Internal Indications",
	110: "Octet String", 111: "Event Octet String",
}

// dnp3UserData strips the CRCs from the link frame's user data.
func dnp3UserData(pdu []byte, dst []byte) []byte {
	ud := int(pdu[2]) - 5
	dst = dst[:0]
	for o := 10; ud > 0 && o < len(pdu); {
		n := ud
		if n > 16 {
			n = 16
		}
		if o+n > len(pdu) {
			n = len(pdu) - o
		}
		dst = append(dst, pdu[o:o+n]...)
		o += n + 2
		ud -= n
	}
	return dst
}

func dnp3Render(s *tcpSegment, pdu []byte) {
	s.done()
	s.c.colSet("DNP 3.0")
	var buf [256]byte
	ud := dnp3UserData(pdu, buf[:0])
	if len(ud) < 3 { // link-layer only, or no application header
		return
	}
	tr := ud[0]
	if tr&0x40 == 0 || tr&0x80 == 0 { // not a single-segment fragment
		return
	}
	app := ud[1:]
	fc := app[1]
	t := s.c.colSep(", ")
	st := t.Begin()
	if name, ok := dnp3Funcs[fc]; ok {
		t.Lit(name)
	} else {
		t.Lit("Unknown function (0x" + string(appendHexLower(nil, uint64(fc), 2)) + ")")
	}
	if fc == 1 || fc == 2 {
		dnp3Objects(t, app[2:], fc == 2)
	}
	t.End(span.Message, st)
}

// dnp3Objects appends the object groups of a read or write request.
func dnp3Objects(t *span.Text, b []byte, write bool) {
	classes := 0
	for len(b) >= 3 {
		grp, vari, q := b[0], b[1], b[2]
		b = b[3:]
		if grp == 60 && vari >= 1 && vari <= 4 {
			classes |= 1 << (vari - 1)
		} else if name, ok := dnp3Groups[grp]; ok {
			t.Lit(", ")
			t.Lit(name)
		} else {
			t.Lit(", Unknown Object Type")
		}
		// Skip the range field; a write carries data we do not size: stop.
		var n int
		switch q & 0x0f {
		case 0:
			n = 2
		case 1:
			n = 4
		case 2:
			n = 8
		case 6:
			n = 0
		case 7:
			n = 1
		case 8:
			n = 2
		case 9:
			n = 4
		default:
			return
		}
		if write || q&0x70 != 0 || n > len(b) {
			break
		}
		b = b[n:]
	}
	if classes != 0 {
		t.Lit(", Class ")
		for i := 0; i < 4; i++ {
			if classes&(1<<i) != 0 {
				t.B = append(t.B, byte('0'+i))
			}
		}
	}
}
