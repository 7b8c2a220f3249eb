package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders Google QUIC (Q0xx) as tshark's packet-gquic.c does:
// "Client Hello, PKN: 1, CID: 16652857693520547149" for the unencrypted
// handshake, "Payload (Encrypted), PKN: 2" for the rest, with the public
// header of Q024–Q043 and the long/short headers of Q046.

// Public flags.
const (
	gqVersion = 0x01
	gqReset   = 0x02
	gqNonce   = 0x04
	gqCID     = 0x08
	gqPKN     = 0x30
	gqMPTH    = 0x40
	gqRSV     = 0x80
)

type gquicApp struct{}

// gquicState is gquic_info_data_t, per UDP conversation.
type gquicState struct {
	version      uint8
	versionValid bool
	bigEndian    bool
	serverPort   uint16
}

func gquicStateOf(u *udpDatagram, bigEndian bool) *gquicState {
	if st, ok := u.conv.state.(*gquicState); ok {
		return st
	}
	st := &gquicState{versionValid: true, bigEndian: bigEndian, serverPort: 443}
	u.conv.state = st
	return st
}

// gquicHeuristic is dissect_gquic_heur.
func gquicHeuristic(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 1 {
		return false
	}
	flags := b[0]
	switch {
	case flags&gqRSV == 0 && flags&gqMPTH == 0:
		if len(b) < 13 || flags&gqVersion == 0 || flags&gqCID == 0 {
			return false
		}
		if b[9] != 'Q' || b[10] != '0' || b[11] < '2' || b[11] > '4' {
			return false
		}
	case flags&gqRSV != 0 && flags&gqMPTH != 0:
		if len(b) < 14 || binary.BigEndian.Uint32(b[1:]) != 0x51303436 {
			return false
		}
	default:
		return false
	}
	u.conv.app = gquicApp{}
	c.gquic(u)
	return true
}

func (gquicApp) dissect(c *ctx, u *udpDatagram) bool {
	c.gquic(u)
	return true
}

// gquicVersion parses the three digits after "Q" (ws_strtou8).
func gquicVersion(b []byte) (uint8, bool) {
	v := 0
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + int(ch-'0')
	}
	if v > 255 {
		return 0, false
	}
	return uint8(v), true
}

func (st *gquicState) uint(b []byte) uint64 {
	var v uint64
	if st.bigEndian {
		for _, x := range b {
			v = v<<8 | uint64(x)
		}
	} else {
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
	}
	return v
}

// gquic renders one Google QUIC packet (dissect_gquic).
func (c *ctx) gquic(u *udpDatagram) {
	b := u.payload
	t := c.colSet("GQUIC")
	if len(b) == 0 {
		return
	}
	start := t.Begin()
	defer func() {
		if e := recover(); e != nil {
			if _, ok := e.(dnsErr); !ok {
				panic(e)
			}
			t.End(span.Message, start)
			if c.truncated {
				t.Lit("[Packet size limited during capture]")
			} else {
				t.Lit("[Malformed Packet]")
			}
		}
	}()
	r := dnsReader{b: b, truncated: c.truncated}
	if b[0]&gqRSV == 0 && b[0]&gqMPTH == 0 {
		c.gquicCommon(t, u, &r)
	} else {
		c.gquicQ046(t, u, &r)
	}
	t.End(span.Message, start)
}

func (c *ctx) gquicCommon(t *span.Text, u *udpDatagram, r *dnsReader) {
	b := r.b
	if len(b) < 13 { // GQUIC_MIN_LENGTH
		return
	}
	st := gquicStateOf(u, false)
	flags := b[0]
	off := 1
	cidLen := 0
	if flags&gqCID != 0 {
		cidLen = 8
	}
	if flags&gqVersion != 0 {
		st.version, st.versionValid = gquicVersion(r.need(1+cidLen+1, 3))
	}
	if st.version >= 39 {
		st.bigEndian = true
	}
	var cid uint64
	if cidLen > 0 {
		cid = st.uint(r.need(off, 8))
		off += 8
	}
	if flags&gqVersion != 0 {
		if u.srcPort == st.serverPort {
			t.Lit("Version Negotiation, CID: ")
			t.B = strconv.AppendUint(t.B, cid, 10)
			return
		}
		off += 4
	}
	if flags&gqReset != 0 {
		t.Lit("Public Reset, CID: ")
		t.B = strconv.AppendUint(t.B, cid, 10)
		return
	}
	if st.versionValid && flags&gqNonce != 0 && st.version >= 33 && u.srcPort == st.serverPort {
		off += 32
	}
	pknLen := [4]int{1, 2, 4, 6}[(flags&gqPKN)>>4]
	pkn := st.uint(r.need(off, pknLen))
	off += pknLen
	c.gquicPayload(t, u, st, r, off, pknLen, pkn, cid)
}

