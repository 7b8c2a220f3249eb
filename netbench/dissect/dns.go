package dissect

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders DNS over UDP and TCP, Multicast DNS and LLMNR as
// tshark's packet-dns.c does: "Standard query 0x1234 A example.com",
// "Standard query response 0x1234 A example.com CNAME x.example.com A
// 192.0.2.1", with the rcode, MDNS's "QM"/"QU" question and cache-flush
// notes, and the exception notes tshark appends when a message runs past
// the captured bytes ("[Packet size limited during capture]") or past its
// own end ("[Malformed Packet]").

// The flavours of the DNS dissector.
const (
	dnsPlain = iota
	dnsMDNS
	dnsLLMNR
)

var dnsProtoNames = [...]string{dnsPlain: "DNS", dnsMDNS: "MDNS", dnsLLMNR: "LLMNR"}

type dnsUDPApp struct{ kind int }

type dnsTCPApp struct{}

func init() {
	registerUDP(&dnsUDPApp{dnsPlain}, 53)
	registerUDP(&dnsUDPApp{dnsMDNS}, 5353)
	registerUDP(&dnsUDPApp{dnsLLMNR}, 5355)
	registerTCP(dnsTCPApp{}, 53, 5353)
	// dnsUDPHeuristic is registered in quic.go, after QUIC's and GQUIC's.
}

func (a *dnsUDPApp) dissect(c *ctx, u *udpDatagram) bool {
	c.dnsMessage(u.payload, a.kind, c.truncated)
	return true
}

// dnsUDPHeuristic is tshark's dns_udp heuristic (dissect_dns_heur): a
// standard query with one question and no answers, or a response with at
// most one question and few records.
func dnsUDPHeuristic(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) <= 12 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	if flags&0x7800 != 0 {
		return false
	}
	quest := binary.BigEndian.Uint16(b[4:])
	ans := binary.BigEndian.Uint16(b[6:])
	auth := binary.BigEndian.Uint16(b[8:])
	add := binary.BigEndian.Uint16(b[10:])
	if flags&0x8000 == 0 {
		if quest != 1 || ans != 0 || auth != 0 {
			return false
		}
	} else if quest > 1 || ans > 100 || auth > 10 {
		return false
	}
	if add > 10 {
		return false
	}
	c.dnsMessage(b, dnsPlain, c.truncated)
	return true
}

// dissect takes DNS messages over TCP, each behind a 2-byte length.
func (dnsTCPApp) dissect(s *tcpSegment, data []byte) int {
	off := 0
	for len(data)-off >= 2 {
		n := int(binary.BigEndian.Uint16(data[off:]))
		if len(data)-off < 2+n {
			break
		}
		// Each message clears the Info column: a segment carrying several
		// shows the last one, as tshark does.
		s.c.dnsMessage(data[off+2:off+2+n], dnsPlain, false)
		s.done()
		off += 2 + n
	}
	return off
}

// dnsErr is the exception a read past the end of the message raises.
type dnsErr uint8

const (
	dnsErrTruncated dnsErr = iota + 1 // past the captured bytes (BoundsError)
	dnsErrMalformed                   // past the reported length (ReportedBoundsError)
)

// dnsReader reads a DNS message the way tvb accessors do: reading past the
// end panics with the exception tshark would throw.
type dnsReader struct {
	b         []byte
	truncated bool // the capture cut the message short
}

func (r *dnsReader) fail() {
	if r.truncated {
		panic(dnsErrTruncated)
	}
	panic(dnsErrMalformed)
}

func (r *dnsReader) u8(off int) byte {
	if off < 0 || off >= len(r.b) {
		r.fail()
	}
	return r.b[off]
}

func (r *dnsReader) u16(off int) uint16 {
	if off < 0 || off+2 > len(r.b) {
		r.fail()
	}
	return binary.BigEndian.Uint16(r.b[off:])
}

func (r *dnsReader) need(off, n int) []byte {
	if off < 0 || n < 0 || off+n > len(r.b) {
		r.fail()
	}
	return r.b[off : off+n]
}

// dnsMaxName is MAX_DNAME_LEN.
const dnsMaxName = 255

