package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders IEC 60870-5-104 (packet-iec104.c): each APCI as
// "-> U (TESTFR con) ", "<- S (n) " or "-> I (tx,rx) ASDU=..." joined by
// " | "; a segment with an I-format APDU is labelled "IEC 60870-5 ASDU".

func init() {
	registerTCP(iec104App{}, 2404)
}

type iec104App struct{}

var iec104Types = map[byte]string{
	1: "M_SP_NA_1", 2: "M_SP_TA_1", 3: "M_DP_NA_1", 4: "M_DP_TA_1", 5: "M_ST_NA_1",
	6: "M_ST_TA_1", 7: "M_BO_NA_1", 8: "M_BO_TA_1", 9: "M_ME_NA_1", 10: "M_ME_TA_1",
	11: "M_ME_NB_1", 12: "M_ME_TB_1", 13: "M_ME_NC_1", 14: "M_ME_TC_1", 15: "M_IT_NA_1",
	16: "M_IT_TA_1", 17: "M_EP_TA_1", 18: "M_EP_TB_1", 19: "M_EP_TC_1", 20: "M_PS_NA_1",
	21: "M_ME_ND_1", 30: "M_SP_TB_1", 31: "M_DP_TB_1", 32: "M_ST_TB_1", 33: "M_BO_TB_1",
	34: "M_ME_TD_1", 35: "M_ME_TE_1", 36: "M_ME_TF_1", 37: "M_IT_TB_1", 38: "M_EP_TD_1",
	39: "M_EP_TE_1", 40: "M_EP_TF_1", 45: "C_SC_NA_1", 46: "C_DC_NA_1", 47: "C_RC_NA_1",
	48: "C_SE_NA_1", 49: "C_SE_NB_1", 50: "C_SE_NC_1", 51: "C_BO_NA_1", 58: "C_SC_TA_1",
	59: "C_DC_TA_1", 60: "C_RC_TA_1", 61: "C_SE_TA_1", 62: "C_SE_TB_1", 63: "C_SE_TC_1",
	64: "C_BO_TA_1", 70: "M_EI_NA_1", 100: "C_IC_NA_1", 101: "C_CI_NA_1", 102: "C_RD_NA_1",
	103: "C_CS_NA_1", 104: "C_TS_NA_1", 105: "C_RP_NA_1", 106: "C_CD_NA_1", 107: "C_TS_TA_1",
	110: "P_ME_NA_1", 111: "P_ME_NB_1", 112: "P_ME_NC_1", 113: "P_AC_NA_1", 120: "F_FR_NA_1",
	121: "F_SR_NA_1", 122: "F_SC_NA_1", 123: "F_LS_NA_1", 124: "F_AF_NA_1", 125: "F_SG_NA_1",
	126: "F_DR_TA_1", 127: "F_SC_NB_1",
}

var iec104COT = map[byte]string{
	1: "Per/Cyc", 2: "Back", 3: "Spont", 4: "Init", 5: "Req", 6: "Act", 7: "ActCon", 8: "Deact",
	9: "DeactCon", 10: "ActTerm", 11: "Retrem", 12: "Retloc", 13: "File", 20: "Inrogen",
	37: "Reqcogen", 44: "UkTypeId", 45: "UkCauseTx", 46: "UkComAdrASDU", 47: "UkIOA",
}

func iec104COTName(c byte) string {
	cause := c & 0x3f
	var s string
	switch {
	case cause >= 21 && cause <= 36:
		s = "Inro" + strconv.Itoa(int(cause-20))
	case cause >= 38 && cause <= 41:
		s = "Reqco" + strconv.Itoa(int(cause-37))
	default:
		var ok bool
		if s, ok = iec104COT[cause]; !ok {
			s = "<Unknown>"
		}
	}
	if c&0x40 != 0 {
		s += "_NEGA"
	}
	if c&0x80 != 0 {
		s += "_TEST"
	}
	return s
}

