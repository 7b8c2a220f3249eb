package dissect

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/span"
)

// testFlow builds raw IPv4 frames of one TCP or UDP conversation between a
// client and a server and renders them with one Dissector.
type testFlow struct {
	t          *testing.T
	d          *Dissector
	n          int
	udp        bool
	cport      uint16
	sport      uint16
	seq        [2]uint32 // next sequence number per direction (0 client, 1 server)
	clientAddr [4]byte
	serverAddr [4]byte
}

func newTestFlow(t *testing.T, udp bool, cport, sport uint16) *testFlow {
	return &testFlow{t: t, d: New(Config{}), udp: udp, cport: cport, sport: sport,
		seq: [2]uint32{1000, 5000}, clientAddr: [4]byte{10, 0, 0, 1}, serverAddr: [4]byte{10, 0, 0, 2}}
}

// send renders one segment (or datagram) from the client (fromServer
// false) or the server carrying payload.
func (f *testFlow) send(fromServer bool, payload []byte) *Packet {
	dir := 0
	src, dst, sp, dp := f.clientAddr, f.serverAddr, f.cport, f.sport
	if fromServer {
		dir = 1
		src, dst, sp, dp = dst, src, dp, sp
	}
	var l4 []byte
	proto := byte(protoTCP)
	if f.udp {
		proto = protoUDP
		l4 = make([]byte, 8+len(payload))
		binary.BigEndian.PutUint16(l4[0:], sp)
		binary.BigEndian.PutUint16(l4[2:], dp)
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
		copy(l4[8:], payload)
	} else {
		l4 = make([]byte, 20+len(payload))
		binary.BigEndian.PutUint16(l4[0:], sp)
		binary.BigEndian.PutUint16(l4[2:], dp)
		binary.BigEndian.PutUint32(l4[4:], f.seq[dir])
		binary.BigEndian.PutUint32(l4[8:], f.seq[1-dir])
		l4[12] = 5 << 4
		l4[13] = thACK | thPSH
		binary.BigEndian.PutUint16(l4[14:], 8192)
		copy(l4[20:], payload)
		f.seq[dir] += uint32(len(payload))
	}
	ip := make([]byte, 20+len(l4))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	copy(ip[20:], l4)
	f.n++
	fr := capture.Frame{Index: f.n, Time: time.Unix(1700000000, int64(f.n)*int64(time.Millisecond)), OrigLen: len(ip), Data: ip, LinkType: capture.LinkRaw}
	p := new(Packet)
	f.d.Dissect(&fr, p)
	return p
}

// handshake sets up the TCP conversation with a three-way handshake.
func (f *testFlow) handshake() {
	for _, step := range []struct {
		server bool
		flags  uint16
	}{{false, thSYN}, {true, thSYN | thACK}, {false, thACK}} {
		dir := 0
		src, dst, sp, dp := f.clientAddr, f.serverAddr, f.cport, f.sport
		if step.server {
			dir = 1
			src, dst, sp, dp = dst, src, dp, sp
		}
		tcp := make([]byte, 20)
		binary.BigEndian.PutUint16(tcp[0:], sp)
		binary.BigEndian.PutUint16(tcp[2:], dp)
		seq := f.seq[dir]
		if step.flags&thSYN != 0 {
			seq--
		}
		binary.BigEndian.PutUint32(tcp[4:], seq)
		if step.flags&thACK != 0 {
			binary.BigEndian.PutUint32(tcp[8:], f.seq[1-dir])
		}
		tcp[12] = 5 << 4
		tcp[13] = byte(step.flags)
		binary.BigEndian.PutUint16(tcp[14:], 8192)
		ip := make([]byte, 40)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], 40)
		ip[8] = 64
		ip[9] = protoTCP
		copy(ip[12:], src[:])
		copy(ip[16:], dst[:])
		copy(ip[20:], tcp)
		f.n++
		fr := capture.Frame{Index: f.n, Time: time.Unix(1700000000, int64(f.n)*int64(time.Millisecond)), OrigLen: 40, Data: ip, LinkType: capture.LinkRaw}
		f.d.Dissect(&fr, new(Packet))
	}
}

