package dissect

import (
	"encoding/binary"

	"github.com/lens-go/lens/netbench/span"
)

// This file holds small application protocols over TCP whose Info column is
// a simple function of a few header fields of each PDU: each PDU carries its
// own length, so desegmentation is tshark's tcp_dissect_pdus.

// pduLenFunc returns the length of the PDU at the start of b (at least the
// fixed header must be present), or -1 when b does not start a valid PDU.
type pduLenFunc func(b []byte) int

// pduRenderFunc renders one complete PDU into the Info column.
type pduRenderFunc func(s *tcpSegment, pdu []byte)

// tcpPDUs is tcp_dissect_pdus: it renders each complete PDU in data and
// returns the bytes consumed; a partial PDU at the end is left for the next
// segment. Bytes that do not start a valid PDU are consumed unrendered.
func tcpPDUs(s *tcpSegment, data []byte, hdr int, pduLen pduLenFunc, render pduRenderFunc) int {
	off := 0
	for off < len(data) {
		rest := data[off:]
		if len(rest) < hdr {
			return off
		}
		n := pduLen(rest)
		if n < hdr {
			return len(data)
		}
		if n > len(rest) {
			return off
		}
		render(s, rest[:n])
		off += n
	}
	return off
}

// tcpFuncApp adapts a pair of functions to tcpApp.
type tcpFuncApp struct {
	hdr    int
	pduLen pduLenFunc
	render pduRenderFunc
}

func (a *tcpFuncApp) dissect(s *tcpSegment, data []byte) int {
	return tcpPDUs(s, data, a.hdr, a.pduLen, a.render)
}

func init() {
	registerTCP(&tcpFuncApp{hdr: 4, pduLen: synphasorLen, render: synphasorTCP}, 4712)
	registerTCP(&tcpFuncApp{hdr: 3, pduLen: openvpnTCPLen, render: openvpnTCP}, 1194)
}

// --- IEEE C37.118 synchrophasor ---

func synphasorLen(b []byte) int {
	if b[0] != 0xaa {
		return -1
	}
	return int(binary.BigEndian.Uint16(b[2:]))
}

var synphasorTypes = [8]string{"Data Frame", "Header Frame", "Configuration Frame 1",
	"Configuration Frame 2", "Command Frame", "Configuration Frame 3", "", ""}

func synphasorCommand(cmd uint16) string {
	switch {
	case cmd == 1:
		return "data transmission off"
	case cmd == 2:
		return "data transmission on"
	case cmd == 3:
		return "send HDR frame"
	case cmd == 4:
		return "send CFG-1 frame"
	case cmd == 5:
		return "send CFG-2 frame"
	case cmd == 6:
		return "send CFG-3 frame"
	case cmd == 8:
		return "extended frame"
	case cmd >= 0x100 && cmd <= 0xfff:
		return "user designation"
	}
	return "reserved codes"
}

// synphasorInfo writes the Info column of one C37.118 frame.
func synphasorInfo(t *span.Text, b []byte) {
	typ := b[1] >> 4 & 7
	name := synphasorTypes[typ]
	if name == "" {
		name = "invalid packet type"
	}
	st := t.Begin()
	t.Lit(name)
	if typ == 4 && len(b) >= 16 {
		t.Lit(", ")
		t.Lit(synphasorCommand(binary.BigEndian.Uint16(b[14:])))
	}
	t.End(span.Message, st)
}

func synphasorTCP(s *tcpSegment, pdu []byte) {
	t := s.c.colSet("SYNCHROPHASOR")
	synphasorInfo(t, pdu)
	s.done()
}

// --- OpenVPN over TCP: each packet is preceded by its 2-byte length ---

func openvpnTCPLen(b []byte) int {
	return 2 + int(binary.BigEndian.Uint16(b))
}

var openvpnOpcodes = [...]string{
	1: "P_CONTROL_HARD_RESET_CLIENT_V1", 2: "P_CONTROL_HARD_RESET_SERVER_V1",
	3: "P_CONTROL_SOFT_RESET_V1", 4: "P_CONTROL_V1", 5: "P_ACK_V1", 6: "P_DATA_V1",
	7: "P_CONTROL_HARD_RESET_CLIENT_V2", 8: "P_CONTROL_HARD_RESET_SERVER_V2", 9: "P_DATA_V2",
	10: "P_CONTROL_HARD_RESET_CLIENT_V3", 11: "P_CONTROL_WKC_V1",
}

func openvpnOpcode(b byte) string {
	op := b >> 3
	if int(op) < len(openvpnOpcodes) && openvpnOpcodes[op] != "" {
		return openvpnOpcodes[op]
	}
	return "Unknown Messagetype"
}

func openvpnInfo(t *span.Text, b []byte) {
	t.Lit("MessageType: ")
	t.Field(span.Message, openvpnOpcode(b[0]))
}

func openvpnTCP(s *tcpSegment, pdu []byte) {
	t := s.c.colSet("OpenVPN")
	openvpnInfo(t, pdu[2:])
	s.done()
}