// name expands the domain name at off (expand_dns_name + get_dns_name): it
// returns the name's bytes as tshark builds them and the bytes the name
// takes at off. buf is scratch storage the name is built in.
func (r *dnsReader) name(off int, buf []byte) (name []byte, used int) {
	start := off
	np := buf[:0]
	length := -1
	pointers := 0
	maxname := dnsMaxName
	first := true
	for {
		cl := int(r.u8(off))
		off++
		if cl == 0 {
			break
		}
		switch cl & 0xc0 {
		case 0x00:
			if !first {
				if maxname > 0 {
					np = append(np, '.')
					maxname--
				}
			} else {
				maxname--
			}
			first = false
			for ; cl > 0; cl-- {
				ch := r.u8(off)
				if maxname > 0 {
					np = append(np, ch)
					maxname--
				}
				off++
			}
		case 0x40, 0x80:
			// Extended labels (RFC 2673) are malformed to tshark 4.0.
			panic(dnsErrMalformed)
		case 0xc0:
			ind := (cl&0x3f)<<8 | int(r.u8(off))
			off++
			pointers++
			if length < 0 {
				length = off - start
			}
			if ind == off+2 || pointers > dnsMaxName {
				return dnsPointerLoop, length
			}
			off = ind
		}
	}
	if maxname <= 0 {
		np = append(np[:0], "<Name too long>"...)
	}
	if length < 0 {
		length = off - start
	}
	// get_dns_name
	if len(np) == 0 && length <= 2 {
		return dnsRoot, length
	}
	if length < 2 || (length > 2 && len(np) == 0) {
		panic(dnsErrMalformed)
	}
	return np, length
}

const hexDigits = "0123456789abcdef"

// The names get_dns_name substitutes.
var (
	dnsRoot         = []byte("<Root>")
	dnsPointerLoop  = []byte("<Name contains a pointer that loops>")
	dnsUnknownLabel = []byte("<Unknown extended label>")
)

// dnsState is the scratch a message's rendering needs.
type dnsState struct {
	r      dnsReader
	t      *span.Text
	mdns   bool
	nbuf   [dnsMaxName + 64]byte
	nbuf2  [dnsMaxName + 64]byte
	fmtbuf []byte
}

// dnsMessage renders one DNS message into the Info column (dissect_dns_common).
func (c *ctx) dnsMessage(b []byte, kind int, truncated bool) {
	t := c.colSet(dnsProtoNames[kind])
	st := dnsState{r: dnsReader{b: b, truncated: truncated}, t: t, mdns: kind == dnsMDNS}
	start := t.Begin()
	defer func() {
		if e := recover(); e != nil {
			de, ok := e.(dnsErr)
			if !ok {
				panic(e)
			}
			t.End(span.Message, start)
			if de == dnsErrTruncated {
				t.Lit("[Packet size limited during capture]")
			} else {
				t.Lit("[Malformed Packet]")
			}
		}
	}()
	st.message()
	t.End(span.Message, start)
}

var dnsOpcodes = [...]string{0: "Standard query", 1: "Inverse query", 2: "Server status request",
	4: "Zone change notification", 5: "Dynamic update", 6: "DNS Stateful operations (DSO)"}

var dnsRcodes = [...]string{"No error", "Format error", "Server failure", "No such name",
	"Not implemented", "Refused", "Name exists", "RRset exists", "RRset does not exist",
	"Not authoritative", "Name out of zone", "DSO-Type not implemented", "", "", "", "",
	"Bad OPT Version or TSIG Signature Failure", "Key not recognized",
	"Signature out of time window", "Bad TKEY Mode", "Duplicate key name",
	"Algorithm not supported", "Bad Truncation", "Bad/missing Server Cookie"}