// record builds a TLS record.
func record(ct byte, version uint16, body []byte) []byte {
	b := []byte{ct, byte(version >> 8), byte(version), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// hsMsg builds a handshake message.
func hsMsg(typ byte, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// clientHelloBody is a minimal ClientHello body with the given extensions.
func clientHelloBody(exts []byte) []byte {
	b := []byte{0x03, 0x03}
	b = append(b, make([]byte, 32)...) // random
	b = append(b, 0)                   // session id
	b = append(b, 0, 2, 0x13, 0x01)    // cipher suites
	b = append(b, 1, 0)                // compression
	b = append(b, byte(len(exts)>>8), byte(len(exts)))
	return append(b, exts...)
}

// serverHelloBody is a ServerHello body; v13 adds supported_versions TLS 1.3.
func serverHelloBody(random byte, v13 bool) []byte {
	b := []byte{0x03, 0x03}
	r := make([]byte, 32)
	for i := range r {
		r[i] = random
	}
	b = append(b, r...)
	b = append(b, 0)          // session id
	b = append(b, 0x13, 0x01) // cipher suite
	b = append(b, 0)          // compression
	var exts []byte
	if v13 {
		exts = []byte{0x00, 0x2b, 0x00, 0x02, 0x03, 0x04}
	}
	b = append(b, byte(len(exts)>>8), byte(len(exts)))
	return append(b, exts...)
}

// encrypted returns n bytes that look like ciphertext.
func encrypted(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0xd3 + i*29)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

type wantRow struct{ proto, info string }

func checkRow(t *testing.T, step string, p *Packet, w wantRow) {
	t.Helper()
	if p.Protocol != w.proto || p.Info.String() != w.info {
		t.Errorf("%s: got %q | %q, want %q | %q", step, p.Protocol, p.Info.String(), w.proto, w.info)
	}
}

func TestTLSRecords(t *testing.T) {
	ch := record(tlsHandshake, tls10Version, hsMsg(hsClientHello, clientHelloBody(nil)))
	sh13 := record(tlsHandshake, tls12Version, hsMsg(hsServerHello, serverHelloBody(7, true)))
	sh12 := record(tlsHandshake, tls12Version, hsMsg(hsServerHello, serverHelloBody(7, false)))
	ccs := record(tlsCCS, tls12Version, []byte{1})
	app := record(tlsAppData, tls12Version, make([]byte, 40))
	for i := range app[5:] {
		app[5+i] = byte(0x80 + i)
	}
	type step struct {
		server  bool
		payload []byte
		want    wantRow
	}
	cases := []struct {
		name  string
		port  uint16
		steps []step
	}{
		{"tls13 handshake", 443, []step{
			{false, ch, wantRow{"TLSv1", "Client Hello"}},
			{true, cat(sh13, ccs, app), wantRow{"TLSv1.3", "Server Hello, Change Cipher Spec, Application Data"}},
			{false, cat(ccs, app), wantRow{"TLSv1.3", "Change Cipher Spec, Application Data"}},
			{true, cat(app, app), wantRow{"TLSv1.3", "Application Data, Application Data"}},
		}},
		{"tls12 handshake and alerts", 443, []step{
			{false, ch, wantRow{"TLSv1", "Client Hello"}},
			{true, cat(sh12, record(tlsHandshake, tls12Version, cat(hsMsg(11, make([]byte, 20)), hsMsg(14, nil)))),
				wantRow{"TLSv1.2", "Server Hello, Certificate, Server Hello Done"}},
			{false, cat(record(tlsHandshake, tls12Version, hsMsg(16, make([]byte, 33))), ccs,
				record(tlsHandshake, tls12Version, make([]byte, 40))),
				wantRow{"TLSv1.2", "Client Key Exchange, Change Cipher Spec, Encrypted Handshake Message"}},
			{true, record(tlsAlert, tls12Version, []byte{2, 40}), wantRow{"TLSv1.2", "Alert (Level: Fatal, Description: Handshake Failure)"}},
			{true, record(tlsAlert, tls12Version, make([]byte, 26)), wantRow{"TLSv1.2", "Encrypted Alert"}},
			{true, []byte{0x99, 1, 2, 3, 4, 5, 6, 7, 8}, wantRow{"TLSv1.2", "Ignored Unknown Record"}},
		}},
		{"mid-stream start", 443, []step{
			{true, []byte{0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07}, wantRow{"SSL", "Continuation Data"}},
			{true, app, wantRow{"TLSv1.2", "Application Data"}},
		}},
		{"clear text on 443", 443, []step{
			{false, []byte("GET / HTTP/1.1\r\n\r\n"), wantRow{"TCP", "40000 → 443 [PSH, ACK] Seq=1 Ack=1 Win=8192 Len=18"}},
		}},
		{"heuristic on another port", 10443, []step{
			{false, ch, wantRow{"TLSv1", "Client Hello"}},
		}},
		{"sslv2 client hello", 443, []step{
			{false, cat([]byte{0x80, 0x2c, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x20}, []byte{0x01, 0x00, 0x80}, make([]byte, 32)),
				wantRow{"SSLv2", "Client Hello"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFlow(t, false, 40000, tc.port)
			f.handshake()
			for i, s := range tc.steps {
				p := f.send(s.server, s.payload)
				checkRow(t, tc.name+" step "+string(rune('1'+i)), p, s.want)
			}
		})
	}
}

func TestTLSReassembly(t *testing.T) {
	f := newTestFlow(t, false, 40000, 443)
	f.handshake()
	f.send(false, record(tlsHandshake, tls10Version, hsMsg(hsClientHello, clientHelloBody(nil))))
	big := record(tlsAppData, tls12Version, make([]byte, 3000))
	for i := 5; i < len(big); i++ {
		big[i] = byte(i*7 + 1)
	}
	small := record(tlsAppData, tls12Version, make([]byte, 30))
	for i := 5; i < len(small); i++ {
		small[i] = 0x90
	}
	steps := []struct {
		payload []byte
		proto   string
		info    string
	}{
		// The record starts: TLS asked for more, nothing complete.
		{big[:1000], "TCP", "[TCP segment of a reassembled PDU]"},
		// Middle: TLS is not called again; TCP's own line stays.
		{big[1000:2000], "TCP", "443 → 40000 [PSH, ACK] Seq=1001 Ack=" + "" + "X"},
		// End of the record plus a whole one plus the start of another.
		{cat(big[2000:], small, big[:3]), "TLSv1.2", "Application Data, Application Data"},
		// A record header split after 3 bytes: TLS is called again.
		{big[3:500], "TCP", "[TCP segment of a reassembled PDU]"},
	}
	for i, s := range steps {
		p := f.send(true, s.payload)
		info := p.Info.String()
		if s.info != "" && strings.HasSuffix(s.info, "X") {
			if p.Protocol != s.proto || !strings.HasPrefix(info, "443 → 40000 [PSH, ACK] Seq=1001") ||
				!strings.HasSuffix(info, " [TCP segment of a reassembled PDU]") {
				t.Errorf("step %d: got %q | %q, want TCP's own line with the segment note", i+1, p.Protocol, info)
			}
			continue
		}
		if p.Protocol != s.proto || info != s.info {
			t.Errorf("step %d: got %q | %q, want %q | %q", i+1, p.Protocol, info, s.proto, s.info)
		}
	}
}

func TestTLSInfoSpans(t *testing.T) {
	f := newTestFlow(t, false, 40000, 443)
	f.handshake()
	p := f.send(true, cat(record(tlsHandshake, tls12Version, hsMsg(hsServerHello, serverHelloBody(1, false))),
		record(tlsAlert, tls12Version, []byte{1, 112})))
	want := []string{"Server Hello", "Alert (Level: Warning, Description: Unrecognized Name)"}
	var got []string
	for _, s := range p.Info.Spans {
		if s.Kind == span.Message {
			got = append(got, string(p.Info.B[s.Start:s.End]))
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("message spans %q, want %q (info %q)", got, want, p.Info.String())
	}
}

func TestTLSHeuristic(t *testing.T) {
	cases := []struct {
		b    []byte
		want bool
	}{
		{[]byte{22, 3, 1, 0, 10}, true},
		{[]byte{23, 3, 3, 0x40, 0}, true},
		{[]byte{21, 3, 3, 0, 2}, false},  // alert: not a type the heuristic takes
		{[]byte{22, 3, 4, 0, 10}, false}, // 0x0304 is never a record version
		{[]byte{22, 3, 3, 0, 0}, false},  // empty record
		{[]byte{22, 3, 3, 0x50, 0}, false},
		{[]byte{22, 3, 3}, false},
	}
	for _, tc := range cases {
		if got := tlsHeuristic(nil, tc.b) != nil; got != tc.want {
			t.Errorf("tlsHeuristic(% x) = %v, want %v", tc.b, got, tc.want)
		}
	}
}

// dtlsRecord builds a DTLS record.
func dtlsRec(ct byte, version uint16, seq uint16, body []byte) []byte {
	b := []byte{ct, byte(version >> 8), byte(version), 0, 0, 0, 0, 0, 0, byte(seq >> 8), byte(seq), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// dtlsHS builds a DTLS handshake message fragment.
func dtlsHS(typ byte, length int, mseq uint16, fragOff int, frag []byte) []byte {
	n := len(frag)
	b := []byte{typ, byte(length >> 16), byte(length >> 8), byte(length), byte(mseq >> 8), byte(mseq),
		byte(fragOff >> 16), byte(fragOff >> 8), byte(fragOff), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(b, frag...)
}

func TestDTLS(t *testing.T) {
	f := newTestFlow(t, true, 40000, 4433)
	cert := make([]byte, 300)
	for i := range cert {
		cert[i] = byte(i)
	}
	sh := []byte{0xfe, 0xfd}
	sh = append(sh, make([]byte, 32)...)
	sh = append(sh, 0, 0xc0, 0x2b, 0, 0, 0)
	steps := []struct {
		server  bool
		payload []byte
		want    wantRow
	}{
		{false, dtlsRec(tlsHandshake, dtls10Version, 0, dtlsHS(hsClientHello, 60, 0, 0, make([]byte, 60))), wantRow{"DTLS", "Client Hello"}},
		{true, dtlsRec(tlsHandshake, dtls10Version, 0, dtlsHS(hsHelloVerifyReq, 3, 0, 0, []byte{0xfe, 0xff, 0})), wantRow{"DTLSv1.0", "Hello Verify Request"}},
		{true, cat(dtlsRec(tlsHandshake, dtls12Version, 1, dtlsHS(hsServerHello, len(sh), 1, 0, sh)),
			dtlsRec(tlsHandshake, dtls12Version, 2, dtlsHS(11, 300, 2, 0, cert[:200]))),
			wantRow{"DTLSv1.2", "Server Hello, Certificate (Fragment)"}},
		{true, dtlsRec(tlsHandshake, dtls12Version, 3, cat(dtlsHS(11, 300, 2, 200, cert[200:]), dtlsHS(14, 0, 3, 0, nil))),
			wantRow{"DTLSv1.2", "Certificate (Reassembled), Server Hello Done"}},
		{false, cat(dtlsRec(tlsCCS, dtls12Version, 4, []byte{1}), dtlsRec(tlsHandshake, dtls12Version, 5, encrypted(48))),
			wantRow{"DTLSv1.2", "Change Cipher Spec, Encrypted Handshake Message"}},
		{false, dtlsRec(tlsAppData, dtls12Version, 6, make([]byte, 100)), wantRow{"DTLSv1.2", "Application Data"}},
		{false, dtlsRec(tlsAlert, dtls12Version, 7, []byte{0xaa, 0xbb}), wantRow{"DTLSv1.2", "Encrypted Alert"}},
	}
	for i, s := range steps {
		p := f.send(s.server, s.payload)
		checkRow(t, "step "+string(rune('1'+i)), p, s.want)
	}
	// A datagram that is not a whole number of DTLS records stays UDP.
	g := newTestFlow(t, true, 40001, 4434)
	p := g.send(false, dtlsRec(tlsAppData, dtls12Version, 0, make([]byte, 10))[:20])
	if p.Protocol != "UDP" {
		t.Errorf("truncated record: protocol %q, want UDP", p.Protocol)
	}
}

func TestTLSGapInRecord(t *testing.T) {
	f := newTestFlow(t, false, 40000, 443)
	f.handshake()
	f.send(false, record(tlsHandshake, tls10Version, hsMsg(hsClientHello, clientHelloBody(nil))))
	big := record(tlsAppData, tls12Version, encrypted(3000))
	small := record(tlsAppData, tls12Version, encrypted(30))
	if p := f.send(true, big[:1000]); p.Info.String() != "[TCP segment of a reassembled PDU]" {
		t.Fatalf("first segment: %q", p.Info.String())
	}
	f.seq[1] += 1000 // a segment the capture missed
	p := f.send(true, big[2000:2500])
	if p.Protocol != "TCP" || !strings.HasSuffix(p.Info.String(), "Len=500 [TCP segment of a reassembled PDU]") {
		t.Errorf("after the gap: %q | %q, want TCP's line with the segment note", p.Protocol, p.Info.String())
	}
	p = f.send(true, cat(big[2500:], small))
	if p.Protocol != "TLSv1.2" || p.Info.String() != "Application Data, Application Data" {
		t.Errorf("end of the record: %q | %q, want TLSv1.2 | Application Data, Application Data", p.Protocol, p.Info.String())
	}
}

// starttlsTestApp is a clear-text protocol that hands over to TLS after
// "STARTTLS".
type starttlsTestApp struct{}

func (starttlsTestApp) dissect(s *tcpSegment, data []byte) int {
	t := s.c.colSet("TEXT")
	t.Field(span.Message, strings.TrimSpace(string(data)))
	if strings.HasPrefix(string(data), "220 ") {
		startTLS(s)
	}
	s.done()
	return len(data)
}

func TestStartTLS(t *testing.T) {
	f := newTestFlow(t, false, 40000, 2525)
	f.handshake()
	// Claim the conversation for the clear-text app.
	key, _ := makeTCPKey(netipFrom4(f.clientAddr), netipFrom4(f.serverAddr), f.cport, f.sport)
	conv := f.d.tcp.lookup(key)
	conv.app, conv.appTried = starttlsTestApp{}, true
	checkRow(t, "STARTTLS", f.send(false, []byte("STARTTLS\r\n")), wantRow{"TEXT", "STARTTLS"})
	checkRow(t, "220", f.send(true, []byte("220 go ahead\r\n")), wantRow{"TEXT", "220 go ahead"})
	checkRow(t, "hello", f.send(false, record(tlsHandshake, tls10Version, hsMsg(hsClientHello, clientHelloBody(nil)))),
		wantRow{"TLSv1", "Client Hello"})
}

func netipFrom4(a [4]byte) netip.Addr { return netip.AddrFrom4(a) }

func TestRDPUDP(t *testing.T) {
	f := newTestFlow(t, true, 54759, 3389)
	syn := make([]byte, 8+8+32+4)
	binary.BigEndian.PutUint32(syn[0:], 0xffffffff)
	binary.BigEndian.PutUint16(syn[4:], 64)
	binary.BigEndian.PutUint16(syn[6:], 0x0001|0x0800|0x1000)
	binary.BigEndian.PutUint16(syn[48:], 1)
	binary.BigEndian.PutUint16(syn[50:], 2)
	checkRow(t, "syn", f.send(false, syn), wantRow{"RDPUDP", "SYN,CORRELATIONID,SYNEX"})
	// ACK and DATA, carrying a TLS Client Hello after the source header.
	data := make([]byte, 8+2+8)
	binary.BigEndian.PutUint16(data[6:], 0x0004|0x0008)
	data = append(data, record(tlsHandshake, tls11Version, hsMsg(hsClientHello, clientHelloBody(nil)))...)
	checkRow(t, "data", f.send(false, data), wantRow{"TLSv1.1", "Client Hello"})
	// DATA whose payload is not a TLS record.
	junk := make([]byte, 8+2+8+20)
	binary.BigEndian.PutUint16(junk[6:], 0x0004|0x0008)
	junk[18] = 0x42
	checkRow(t, "junk", f.send(true, junk), wantRow{"SSL", "Continuation Data"})
}
