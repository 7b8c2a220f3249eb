package dissect

import (
	"encoding/binary"

	"github.com/lens-go/lens/netbench/span"
)

// wsConv is the WebSocket state of an upgraded HTTP conversation.
type wsConv struct{}

var wsOpcodes = [16]string{
	0: "Continuation", 1: "Text", 2: "Binary",
	3: "Unknown Opcode", 4: "Unknown Opcode", 5: "Unknown Opcode", 6: "Unknown Opcode", 7: "Unknown Opcode",
	8: "Connection Close", 9: "Ping", 10: "Pong",
	11: "Unknown Opcode", 12: "Unknown Opcode", 13: "Unknown Opcode", 14: "Unknown Opcode", 15: "Unknown Opcode",
}

// wsFrameLen returns the length of the WebSocket frame at the start of b, or
// -1 when its header is not complete.
func wsFrameLen(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	n := 2
	plen := uint64(b[1] & 0x7f)
	switch plen {
	case 126:
		if len(b) < 4 {
			return -1
		}
		plen = uint64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return -1
		}
		plen = binary.BigEndian.Uint64(b[2:])
		n = 10
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	if plen > 1<<30 {
		return 1 << 30
	}
	return n + int(plen)
}

// dissect renders the WebSocket frames complete in data (tcp_dissect_pdus).
func (w *wsConv) dissect(s *tcpSegment, data []byte) int {
	c := s.c
	off := 0
	for off < len(data) {
		n := wsFrameLen(data[off:])
		if n < 0 || n > len(data)-off {
			if n > 0 {
				s.need = n - (len(data) - off)
			}
			return off
		}
		b := data[off:]
		t := c.colSet("WebSocket")
		t.Field(span.Message, "WebSocket")
		c.setFence()
		t.Lit(" ")
		t.Field(span.Message, wsOpcodes[b[0]&0x0f])
		if b[0]&0x80 != 0 {
			t.Lit(" ")
			t.Field(span.Flags, "[FIN]")
		} else {
			t.Lit(" ")
		}
		if b[1]&0x80 != 0 {
			t.Lit(" ")
			t.Field(span.Flags, "[MASKED]")
		} else {
			t.Lit(" ")
		}
		s.done()
		off += n
	}
	return off
}