func (st *dnsState) message() {
	r, t := &st.r, st.t
	id := r.u16(0)
	flags := r.u16(2)
	opcode := int(flags>>11) & 0xf
	rcode := int(flags & 0xf)
	if opcode < len(dnsOpcodes) && dnsOpcodes[opcode] != "" {
		t.Lit(dnsOpcodes[opcode])
	} else {
		t.Lit("Unknown operation (" + strconv.Itoa(opcode) + ")")
	}
	if flags&0x8000 != 0 {
		t.Lit(" response")
	}
	t.Lit(" 0x")
	t.B = appendHex16(t.B, id)
	if flags&0x8000 != 0 && rcode != 0 {
		t.Lit(" ")
		if rcode < len(dnsRcodes) && dnsRcodes[rcode] != "" {
			t.Lit(dnsRcodes[rcode])
		} else {
			t.Lit("Unknown error (" + strconv.Itoa(rcode) + ")")
		}
	}
	quest := int(r.u16(4))
	ans := int(r.u16(6))
	auth := int(r.u16(8))
	add := int(r.u16(10))
	off := 12
	for i := 0; i < quest; i++ {
		off += st.query(off)
	}
	for i := 0; i < ans+auth+add; i++ {
		off += st.answer(off)
	}
}

func appendHex16(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&15], hexDigits[v>>4&15], hexDigits[v&15])
}

// nameTypeClass is get_dns_name_type_class.
func (st *dnsState) nameTypeClass(off int) (name []byte, used int, typ, class uint16) {
	name, used = st.r.name(off, st.nbuf[:0])
	typ = st.r.u16(off + used)
	class = st.r.u16(off + used + 2)
	return name, used + 4, typ, class
}

func (st *dnsState) query(off int) int {
	name, used, typ, class := st.nameTypeClass(off)
	t := st.t
	t.Lit(" ")
	t.Lit(dnsTypeName(typ))
	t.Lit(" ")
	st.formatText(name)
	if st.mdns {
		if class&0x8000 != 0 {
			t.Lit(", \"QU\" question")
		} else {
			t.Lit(", \"QM\" question")
		}
	}
	return used
}

// formatText appends name as format_text shows it.
func (st *dnsState) formatText(b []byte) { st.t.B = appendFormatText(st.t.B, b) }

// rawName appends name as "%s" prints a C string: up to its first NUL.
func (st *dnsState) rawName(b []byte) {
	for i, ch := range b {
		if ch == 0 {
			b = b[:i]
			break
		}
	}
	st.t.LitBytes(b)
}

// DNS record types used below.
const (
	dnsTA     = 1
	dnsTNS    = 2
	dnsTCNAME = 5
	dnsTSOA   = 6
	dnsTNULL  = 10
	dnsTWKS   = 11
	dnsTPTR   = 12
	dnsTHINFO = 13
	dnsTMX    = 15
	dnsTAAAA  = 28
	dnsTNXT   = 30
	dnsTSRV   = 33
	dnsTNAPTR = 35
	dnsTKX    = 36
	dnsTA6    = 38
	dnsTDNAME = 39
	dnsTNSEC  = 47
	dnsTWINSR = 65282
)

