package dissect

import (
	"encoding/binary"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders RDP (packet-rdp.c) beyond the negotiation: MCS send
// data PDUs by their security header, MCS connect PDUs, and fast-path PDUs
// (sent outside TPKT when the connection uses standard RDP security).

type rdpState struct {
	tls bool // the negotiation selected TLS or CredSSP: no fast-path
}

// rdpSecurity renders the RDP PDU inside an MCS send data request or
// indication.
func rdpSecurity(c *ctx, b []byte) {
	t := c.colSet("RDP")
	if len(b) < 4 {
		return
	}
	fl := binary.LittleEndian.Uint16(b)
	st := t.Begin()
	defer t.End(span.Message, st)
	switch {
	case fl&0x0001 != 0:
		t.Lit("SecurityExchange")
	case fl&0x0040 != 0:
		t.Lit("ClientInfo")
		if fl&0x0008 != 0 {
			t.Lit(", [Encrypted]")
		}
	case fl&0x0080 != 0:
		if len(b) < 6 {
			return
		}
		switch b[5] { // tshark 4.0 reads the preamble's flags byte here
		case 0x01:
			t.Lit("License Request")
		case 0x02:
			t.Lit("Platform Challenge")
		case 0x03:
			t.Lit("New License")
		case 0x04:
			t.Lit("Upgrade License")
		case 0x12:
			t.Lit("License Info")
		case 0x13:
			t.Lit("New License Request")
		case 0x15:
			t.Lit("Platform Challenge Response")
		case 0xff:
			t.Lit("Error Alert")
		}
	}
}

var rdpEncMethods = map[uint32]string{0: "None", 1: "40-bit RC4", 2: "128-bit RC4", 8: "56-bit RC4", 0x10: "FIPS"}
var rdpEncLevels = [...]string{"None", "Low", "Client Compatible", "High", "FIPS"}

// rdpMCSConnect renders an MCS Connect-Initial (client data) or
// Connect-Response (server data, with the security settings).
func rdpMCSConnect(c *ctx, b []byte) bool {
	if len(b) < 2 || b[0] != 0x7f || (b[1] != 0x65 && b[1] != 0x66) {
		return false
	}
	t := c.colSet("RDP")
	if b[1] == 0x65 {
		t.Field(span.Message, "ClientData")
		return true
	}
	st := t.Begin()
	t.Lit("ServerData")
	// Find the server security data block (type 0x0c02).
	for i := 2; i+12 <= len(b); i++ {
		if b[i] == 0x02 && b[i+1] == 0x0c && binary.LittleEndian.Uint16(b[i+2:]) >= 12 {
			m := binary.LittleEndian.Uint32(b[i+4:])
			l := binary.LittleEndian.Uint32(b[i+8:])
			if name, ok := rdpEncMethods[m]; ok && l < uint32(len(rdpEncLevels)) {
				t.Lit(" Encryption: ")
				t.Lit(name)
				t.Lit(" (")
				t.Lit(rdpEncLevels[l])
				t.Lit(")")
				break
			}
		}
	}
	t.End(span.Message, st)
	return true
}

var rdpInputEvents = [8]string{"Scancode", "Mouse", "MouseEx", "Sync", "Unicode", "", "QoE timestamp", ""}
var rdpInputSizes = [8]int{1, 6, 6, 0, 2, 0, 4, 0}

var rdpUpdates = map[byte]string{0: "Orders", 1: "Bitmap", 2: "Palette", 3: "Synchronize",
	4: "Surface", 5: "NullPointer", 6: "DefaultPointer", 8: "PointerPosition",
	9: "ColorPointer", 10: "CachedPointer", 11: "NewPointer", 12: "LargePointer"}

// rdpFastPathLen returns the length of a fast-path PDU at b, or -1.
func rdpFastPathLen(b []byte) int {
	if len(b) < 2 || b[0]&3 != 0 {
		return -1
	}
	if b[1]&0x80 != 0 {
		if len(b) < 3 {
			return 0
		}
		return int(b[1]&0x7f)<<8 | int(b[2])
	}
	return int(b[1])
}

// rdpFastPath renders one fast-path PDU (input from the client, output
// from the server).
func rdpFastPath(c *ctx, b []byte, fromServer bool) {
	t := c.colSet("RDP")
	st := t.Begin()
	defer t.End(span.Message, st)
	t.Lit("Fast-Path PDU")
	o := 2
	if b[1]&0x80 != 0 {
		o = 3
	}
	if b[0]>>6&2 != 0 { // encrypted: data signature
		o += 8
	}
	malformed := func() { t.Lit("[Malformed Packet]") }
	if !fromServer {
		n := int(b[0] >> 2 & 0xf)
		if n == 0 {
			if o >= len(b) {
				return
			}
			n = int(b[o])
			o++
		}
		for i := 0; i < n; i++ {
			if o >= len(b) {
				malformed()
				return
			}
			code := b[o] >> 5
			if name := rdpInputEvents[code]; name != "" {
				t.Lit(",")
				t.Lit(name)
			}
			o += 1 + rdpInputSizes[code]
			if o > len(b) {
				malformed()
				return
			}
		}
		return
	}
	for o < len(b) {
		h := b[o]
		o++
		name, ok := rdpUpdates[h&0x0f]
		if !ok {
			name = "Unknown"
		}
		t.Lit(",")
		t.Lit(name)
		if h>>6&2 != 0 {
			o++
		}
		if o+2 > len(b) {
			malformed()
			return
		}
		size := int(binary.LittleEndian.Uint16(b[o:]))
		o += 2 + size
		if o > len(b) {
			malformed()
			return
		}
	}
}
