package dissect

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/span"
)

// ipv4Frame wraps an IP payload in a raw IPv4 frame.
func ipv4Frame(proto byte, src, dst string, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	b[8] = 64
	b[9] = proto
	s := netip.MustParseAddr(src).As4()
	d := netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, payload...)
}

// udpFrame builds a raw IPv4/UDP frame.
func udpFrame(src, dst string, sp, dp uint16, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sp)
	binary.BigEndian.PutUint16(u[2:], dp)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	return ipv4Frame(17, src, dst, append(u, payload...))
}

// tcpFrame builds a raw IPv4/TCP frame with PSH|ACK.
func tcpFrame(src, dst string, sp, dp uint16, seq uint32, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], 1)
	h[12] = 5 << 4
	h[13] = thPSH | thACK
	binary.BigEndian.PutUint16(h[14:], 65535)
	return ipv4Frame(6, src, dst, append(h, payload...))
}

// render dissects frames in order and returns the Protocol and Info of each.
func render(t *testing.T, frames ...[]byte) (protos, infos []string) {
	t.Helper()
	d := New(Config{})
	var p Packet
	for i, b := range frames {
		f := capture.Frame{Index: i + 1, OrigLen: len(b), Data: b, LinkType: capture.LinkRaw}
		d.Dissect(&f, &p)
		protos = append(protos, p.Protocol)
		infos = append(infos, p.Info.String())
		checkSpans(t, &p.Info)
	}
	return protos, infos
}

// checkSpans verifies that the spans of an Info column lie inside it, in order.
func checkSpans(t *testing.T, x *span.Text) {
	t.Helper()
	last := int32(0)
	for _, s := range x.Spans {
		if s.Start < last || s.End < s.Start || int(s.End) > len(x.B) {
			t.Fatalf("bad span %+v in %q", s, x.B)
		}
		last = s.End
	}
}

// dnsName encodes a domain name without compression.
func dnsName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func dnsHeader(id, flags uint16, qd, an, ns, ar int) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], uint16(qd))
	binary.BigEndian.PutUint16(b[6:], uint16(an))
	binary.BigEndian.PutUint16(b[8:], uint16(ns))
	binary.BigEndian.PutUint16(b[10:], uint16(ar))
	return b
}