func (st *dnsState) answer(off int) int {
	r, t := &st.r, st.t
	name, used, typ, class := st.nameTypeClass(off)
	dataLen := int(r.u16(off + used + 4))
	cur := off + used + 6
	t.Lit(" ")
	t.Lit(dnsTypeName(typ))
	if st.mdns && class&0x8000 != 0 {
		t.Lit(", cache flush")
	}
	if dataLen == 0 {
		return used + 6
	}
	switch typ {
	case dnsTA:
		a := r.need(cur, 4)
		t.Lit(" ")
		t.B = netip.AddrFrom4([4]byte(a)).AppendTo(t.B)
	case dnsTNS, dnsTCNAME, dnsTSOA, dnsTPTR, dnsTNXT, dnsTDNAME, dnsTNSEC:
		n, _ := r.name(cur, st.nbuf2[:0])
		t.Lit(" ")
		st.formatText(n)
	case 3, 4, 7, 8, 9, 14, 17, 18, 19, 20, 21, 22, 23, 26, 27, 42, 49, 51, 52, 55:
		// MD, MF, MB, MG, MR, MINFO, RP, AFSDB, X25, ISDN, RT, NSAP, NSAP-PTR,
		// PX, GPOS, APL, DHCID, NSEC3PARAM, TLSA, HIP: the owner name.
		t.Lit(" ")
		st.rawName(name)
	case dnsTNULL:
		t.Lit(" ")
		st.rawName(name)
	case dnsTWKS:
		a := r.need(cur, 4)
		t.Lit(" ")
		t.B = netip.AddrFrom4([4]byte(a)).AppendTo(t.B)
	case dnsTHINFO:
		cl := int(r.u8(cur))
		cpu := r.need(cur+1, cl)
		ol := int(r.u8(cur + 1 + cl))
		os := r.need(cur+2+cl, ol)
		t.Lit(" ")
		st.rawName(cpu)
		t.Lit(" ")
		st.rawName(os)
	case dnsTMX, dnsTKX:
		pref := r.u16(cur)
		n, _ := r.name(cur+2, st.nbuf2[:0])
		t.Lit(" ")
		t.B = strconv.AppendUint(t.B, uint64(pref), 10)
		t.Lit(" ")
		st.formatText(n)
	case dnsTAAAA:
		a := r.need(cur, 16)
		t.Lit(" ")
		t.B = netip.AddrFrom16([16]byte(a)).AppendTo(t.B)
	case dnsTSRV:
		prio, weight, port := r.u16(cur), r.u16(cur+2), r.u16(cur+4)
		n, _ := r.name(cur+6, st.nbuf2[:0])
		t.Lit(" ")
		t.B = strconv.AppendUint(t.B, uint64(prio), 10)
		t.Lit(" ")
		t.B = strconv.AppendUint(t.B, uint64(weight), 10)
		t.Lit(" ")
		t.B = strconv.AppendUint(t.B, uint64(port), 10)
		t.Lit(" ")
		st.formatText(n)
	case dnsTNAPTR:
		o := cur
		order, pref := r.u16(o), r.u16(o+2)
		o += 4
		fl := int(r.u8(o))
		flags := r.need(o+1, fl)
		o += 1 + fl
		o += 1 + int(r.u8(o))
		o += 1 + int(r.u8(o))
		r.name(o, st.nbuf2[:0])
		t.Lit(" ")
		t.B = strconv.AppendUint(t.B, uint64(order), 10)
		t.Lit(" ")
		t.B = strconv.AppendUint(t.B, uint64(pref), 10)
		t.Lit(" ")
		st.rawName(flags)
	case dnsTA6:
		pre := int(r.u8(cur))
		o := cur + 1
		sufLen := 128 - pre
		cnt := 0
		if sufLen > 0 {
			cnt = (sufLen-1)/8 + 1
		}
		var suf [16]byte
		for i := 16 - cnt; i < 16; i++ {
			if i >= 0 {
				suf[i] = r.u8(o)
			}
			o++
		}
		var pn []byte
		if pre > 0 {
			pn, _ = r.name(o, st.nbuf2[:0])
		}
		t.Lit(" ")
		t.B = strconv.AppendInt(t.B, int64(pre), 10)
		t.Lit(" ")
		t.B = netip.AddrFrom16(suf).AppendTo(t.B)
		t.Lit(" ")
		st.formatText(pn)
	case dnsTWINSR:
		n, _ := r.name(cur+12, st.nbuf2[:0])
		t.Lit(" ")
		st.formatText(n)
	}
	return used + 6 + dataLen
}

var dnsTypeNames = [...]string{0: "Unused", 1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA",
	7: "MB", 8: "MG", 9: "MR", 10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX",
	16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR",
	24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID",
	32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME",
	40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC",
	48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 55: "HIP", 57: "RKEY",
	58: "TALINK", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB",
	65: "HTTPS", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC", 104: "NID",
	105: "L32", 106: "L64", 107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG",
	251: "IXFR", 252: "AXFR", 253: "MAILA", 254: "MAILB", 255: "ANY"}

// dnsTypeName is val_to_str_ext(type, dns_types_vals, "Unknown (%d)").
func dnsTypeName(t uint16) string {
	if int(t) < len(dnsTypeNames) && dnsTypeNames[t] != "" {
		return dnsTypeNames[t]
	}
	switch t {
	case 256:
		return "URI"
	case 257:
		return "CAA"
	case 32768:
		return "TA"
	case 32769:
		return "DLV"
	case 65281:
		return "WINS"
	case 65282:
		return "WINS-R"
	case 65422:
		return "XPF"
	}
	return "Unknown (" + strconv.Itoa(int(t)) + ")"
}

