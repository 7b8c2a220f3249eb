package dissect

import (
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders SNMP (packet-snmp.c): the PDU type and the OIDs of its
// variable bindings; an encrypted SNMPv3 PDU without keys is
// "encryptedPDU: privKey Unknown".

func init() {
	registerUDP(udpFuncApp(snmpUDP), 161, 162)
}

var snmpPDUs = [...]string{"get-request", "get-next-request", "get-response", "set-request",
	"trap", "getBulkRequest", "informRequest", "snmpV2-trap", "report"}

// appendOID appends a BER-encoded OID in dotted form.
func appendOID(b, oid []byte) []byte {
	var v uint64
	first := true
	for _, x := range oid {
		v = v<<7 | uint64(x&0x7f)
		if x&0x80 != 0 {
			continue
		}
		if first {
			first = false
			switch {
			case v < 40:
				b = append(b, "itu-t."...)
				b = strconv.AppendUint(b, v, 10)
			case v < 80:
				b = append(b, '1', '.')
				b = strconv.AppendUint(b, v-40, 10)
			default:
				b = append(b, '2', '.')
				b = strconv.AppendUint(b, v-80, 10)
			}
		} else {
			b = append(b, '.')
			b = strconv.AppendUint(b, v, 10)
		}
		v = 0
	}
	return b
}

func snmpUDP(c *ctx, u *udpDatagram) bool {
	tag, msg, _, ok := berHeader(u.payload)
	if !ok || tag != 0x30 {
		return false
	}
	tag, ver, rest, ok := berHeader(msg)
	if !ok || tag != 0x02 || len(ver) != 1 {
		return false
	}
	var pdu []byte
	switch ver[0] {
	case 0, 1: // community, then the PDU
		tag, _, rest, ok = berHeader(rest)
		if !ok || tag != 0x04 {
			return false
		}
		pdu = rest
	case 3: // global data, security parameters, then the scoped PDU
		for i := 0; i < 2; i++ {
			if _, _, rest, ok = berHeader(rest); !ok {
				return false
			}
		}
		tag, sp, _, ok := berHeader(rest)
		if !ok {
			return false
		}
		if tag == 0x04 {
			t := c.colSet("SNMP")
			t.Field(span.Message, "encryptedPDU: privKey Unknown")
			return true
		}
		if tag != 0x30 {
			return false
		}
		for i := 0; i < 2; i++ { // context engine ID and name
			if _, _, sp, ok = berHeader(sp); !ok {
				return false
			}
		}
		pdu = sp
	default:
		return false
	}
	tag, body, _, ok := berHeader(pdu)
	if !ok || tag < 0xa0 || int(tag-0xa0) >= len(snmpPDUs) {
		return false
	}
	t := c.colSet("SNMP")
	st := t.Begin()
	t.Lit(snmpPDUs[tag-0xa0])
	// request-id, error-status, error-index (trap-v1 differs: no bindings shown)
	if tag != 0xa4 {
		for i := 0; i < 3 && ok; i++ {
			_, _, body, ok = berHeader(body)
		}
		var vbl []byte
		if ok {
			_, vbl, _, ok = berHeader(body)
		}
		for ok && len(vbl) > 0 {
			var vb []byte
			_, vb, vbl, ok = berHeader(vbl)
			if !ok {
				break
			}
			if tag, oid, _, ok2 := berHeader(vb); ok2 && tag == 0x06 {
				t.Lit(" ")
				t.B = appendOID(t.B, oid)
			}
		}
	}
	t.End(span.Message, st)
	return true
}