func (iec104App) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	arrow := "<- "
	if s.srcPort == 2404 {
		arrow = "-> "
	}
	off, n := 0, 0
	asdu := false
	var t *span.Text
	st := 0
	for off < len(data) {
		rest := data[off:]
		if len(rest) < 6 { // tcp_dissect_pdus' fixed length
			break
		}
		// tshark's PDU starts with whatever precedes the next 0x68.
		pre := indexByte(rest, 0x68)
		if pre < 0 || pre+2 > len(rest) {
			if len(rest) < 2 || pre < 0 && off > 0 {
				break
			}
			s.c.setProto("IEC 60870-5-104")
			s.done()
			return len(data)
		}
		l := pre + 2 + int(rest[pre+1])
		if l > len(rest) {
			break
		}
		apdu := rest[pre:l]
		off += l
		if t == nil {
			s.c.setProto("IEC 60870-5-104")
			s.done()
		}
		if len(apdu) < 6 {
			continue
		}
		if t == nil {
			t = s.c.colSet("IEC 60870-5-104")
			st = t.Begin()
		}
		if n > 0 {
			t.Lit(" | ")
		}
		n++
		if pre > 0 {
			t.Lit("<ERR prefix ")
			t.B = strconv.AppendUint(t.B, uint64(pre), 10)
			t.Lit(" bytes> ")
		}
		t.Lit(arrow)
		ctl := apdu[2:6]
		switch {
		case ctl[0]&1 == 0: // I format
			asdu = true
			t.Lit("I (")
			t.B = strconv.AppendUint(t.B, uint64(binary.LittleEndian.Uint16(ctl)>>1), 10)
			t.Lit(",")
			t.B = strconv.AppendUint(t.B, uint64(binary.LittleEndian.Uint16(ctl[2:])>>1), 10)
			t.Lit(") ")
			iec104ASDU(t, apdu[6:])
		case ctl[0]&3 == 1: // S format
			t.Lit("S (")
			t.B = strconv.AppendUint(t.B, uint64(binary.LittleEndian.Uint16(ctl[2:])>>1), 10)
			t.Lit(") ")
		default: // U format
			t.Lit("U (")
			switch ctl[0] {
			case 0x07:
				t.Lit("STARTDT act")
			case 0x0b:
				t.Lit("STARTDT con")
			case 0x13:
				t.Lit("STOPDT act")
			case 0x23:
				t.Lit("STOPDT con")
			case 0x43:
				t.Lit("TESTFR act")
			case 0x83:
				t.Lit("TESTFR con")
			default:
				t.Lit("<ERR>")
			}
			t.Lit(") ")
		}
	}
	if t != nil {
		t.End(span.Message, st)
		if asdu {
			s.c.setProto("IEC 60870-5 ASDU")
		}
	}
	return off
}

func iec104ASDU(t *span.Text, a []byte) {
	if len(a) < 9 {
		return
	}
	typ, vsq, cot := a[0], a[1], a[2]
	t.Lit("ASDU=")
	t.B = strconv.AppendUint(t.B, uint64(binary.LittleEndian.Uint16(a[4:])), 10)
	t.Lit(" ")
	if name, ok := iec104Types[typ]; ok {
		t.Lit(name)
	} else {
		t.Lit("<TypeId=" + strconv.Itoa(int(typ)) + ">")
	}
	t.Lit(" ")
	c := iec104COTName(cot)
	t.Lit(c)
	for i := len(c); i < 7; i++ {
		t.B = append(t.B, ' ')
	}
	t.Lit(" IOA")
	ioa := uint64(a[6]) | uint64(a[7])<<8 | uint64(a[8])<<16
	num := uint64(vsq & 0x7f)
	switch {
	case num <= 1:
		t.Lit("=")
		t.B = strconv.AppendUint(t.B, ioa, 10)
	case vsq&0x80 != 0:
		t.Lit("[")
		t.B = strconv.AppendUint(t.B, num, 10)
		t.Lit("]=")
		t.B = strconv.AppendUint(t.B, ioa, 10)
		t.Lit("-")
		t.B = strconv.AppendUint(t.B, ioa+num-1, 10)
	default:
		t.Lit("[")
		t.B = strconv.AppendUint(t.B, num, 10)
		t.Lit("]=")
		t.B = strconv.AppendUint(t.B, ioa, 10)
		t.Lit(",...")
	}
}