// appendFormatText appends s as epan's format_text shows it: printable
// characters as themselves, other ASCII as C escapes, invalid UTF-8 as
// U+FFFD and other non-printable characters as \uXXXX.
func appendFormatText(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] < 0x7f {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if c < 0x80 {
			dst = appendCEscape(dst, c)
			i++
			continue
		}
		// A multi-byte sequence, decoded as format_text does (permissively).
		var n int
		var uc rune
		switch {
		case c&0xe0 == 0xc0:
			n, uc = 1, rune(c&0x1f)
		case c&0xf0 == 0xe0:
			n, uc = 2, rune(c&0x0f)
		case c&0xf8 == 0xf0:
			n, uc = 3, rune(c&0x07)
		case c&0xfc == 0xf8:
			n, uc = 4, rune(c&0x03)
		case c&0xfe == 0xfc:
			n, uc = 5, rune(c&0x01)
		default:
			n = -1
		}
		i++
		if n < 0 {
			uc = utf8.RuneError
		} else {
			for k := 0; k < n; k++ {
				if i >= len(s) || s[i]&0xc0 != 0x80 {
					uc = utf8.RuneError
					break
				}
				uc = uc<<6 | rune(s[i]&0x3f)
				i++
			}
			if uc > unicode.MaxRune || (uc >= 0xd800 && uc <= 0xdfff) {
				uc = utf8.RuneError
			}
		}
		switch {
		case glibPrintable(uc):
			dst = utf8.AppendRune(dst, uc)
		case uc < 0x80:
			dst = appendCEscape(dst, byte(uc))
		case uc <= 0xffff:
			dst = append(dst, '\\', 'u', hexDigits[uc>>12&15], hexDigits[uc>>8&15], hexDigits[uc>>4&15], hexDigits[uc&15])
		default:
			dst = append(dst, '\\', 'U')
			for sh := 28; sh >= 0; sh -= 4 {
				dst = append(dst, hexDigits[uc>>uint(sh)&15])
			}
		}
	}
	return dst
}