func (c *ctx) gquicQ046(t *span.Text, u *udpDatagram, r *dnsReader) {
	b := r.b
	st := gquicStateOf(u, true)
	first := b[0]
	pknLen := int(first&3) + 1
	off := 1
	var cid uint64
	if first&gqMPTH != 0 && first&gqRSV != 0 {
		st.version, st.versionValid = gquicVersion(r.need(2, 3))
		cil := r.u8(5)
		var cidLen int
		if u.srcPort == st.serverPort {
			cidLen = int(cil&0x0f) + 3
		} else {
			cidLen = int(cil>>4) + 3
		}
		off = 6
		cid = st.uint(r.need(off, 8))
		off += cidLen
	} else if u.srcPort != st.serverPort {
		cid = st.uint(r.need(off, 8))
		off += 8
	}
	pkn := st.uint(r.need(off, pknLen))
	off += pknLen
	c.gquicPayload(t, u, st, r, off, pknLen, pkn, cid)
}

// gquicPayload writes the message (unencrypted handshake or "Payload
// (Encrypted)") and the packet number and CID.
func (c *ctx) gquicPayload(t *span.Text, u *udpDatagram, st *gquicState, r *dnsReader, off, pknLen int, pkn, cid uint64) {
	if msg := gquicUnencrypted(r.b, off, pknLen, st, u); msg != "" {
		t.Lit(msg)
	} else {
		t.Lit("Payload (Encrypted)")
	}
	t.Lit(", PKN: ")
	t.B = strconv.AppendUint(t.B, pkn, 10)
	if cid != 0 {
		t.Lit(", CID: ")
		t.B = strconv.AppendUint(t.B, cid, 10)
	}
}

// gquicUnencrypted is is_gquic_unencrypt: it returns the name of the
// unencrypted message the packet carries ("Client Hello", "Connection
// Close", ...) or "" when the payload is encrypted.
func gquicUnencrypted(b []byte, off, pknLen int, st *gquicState, u *udpDatagram) string {
	if len(b)-off <= 13 {
		return ""
	}
	off += 12 // message authentication hash
	if st.versionValid && st.version < 34 {
		off++ // private flags
	}
	u16 := func(o int) int {
		if st.bigEndian {
			return int(binary.BigEndian.Uint16(b[o:]))
		}
		return int(binary.LittleEndian.Uint16(b[o:]))
	}
	for off < len(b) {
		if len(b)-off <= 1 {
			return ""
		}
		ft := b[off]
		if ft&0xe0 == 0 {
			off++
			switch ft {
			case 0x00: // PADDING
				return ""
			case 0x01: // RST_STREAM
				off += 16
			case 0x02: // CONNECTION_CLOSE
				off += 4
				if len(b)-off <= 2 {
					return ""
				}
				n := u16(off)
				off += 2
				if len(b)-off == n {
					return "Connection Close"
				}
			case 0x03: // GOAWAY
				off += 8
				if len(b)-off <= 2 {
					return ""
				}
				n := u16(off)
				off += 2 + n
			case 0x04: // WINDOW_UPDATE
				off += 12
			case 0x05: // BLOCKED
				off += 4
			case 0x06: // STOP_WAITING
				if st.versionValid && st.version < 34 {
					off++
				}
				off += pknLen
			}
			continue
		}
		switch {
		case ft&0x80 != 0: // STREAM
			lenData := 0
			if ft&0x20 != 0 {
				lenData = 2
			}
			lenOffset := 0
			if o := int(ft&0x1c) >> 2; o > 0 {
				lenOffset = o + 1
			}
			lenStream := int(ft&0x03) + 1
			off += 1 + lenStream + lenOffset + lenData
			if len(b)-off <= 4 {
				return ""
			}
			tag := binary.BigEndian.Uint32(b[off:])
			if name := gquicTagName(tag); name != "" && tag != 0x50525354 {
				if tag == 0x43484c4f && u.srcPort != 443 {
					st.serverPort = u.dstPort
				}
				return name
			}
		case ft&0x40 != 0: // ACK
			ll := [4]int{1, 2, 4, 6}[(ft&0x0c)>>2]
			mm := [4]int{1, 2, 4, 6}[ft&0x03]
			off++
			if st.versionValid && st.version < 34 {
				off += 1 + ll + 2
				if len(b)-off <= 1 {
					return ""
				}
				nts := int(b[off])
				off++
				if nts > 0 {
					off += 5 + (nts-1)*3
				}
				if ft&0x20 != 0 {
					if off < 0 || len(b)-off <= 1 {
						return ""
					}
					nr := int(b[off])
					off += 1 + nr*(mm+1)
					if off < 0 || len(b)-off <= 1 {
						return ""
					}
					nrev := int(b[off])
					off += 1 + nrev*ll
				}
			} else {
				off += ll + 2
				nb := 0
				if ft&0x20 != 0 {
					if len(b)-off <= 1 {
						return ""
					}
					nb = int(b[off])
					off++
				}
				off += mm
				if nb > 0 {
					off += nb * (1 + mm)
				}
				if off < 0 || len(b)-off <= 1 {
					return ""
				}
				nts := int(b[off])
				off++
				if nts > 0 {
					off += 5 + (nts-1)*3
				}
			}
		default:
			off++
		}
	}
	return ""
}

// gquicTagName names a QUIC crypto handshake message tag ("" when unknown).
func gquicTagName(tag uint32) string {
	switch tag {
	case 0x43484c4f: // CHLO
		return "Client Hello"
	case 0x53484c4f: // SHLO
		return "Server Hello"
	case 0x52454a00: // REJ
		return "Rejection"
	case 0x50525354: // PRST
		return "Public Reset"
	}
	return ""
}
