package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders S7 communication (packet-s7comm.c) carried in COTP
// data TPDUs: "ROSCTR:[Job     ] Function:[Setup communication]" and the
// user-data function groups.

var s7Rosctr = map[byte]string{1: "Job", 2: "Ack", 3: "Ack_Data", 7: "Userdata"}

var s7Functions = map[byte]string{0x00: "CPU services", 0x04: "Read Var", 0x05: "Write Var",
	0x1a: "Request download", 0x1b: "Download block", 0x1c: "Download ended",
	0x1d: "Start upload", 0x1e: "Upload", 0x1f: "End upload", 0x28: "PI-Service",
	0x29: "PLC Stop", 0xf0: "Setup communication"}

var s7Groups = map[byte]string{0: "Mode-transition", 1: "Programmer commands", 2: "Cyclic data",
	3: "Block functions", 4: "CPU functions", 5: "Security", 6: "PBC BSEND/BRECV",
	7: "Time functions", 0xf: "NC programming"}

var s7BlockTypes = map[string]string{"08": "OB", "0A": "DB", "0B": "SDB", "0C": "FC",
	"0D": "SFC", "0E": "FB", "0F": "SFB"}

// s7Block formats a block name "0A00001" as DB1 (or "DB 1" with sep).
func s7Block(b []byte, sep string) (string, bool) {
	if len(b) < 7 {
		return "", false
	}
	typ, ok := s7BlockTypes[string(b[:2])]
	if !ok {
		return "", false
	}
	return typ + sep + strconv.Itoa(atoiPrefix(b[2:7])), true
}

// s7comm renders an S7 PDU; false when b is not one.
func s7comm(c *ctx, b []byte) bool {
	if len(b) < 10 || b[0] != 0x32 {
		return false
	}
	ros := b[1]
	name, ok := s7Rosctr[ros]
	if !ok {
		return false
	}
	hl := 10
	if ros == 2 || ros == 3 {
		hl = 12
	}
	plen := int(binary.BigEndian.Uint16(b[6:]))
	dlen := int(binary.BigEndian.Uint16(b[8:]))
	if hl+plen > len(b) {
		return false
	}
	par := b[hl : hl+plen]
	data := b[hl+plen:]
	if dlen < len(data) {
		data = data[:dlen]
	}
	t := c.colSet("S7COMM")
	st := t.Begin()
	defer t.End(span.Message, st)
	t.Lit("ROSCTR:[")
	t.Lit(name)
	for i := len(name); i < 8; i++ {
		t.B = append(t.B, ' ')
	}
	t.Lit("]")
	if ros == 7 {
		s7Userdata(t, par, data)
		return true
	}
	if len(par) < 1 {
		return true
	}
	fn := par[0]
	t.Lit(" Function:[")
	if f, ok := s7Functions[fn]; ok {
		t.Lit(f)
	} else {
		t.Lit("Unknown")
	}
	t.Lit("]")
	if ros != 1 {
		return true
	}
	switch fn {
	case 0x1a, 0x1b, 0x1c, 0x1d, 0x1f:
		if len(par) > 9 {
			n := int(par[8])
			if 9+n <= len(par) && n >= 8 {
				if blk, ok := s7Block(par[10:17], ""); ok {
					t.Lit(" -> Block:[")
					t.Lit(blk)
					t.Lit("]")
				}
			}
		}
	case 0x28:
		if len(par) >= 10 {
			pl := int(binary.BigEndian.Uint16(par[8:]))
			if 10+pl < len(par) {
				blocks := par[10 : 10+pl]
				sn := int(par[10+pl])
				if 11+pl+sn <= len(par) {
					t.Lit(" -> ")
					t.LitBytes(par[11+pl : 11+pl+sn])
					t.Lit("(")
					if len(blocks) >= 10 {
						if blk, ok := s7Block(blocks[2:9], ""); ok {
							t.Lit(blk)
						}
					}
					t.Lit(")")
				}
			}
		}
	}
	return true
}