func appendCEscape(dst []byte, c byte) []byte {
	switch c {
	case '\a':
		return append(dst, '\\', 'a')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\v':
		return append(dst, '\\', 'v')
	}
	return append(dst, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
}

// glibPrintable approximates g_unichar_isprint: everything but control,
// format, surrogate and unassigned code points.
func glibPrintable(r rune) bool {
	if r < 0x20 || (r >= 0x7f && r < 0xa0) {
		return false
	}
	if r == utf8.RuneError || (r < 0x300 && r != 0xad) {
		return true
	}
	if unicode.In(r, unicode.Cf, unicode.Cs) {
		return false
	}
	if r >= 0xe000 && r <= 0xf8ff || r >= 0xf0000 {
		return r <= 0x10fffd && r&0xfffe != 0xfffe
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs, unicode.Zl, unicode.Zp)
}

// NetBIOS Name Service (packet-nbns.c): a DNS-shaped message whose names
// are NetBIOS names in first-level encoding.

type nbnsApp struct{}

func init() { registerUDP(nbnsApp{}, 137) }

var nbnsOpcodes = [16]string{0: "Name query", 5: "Registration", 6: "Release",
	7: "Wait for acknowledgment", 8: "Refresh", 9: "Refresh (alternate opcode)",
	15: "Multi-homed registration"}

var nbnsRcodes = [8]string{1: "Format error", 2: "Server failure", 3: "Requested name does not exist",
	4: "Request is not implemented", 5: "Request was refused", 6: "Active error",
	7: "Name in conflict"}

func (nbnsApp) dissect(c *ctx, u *udpDatagram) (ok bool) {
	ok = true // also when recovering from an exception below
	t := c.colSet("NBNS")
	st := dnsState{r: dnsReader{b: u.payload, truncated: c.truncated}, t: t}
	start := t.Begin()
	defer func() {
		if e := recover(); e != nil {
			de, ok := e.(dnsErr)
			if !ok {
				panic(e)
			}
			t.End(span.Message, start)
			if de == dnsErrTruncated {
				t.Lit("[Packet size limited during capture]")
			} else {
				t.Lit("[Malformed Packet]")
			}
		}
	}()
	st.nbns()
	t.End(span.Message, start)
	return true
}

func (st *dnsState) nbns() {
	r, t := &st.r, st.t
	flags := r.u16(2)
	opcode := int(flags>>11) & 0xf
	if nbnsOpcodes[opcode] != "" {
		t.Lit(nbnsOpcodes[opcode])
	} else {
		t.Lit("Unknown operation")
	}
	resp := flags&0x8000 != 0
	if resp {
		t.Lit(" response")
		if rc := int(flags & 0xf); rc != 0 {
			t.Lit(", ")
			if rc < len(nbnsRcodes) {
				t.Lit(nbnsRcodes[rc])
			} else {
				t.Lit("Unknown error")
			}
		}
	}
	quest := int(r.u16(4))
	ans := int(r.u16(6))
	off := 12
	// The summary shows the questions of a request and the answers of a
	// response.
	for i := 0; i < quest; i++ {
		name, used := r.name(off, st.nbuf[:0])
		typ := r.u16(off + used)
		r.u16(off + used + 2)
		if !resp {
			t.Lit(" ")
			t.Lit(nbnsTypeName(typ))
			t.Lit(" ")
			t.B = appendNetBIOSName(t.B, name)
		}
		off += used + 4
	}
	if !resp {
		return
	}
	for i := 0; i < ans; i++ {
		_, used := r.name(off, st.nbuf[:0])
		typ := r.u16(off + used)
		dl := int(r.u16(off + used + 8))
		cur := off + used + 10
		switch typ {
		case 32: // NB: the first address
			a := r.need(cur+2, 4)
			t.Lit(" NB ")
			t.B = netip.AddrFrom4([4]byte(a)).AppendTo(t.B)
		case 33: // NBSTAT: the names, then the adapter statistics
			t.Lit(" NBSTAT")
			n := int(r.u8(cur))
			r.need(cur+1, n*18+6+36)
		default:
			t.Lit(" ")
			t.Lit(nbnsTypeName(typ))
		}
		off = cur + dl
	}
}

func nbnsTypeName(t uint16) string {
	switch t {
	case 32:
		return "NB"
	case 33:
		return "NBSTAT"
	}
	return "unknown"
}

// appendNetBIOSName decodes a first-level encoded NetBIOS name as
// get_nbns_name and process_netbios_name show it: "NAME<20>".
func appendNetBIOSName(dst, enc []byte) []byte {
	var nb [16]byte
	n, i := 0, 0
	for i < len(enc) && enc[i] != '.' {
		c1 := enc[i]
		if c1 < 'A' || c1 > 'Z' {
			return append(dst, "Illegal NetBIOS name (1st character not between A and Z in first-level encoding)"...)
		}
		if i+1 >= len(enc) || enc[i+1] == '.' {
			return append(dst, "Illegal NetBIOS name (odd number of bytes)"...)
		}
		c2 := enc[i+1]
		if c2 < 'A' || c2 > 'Z' {
			return append(dst, "Illegal NetBIOS name (2nd character not between A and Z in first-level encoding)"...)
		}
		if n < 16 {
			nb[n] = (c1-'A')<<4 | (c2 - 'A')
		}
		n++
		i += 2
	}
	if n != 16 {
		return append(append(append(dst, "Illegal NetBIOS name ("...), strconv.Itoa(n)...), " bytes long)"...)
	}
	start := len(dst)
	for _, ch := range nb[:15] {
		if ch >= ' ' && ch <= '~' {
			dst = append(dst, ch)
		} else {
			dst = append(dst, '<', hexDigits[ch>>4], hexDigits[ch&15], '>')
		}
	}
	for len(dst) > start && dst[len(dst)-1] == ' ' {
		dst = dst[:len(dst)-1]
	}
	dst = append(dst, '<', hexDigits[nb[15]>>4], hexDigits[nb[15]&15], '>')
	if i < len(enc) {
		dst = append(dst, enc[i:]...)
	}
	return dst
}
