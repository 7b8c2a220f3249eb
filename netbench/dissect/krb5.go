package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders Kerberos 5 (packet-kerberos.c) over UDP and TCP: the
// message type from the outer ASN.1 application tag, and for KRB-ERROR the
// error code.

func init() {
	registerUDP(udpFuncApp(krb5UDP), 88)
	registerTCP(&tcpFuncApp{hdr: 4, pduLen: krb5TCPLen, render: krb5TCP}, 88)
}

var krb5Msgs = map[byte]string{
	10: "AS-REQ", 11: "AS-REP", 12: "TGS-REQ", 13: "TGS-REP", 14: "AP-REQ", 15: "AP-REP",
	20: "KRB-SAFE", 21: "KRB-PRIV", 22: "KRB-CRED",
}

var krb5Errors = [...]string{
	0: "KDC_ERR_NONE", 1: "KDC_ERR_NAME_EXP", 2: "KDC_ERR_SERVICE_EXP", 3: "KDC_ERR_BAD_PVNO",
	4: "KDC_ERR_C_OLD_MAST_KVNO", 5: "KDC_ERR_S_OLD_MAST_KVNO", 6: "KDC_ERR_C_PRINCIPAL_UNKNOWN",
	7: "KDC_ERR_S_PRINCIPAL_UNKNOWN", 8: "KDC_ERR_PRINCIPAL_NOT_UNIQUE", 9: "KDC_ERR_NULL_KEY",
	10: "KDC_ERR_CANNOT_POSTDATE", 11: "KDC_ERR_NEVER_VALID", 12: "KDC_ERR_POLICY",
	13: "KDC_ERR_BADOPTION", 14: "KDC_ERR_ETYPE_NOSUPP", 15: "KDC_ERR_SUMTYPE_NOSUPP",
	16: "KDC_ERR_PADATA_TYPE_NOSUPP", 17: "KDC_ERR_TRTYPE_NOSUPP", 18: "KDC_ERR_CLIENT_REVOKED",
	19: "KDC_ERR_SERVICE_REVOKED", 20: "KDC_ERR_TGT_REVOKED", 21: "KDC_ERR_CLIENT_NOTYET",
	22: "KDC_ERR_SERVICE_NOTYET", 23: "KDC_ERR_KEY_EXP", 24: "KDC_ERR_PREAUTH_FAILED",
	25: "KDC_ERR_PREAUTH_REQUIRED", 26: "KDC_ERR_SERVER_NOMATCH", 27: "KDC_ERR_MUST_USE_USER2USER",
	28: "KDC_ERR_PATH_NOT_ACCEPTED", 29: "KDC_ERR_SVC_UNAVAILABLE", 31: "KRB_AP_ERR_BAD_INTEGRITY",
	32: "KRB_AP_ERR_TKT_EXPIRED", 33: "KRB_AP_ERR_TKT_NYV", 34: "KRB_AP_ERR_REPEAT",
	35: "KRB_AP_ERR_NOT_US", 36: "KRB_AP_ERR_BADMATCH", 37: "KRB_AP_ERR_SKEW",
	38: "KRB_AP_ERR_BADADDR", 39: "KRB_AP_ERR_BADVERSION", 40: "KRB_AP_ERR_MSG_TYPE",
	41: "KRB_AP_ERR_MODIFIED", 42: "KRB_AP_ERR_BADORDER", 43: "KRB_AP_ERR_ILL_CR_TKT",
	44: "KRB_AP_ERR_BADKEYVER", 45: "KRB_AP_ERR_NOKEY", 46: "KRB_AP_ERR_MUT_FAIL",
	47: "KRB_AP_ERR_BADDIRECTION", 48: "KRB_AP_ERR_METHOD", 49: "KRB_AP_ERR_BADSEQ",
	50: "KRB_AP_ERR_INAPP_CKSUM", 51: "KRB_AP_PATH_NOT_ACCEPTED", 52: "KRB_ERR_RESPONSE_TOO_BIG",
	60: "KRB_ERR_GENERIC", 61: "KRB_ERR_FIELD_TOOLONG", 62: "KDC_ERROR_CLIENT_NOT_TRUSTED",
	63: "KDC_ERROR_KDC_NOT_TRUSTED", 64: "KDC_ERROR_INVALID_SIG", 65: "KDC_ERR_KEY_TOO_WEAK",
	66: "KDC_ERR_CERTIFICATE_MISMATCH", 67: "KRB_AP_ERR_NO_TGT", 68: "KDC_ERR_WRONG_REALM",
	69: "KRB_AP_ERR_USER_TO_USER_REQUIRED", 70: "KDC_ERR_CANT_VERIFY_CERTIFICATE",
	71: "KDC_ERR_INVALID_CERTIFICATE", 72: "KDC_ERR_REVOKED_CERTIFICATE",
	73: "KDC_ERR_REVOCATION_STATUS_UNKNOWN", 74: "KDC_ERR_REVOCATION_STATUS_UNAVAILABLE",
	75: "KDC_ERR_CLIENT_NAME_MISMATCH", 76: "KDC_ERR_KDC_NAME_MISMATCH",
}

// berHeader reads a BER tag and definite length at b; it returns the tag
// byte, the content and the rest, or ok false.
func berHeader(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	l := int(b[1])
	o := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 || 2+n > len(b) {
			return 0, nil, nil, false
		}
		l = 0
		for i := 0; i < n; i++ {
			l = l<<8 | int(b[2+i])
		}
		o += n
	}
	if l < 0 || o+l > len(b) {
		return 0, nil, nil, false
	}
	return tag, b[o : o+l], b[o+l:], true
}

// krb5Info writes the Info column of one Kerberos message; false when b is
// not one.
func krb5Info(c *ctx, b []byte) bool {
	if len(b) < 2 || b[0]&0xe0 != 0x60 {
		return false
	}
	app := b[0] & 0x1f
	if app == 30 { // KRB-ERROR: SEQUENCE of context-tagged fields; [6] error-code
		t := c.colSet("KRB5")
		st := t.Begin()
		t.Lit("KRB Error")
		if _, body, _, ok := berHeader(b); ok {
			if _, seq, _, ok := berHeader(body); ok {
				for len(seq) > 0 {
					tag, v, rest, ok := berHeader(seq)
					if !ok {
						break
					}
					if tag == 0xa6 {
						if _, iv, _, ok := berHeader(v); ok && len(iv) >= 1 && len(iv) <= 4 {
							code := 0
							for _, x := range iv {
								code = code<<8 | int(x)
							}
							t.Lit(": ")
							if code >= 0 && code < len(krb5Errors) && krb5Errors[code] != "" {
								t.Lit("KRB5" + krb5Errors[code])
							} else {
								t.Lit("Unknown (" + strconv.Itoa(code) + ")")
							}
						}
						break
					}
					seq = rest
				}
			}
		}
		t.End(span.Message, st)
		return true
	}
	name, ok := krb5Msgs[app]
	if !ok {
		return false
	}
	t := c.colSet("KRB5")
	t.Field(span.Message, name)
	return true
}

func krb5UDP(c *ctx, u *udpDatagram) bool { return krb5Info(c, u.payload) }

// Over TCP each message is preceded by a 4-byte record mark.
func krb5TCPLen(b []byte) int {
	n := binary.BigEndian.Uint32(b) & 0x7fffffff
	if n > maxPending {
		return -1
	}
	return 4 + int(n)
}

func krb5TCP(s *tcpSegment, pdu []byte) {
	if krb5Info(s.c, pdu[4:]) {
		s.done()
	}
}