func s7Userdata(t *span.Text, par, data []byte) {
	if len(par) < 8 {
		return
	}
	typ, grp, sub := par[5]>>4, par[5]&0x0f, par[6]
	t.Lit(" Function:[")
	switch typ {
	case 4:
		t.Lit("Request")
	case 8:
		t.Lit("Response")
	case 0:
		t.Lit("Push")
	default:
		t.Lit("Unknown")
	}
	t.Lit("] -> [")
	if g, ok := s7Groups[grp]; ok {
		t.Lit(g)
	} else {
		t.Lit("Unknown")
	}
	t.Lit("] -> [")
	subName := "Unknown"
	switch grp {
	case 3:
		switch sub {
		case 1:
			subName = "List blocks"
		case 2:
			subName = "List blocks of type"
		case 3:
			subName = "Get block info"
		}
	case 4:
		switch sub {
		case 1:
			subName = "Read SZL"
		case 2:
			subName = "Message service"
		case 3:
			subName = "Diagnostic message"
		}
	}
	t.Lit(subName)
	t.Lit("]")
	if len(par) >= 12 {
		if ec := binary.BigEndian.Uint16(par[10:]); ec != 0 {
			t.Lit(" -> Errorcode:[0x")
			t.B = appendHexLower(t.B, uint64(ec), 4)
			t.Lit("]")
			return
		}
	}
	if len(data) < 4 || data[0] != 0xff {
		return
	}
	d := data[4:]
	switch {
	case grp == 4 && sub == 1 && len(d) >= 4:
		t.Lit(" ID=0x")
		t.B = appendHexLower(t.B, uint64(binary.BigEndian.Uint16(d)), 4)
		t.Lit(" Index=0x")
		t.B = appendHexLower(t.B, uint64(binary.BigEndian.Uint16(d[2:])), 4)
	case grp == 3 && sub == 2 && typ == 4 && len(d) >= 2:
		if bt, ok := s7BlockTypes[string(d[:2])]; ok {
			t.Lit(" Type:[")
			t.Lit(bt)
			t.Lit("]")
		}
	case grp == 3 && sub == 3 && typ == 4 && len(d) >= 7:
		if blk, ok := s7Block(d[:7], " "); ok {
			t.Lit(" -> Block:[")
			t.Lit(blk)
			t.Lit("]")
		}
	}
}

// --- T.125 (MCS) domain PDUs in COTP data on the RDP port ---

var t125PDUs = [...]string{"plumbDomainIndication", "erectDomainRequest", "mergeChannelsRequest",
	"mergeChannelsConfirm", "purgeChannelsIndication", "mergeTokensRequest", "mergeTokensConfirm",
	"purgeTokensIndication", "disconnectProviderUltimatum", "rejectMCSPDUUltimatum",
	"attachUserRequest", "attachUserConfirm", "detachUserRequest", "detachUserIndication",
	"channelJoinRequest", "channelJoinConfirm", "channelLeaveRequest", "channelConveneRequest",
	"channelConveneConfirm", "channelDisbandRequest", "channelDisbandIndication",
	"channelAdmitRequest", "channelAdmitIndication", "channelExpelRequest",
	"channelExpelIndication"}

// t125 renders an MCS domain PDU other than the data transfer ones.
func t125(c *ctx, b []byte) bool {
	if len(b) < 1 {
		return false
	}
	choice := int(b[0] >> 2)
	if choice >= len(t125PDUs) {
		return false
	}
	t := c.colSet("T.125")
	st := t.Begin()
	t.Lit(t125PDUs[choice])
	t.Lit(" ")
	switch {
	case choice == 14 && len(b) >= 5:
		t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(b[3:])), 10)
	case choice == 15 && len(b) >= 6:
		t.B = strconv.AppendUint(t.B, uint64(binary.BigEndian.Uint16(b[4:])), 10)
	}
	t.End(span.Message, st)
	return true
}
