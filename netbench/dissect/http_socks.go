package dissect

import (
	"encoding/binary"

	"github.com/lens-go/lens/netbench/span"
)

// SOCKS5 (packet-socks.c): the greeting, method choice and command
// exchanges, then the tunnel handed to the dissector of the port the client
// asked for (HTTP and TLS through proxies).

type httpSocksApp struct{}

func init() { registerTCP(httpSocksApp{}, 1080) }

type socksConv struct {
	phase int    // 0 greeting, 1 method choice, 2 auth request, 3 auth reply, 4 command, 5 command reply
	cmd   byte   // the command asked for
	port  uint16 // the port asked for
}

var socksCommands = [4]string{1: "Connect", 2: "Bind", 3: "UdpAssociate"}

func (httpSocksApp) dissect(s *tcpSegment, data []byte) int {
	st, ok := s.conv.appState.(*socksConv)
	if !ok {
		st = &socksConv{}
		s.conv.appState = st
	}
	if len(data) < 2 || data[0] != 5 {
		return len(data)
	}
	c := s.c
	toServer := s.dstPort == 1080
	var msg string
	switch {
	case st.phase == 0 && toServer:
		msg = "Connect to server request"
		st.phase = 1
	case st.phase == 1 && !toServer:
		msg = "Connect to server response"
		st.phase = 4
		if data[1] == 2 {
			st.phase = 2
		}
	case st.phase == 4 && toServer:
		if len(data) < 4 {
			return len(data)
		}
		st.cmd = data[1]
		if p, ok := socksPort(data); ok {
			st.port = p
		}
		msg = "Command Request - " + socksCmdName(st.cmd)
		st.phase = 5
	case st.phase == 5 && !toServer:
		msg = "Command Response - " + socksCmdName(st.cmd)
		st.phase = 6
	default:
		return len(data)
	}
	t := c.colSet("Socks")
	st0 := t.Begin()
	t.Lit("Version: 5 ")
	t.Lit(msg)
	t.End(span.Message, st0)
	s.done()
	if st.phase == 6 {
		// The tunnel carries what the asked-for port's dissector reads.
		var app tcpApp = tunnelData{}
		if a, ok := tcpPortApps[st.port]; ok {
			if _, self := a.(httpSocksApp); !self {
				app = &socksTunnel{inner: a}
			}
		}
		s.conv.app = app
		s.conv.appState = nil
	}
	return len(data)
}

func socksCmdName(cmd byte) string {
	if int(cmd) < len(socksCommands) && socksCommands[cmd] != "" {
		return socksCommands[cmd]
	}
	return "Unknown"
}

// socksPort returns the port of a SOCKS5 request [5 cmd 0 atyp addr port].
func socksPort(b []byte) (uint16, bool) {
	var n int
	switch b[3] {
	case 1:
		n = 4 + 4
	case 3:
		if len(b) < 5 {
			return 0, false
		}
		n = 5 + int(b[4])
	case 4:
		n = 4 + 16
	default:
		return 0, false
	}
	if len(b) < n+2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[n:]), true
}

// socksTunnel is the SOCKS dissector after the handshake: it writes
// "Version: 5" and hands the bytes to the tunneled protocol, whose own Info
// replaces it when it renders a PDU.
type socksTunnel struct{ inner tcpApp }

func (a *socksTunnel) dissect(s *tcpSegment, data []byte) int {
	t := s.c.colClear()
	t.Field(span.Message, "Version: 5")
	return a.inner.dissect(s, data)
}