func u16b(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// rr builds a resource record with the given (already encoded) owner name.
func rr(name []byte, typ, class uint16, data []byte) []byte {
	b := append([]byte{}, name...)
	b = append(b, u16b(typ)...)
	b = append(b, u16b(class)...)
	b = append(b, 0, 0, 0x0e, 0x10)
	b = append(b, u16b(uint16(len(data)))...)
	return append(b, data...)
}

func question(name string, typ, class uint16) []byte {
	return append(append(dnsName(name), u16b(typ)...), u16b(class)...)
}

func TestDNSUDP(t *testing.T) {
	query := append(dnsHeader(0x0023, 0x0100, 1, 0, 0, 0), question("pagead2.googlesyndication.com", 1, 1)...)
	resp := append(dnsHeader(0x0023, 0x8180, 1, 2, 0, 0), question("pagead2.googlesyndication.com", 1, 1)...)
	cnameAt := len(resp) + 12 // owner pointer (2) + type/class/ttl/len (10)
	resp = append(resp, rr([]byte{0xc0, 0x0c}, 5, 1, dnsName("pagead2.google.com"))...)
	resp = append(resp, rr([]byte{0xc0, byte(cnameAt)}, 1, 1, []byte{216, 239, 59, 104})...)
	nx := append(dnsHeader(0x1818, 0x8183, 1, 0, 1, 0), question("nope.example", 28, 1)...)
	nx = append(nx, rr([]byte{0}, 6, 1, append(dnsName("ns.example"), make([]byte, 28)...))...)
	refused := append(dnsHeader(0x0002, 0x8185, 1, 0, 0, 0), question("a.b", 255, 1)...)
	edns := append(dnsHeader(0x088c, 0x0100, 1, 0, 0, 1), question("star.c10r.facebook.com", 1, 1)...)
	edns = append(edns, rr([]byte{0}, 41, 512, nil)...)
	srv := append(dnsHeader(7, 0x8400, 1, 1, 0, 0), question("_ldap._tcp.x", 33, 1)...)
	srv = append(srv, rr([]byte{0xc0, 0x0c}, 33, 1, append([]byte{0, 0, 0, 100, 1, 0x85}, dnsName("dc.x")...))...)
	mx := append(dnsHeader(8, 0x8180, 1, 1, 0, 0), question("x.org", 15, 1)...)
	mx = append(mx, rr([]byte{0xc0, 0x0c}, 15, 1, append([]byte{0, 10}, dnsName("mail.x.org")...))...)
	aaaa := append(dnsHeader(9, 0x8180, 1, 1, 0, 0), question("v6.x", 28, 1)...)
	aaaa = append(aaaa, rr([]byte{0xc0, 0x0c}, 28, 1, netip.MustParseAddr("2001:db8::1").AsSlice())...)
	// A label with a byte that is not UTF-8, and a NULL record that shows
	// the raw owner name.
	odd := "J\xe4g"
	null := append(dnsHeader(0x6d3d, 0x8400, 1, 1, 0, 0), question(odd+".sea", 10, 1)...)
	null = append(null, rr([]byte{0xc0, 0x0c}, 10, 1, []byte{1, 2, 3})...)
	bad := append(dnsHeader(1, 0x0100, 1, 0, 0, 0), 0x80, 'x', 0, 0, 1, 0, 1)

	tests := []struct {
		payload []byte
		want    string
	}{
		{query, "Standard query 0x0023 A pagead2.googlesyndication.com"},
		{resp, "Standard query response 0x0023 A pagead2.googlesyndication.com CNAME pagead2.google.com A 216.239.59.104"},
		{nx, "Standard query response 0x1818 No such name AAAA nope.example SOA ns.example"},
		{refused, "Standard query response 0x0002 Refused ANY a.b"},
		{edns, "Standard query 0x088c A star.c10r.facebook.com OPT"},
		{srv, "Standard query response 0x0007 SRV _ldap._tcp.x SRV 0 100 389 dc.x"},
		{mx, "Standard query response 0x0008 MX x.org MX 10 mail.x.org"},
		{aaaa, "Standard query response 0x0009 AAAA v6.x AAAA 2001:db8::1"},
		{null, "Standard query response 0x6d3d NULL J\uFFFDg.sea NULL " + odd + ".sea"},
		{bad, "Standard query 0x0001[Malformed Packet]"},
		{dnsHeader(5, 0x2800, 0, 0, 0, 0), "Dynamic update 0x0005"},
	}
	for _, tc := range tests {
		protos, infos := render(t, udpFrame("10.0.0.1", "10.0.0.2", 40000, 53, tc.payload))
		if protos[0] != "DNS" || infos[0] != tc.want {
			t.Errorf("got %s %q\nwant DNS %q", protos[0], infos[0], tc.want)
		}
	}
}

func TestDNSTruncatedCapture(t *testing.T) {
	resp := append(dnsHeader(0x870b, 0x8180, 1, 1, 0, 0), question("www.x.com", 1, 1)...)
	resp = append(resp, rr([]byte{0xc0, 0x0c}, 1, 1, []byte{1, 2, 3, 4})...)
	b := udpFrame("10.0.0.2", "10.0.0.1", 53, 40000, resp)
	cut := b[:len(b)-2] // the A record's address is cut short
	d := New(Config{})
	var p Packet
	f := capture.Frame{Index: 1, OrigLen: len(b), Data: cut, LinkType: capture.LinkRaw}
	d.Dissect(&f, &p)
	want := "Standard query response 0x870b A www.x.com A[Packet size limited during capture]"
	if p.Info.String() != want {
		t.Errorf("got %q, want %q", p.Info.String(), want)
	}
}

func TestMDNSAndLLMNR(t *testing.T) {
	q := append(dnsHeader(0, 0, 2, 0, 0, 0), question("_homekit._tcp.local", 12, 0x8001)...)
	q = append(q, question("puppet.local", 1, 1)...)
	r := append(dnsHeader(0, 0x8400, 0, 1, 0, 0), rr(dnsName("host.local"), 1, 0x8001, []byte{10, 0, 0, 1})...)
	ll := append(dnsHeader(0x4620, 0, 1, 0, 0, 0), question("BRW1", 1, 1)...)
	protos, infos := render(t,
		udpFrame("10.0.0.1", "224.0.0.251", 5353, 5353, q),
		udpFrame("10.0.0.1", "224.0.0.251", 5353, 5353, r),
		udpFrame("10.0.0.1", "224.0.0.252", 50000, 5355, ll))
	want := []string{
		`Standard query 0x0000 PTR _homekit._tcp.local, "QU" question A puppet.local, "QM" question`,
		"Standard query response 0x0000 A, cache flush 10.0.0.1",
		"Standard query 0x4620 A BRW1",
	}
	wantProto := []string{"MDNS", "MDNS", "LLMNR"}
	for i := range want {
		if protos[i] != wantProto[i] || infos[i] != want[i] {
			t.Errorf("%d: got %s %q, want %s %q", i, protos[i], infos[i], wantProto[i], want[i])
		}
	}
}

func TestDNSTCP(t *testing.T) {
	msg := append(dnsHeader(0x0007, 0x0000, 1, 0, 0, 0), question("contoso.local", 252, 1)...)
	pdu := append(u16b(uint16(len(msg))), msg...)
	// The length prefix alone, then the message.
	protos, infos := render(t,
		tcpFrame("10.0.0.1", "10.0.0.2", 1108, 53, 1000, pdu[:2]),
		tcpFrame("10.0.0.1", "10.0.0.2", 1108, 53, 1002, pdu[2:]))
	if protos[0] != "TCP" || !strings.HasSuffix(infos[0], "[TCP segment of a reassembled PDU]") {
		t.Errorf("first segment: %s %q", protos[0], infos[0])
	}
	if protos[1] != "DNS" || infos[1] != "Standard query 0x0007 AXFR contoso.local" {
		t.Errorf("second segment: %s %q", protos[1], infos[1])
	}

	// Two messages and the start of a third in one segment, the rest of the
	// third in the next: each frame shows its last complete message.
	m := func(id uint16, n string) []byte {
		b := append(dnsHeader(id, 0x0100, 1, 0, 0, 0), question(n, 1, 1)...)
		return append(u16b(uint16(len(b))), b...)
	}
	seg1 := append(append(m(0x1111, "a.example"), m(0x2222, "b.example")...), m(0x3333, "c.example")[:7]...)
	seg2 := m(0x3333, "c.example")[7:]
	protos, infos = render(t,
		tcpFrame("10.0.0.1", "10.0.0.2", 40000, 53, 1000, seg1),
		tcpFrame("10.0.0.1", "10.0.0.2", 40000, 53, 1000+uint32(len(seg1)), seg2))
	if infos[0] != "Standard query 0x2222 A b.example" || infos[1] != "Standard query 0x3333 A c.example" {
		t.Errorf("several messages per segment: %q", infos)
	}
}

func TestDNSHeuristic(t *testing.T) {
	q := append(dnsHeader(0x7f47, 0x0100, 1, 0, 0, 1), question("2.dnscrypt-cert.x", 16, 1)...)
	q = append(q, rr([]byte{0}, 0, 0, []byte{1})...)
	protos, infos := render(t, udpFrame("10.0.0.1", "10.0.0.2", 38388, 443, q))
	if protos[0] != "DNS" || infos[0] != "Standard query 0x7f47 TXT 2.dnscrypt-cert.x Unused" {
		t.Errorf("got %s %q", protos[0], infos[0])
	}
	// Not a query shape: left to UDP.
	protos, _ = render(t, udpFrame("10.0.0.1", "10.0.0.2", 38388, 443, dnsHeader(1, 0x0100, 2, 1, 0, 0)))
	if protos[0] != "UDP" {
		t.Errorf("heuristic took a non-DNS payload: %s", protos[0])
	}
}

func TestNBNS(t *testing.T) {
	enc := func(name string, suffix byte) []byte {
		var raw [16]byte
		copy(raw[:], name+strings.Repeat(" ", 15-len(name)))
		raw[15] = suffix
		b := []byte{32}
		for _, c := range raw {
			b = append(b, 'A'+c>>4, 'A'+c&15)
		}
		return append(b, 0)
	}
	q := append(dnsHeader(0x1234, 0x0110, 1, 0, 0, 0), enc("WORKGROUP", 0x1d)...)
	q = append(q, 0, 32, 0, 1)
	reg := append(dnsHeader(0x1235, 0x2910, 1, 0, 0, 1), enc("\x01\x02__MSBROWSE__\x02", 0x01)...)
	reg = append(reg, 0, 32, 0, 1)
	reg = append(reg, rr([]byte{0xc0, 0x0c}, 32, 1, []byte{0, 0, 10, 0, 0, 1})...)
	// A positive response shows its first address; a negative one whose
	// record is cut short is malformed (and still NBNS).
	pos := append(dnsHeader(0x1234, 0x8500, 0, 1, 0, 0), enc("HOST", 0)...)
	pos = append(pos, 0, 32, 0, 1, 0, 0, 1, 0, 0, 12, 0, 0, 10, 0, 0, 5, 0x60, 0, 192, 168, 1, 2)
	neg := append(dnsHeader(0x1234, 0x8503, 0, 1, 0, 0), enc("NOPE", 0)...)
	neg = append(neg, 0, 32, 0, 1, 0, 0, 0, 0, 0, 0)
	protos, infos := render(t,
		udpFrame("10.0.0.1", "10.0.0.255", 137, 137, q),
		udpFrame("10.0.0.1", "10.0.0.255", 137, 137, reg),
		udpFrame("10.0.0.2", "10.0.0.1", 137, 137, pos),
		udpFrame("10.0.0.2", "10.0.0.1", 137, 137, neg))
	want := []string{"Name query NB WORKGROUP<1d>", "Registration NB <01><02>__MSBROWSE__<02><01>",
		"Name query response NB 10.0.0.5", "Name query response, Requested name does not exist[Malformed Packet]"}
	for i := range want {
		if protos[i] != "NBNS" || infos[i] != want[i] {
			t.Errorf("%d: got %s %q, want %q", i, protos[i], infos[i], want[i])
		}
	}
}

func TestFormatText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{"a\tb\x01", `a\tb\001`},
		{"fl\xfbte", "fl\uFFFDte"},
		{"caf\xc3\xa9", "café"},
		{"\xe2\x80\x8b", `\u200b`}, // zero width space: a format character
		{"\xe4g", "\uFFFDg"},
	}
	for _, tc := range tests {
		if got := string(appendFormatText(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("format_text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDNSNameLimits(t *testing.T) {
	// A pointer loop and the root name.
	loop := append(dnsHeader(1, 0, 1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1)
	root := append(dnsHeader(2, 0, 1, 0, 0, 0), 0, 0, 2, 0, 1)
	_, infos := render(t,
		udpFrame("10.0.0.1", "10.0.0.2", 1, 53, loop),
		udpFrame("10.0.0.1", "10.0.0.2", 1, 53, root))
	if !strings.HasPrefix(infos[0], "Standard query 0x0001") {
		t.Errorf("pointer loop: %q", infos[0])
	}
	if infos[1] != "Standard query 0x0002 NS <Root>" {
		t.Errorf("root: %q", infos[1])
	}
}
