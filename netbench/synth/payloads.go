package synth

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// tlsRecord wraps body in a TLS record header.
func tlsRecord(typ byte, version uint16, body []byte) []byte {
	b := make([]byte, 5, 5+len(body))
	b[0] = typ
	binary.BigEndian.PutUint16(b[1:], version)
	binary.BigEndian.PutUint16(b[3:], uint16(len(body)))
	return append(b, body...)
}

func u16(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }

func handshakeMsg(typ byte, body []byte) []byte {
	b := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

func ext(typ int, data []byte) []byte {
	b := u16(u16(nil, typ), len(data))
	return append(b, data...)
}

// clientHello builds a TLS ClientHello record with an SNI extension.
func (g *flowGen) clientHello(sni string) []byte {
	var body []byte
	body = u16(body, 0x0303)
	body = append(body, g.random(32)...)
	body = append(body, 32)
	body = append(body, g.random(32)...)
	suites := []int{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	n := g.p.CipherCount
	body = u16(body, 2*n)
	for i := 0; i < n; i++ {
		body = u16(body, suites[i%len(suites)]+(i/len(suites))*0x10)
	}
	body = append(body, 1, 0)
	var exts []byte
	if sni != "" {
		entry := append([]byte{0}, u16(nil, len(sni))...) // host_name, length
		entry = append(entry, sni...)
		exts = append(exts, ext(0, append(u16(nil, len(entry)), entry...))...)
	}
	exts = append(exts, ext(10, []byte{0, 4, 0, 0x1d, 0, 0x17})...)
	exts = append(exts, ext(11, []byte{1, 0})...)
	exts = append(exts, ext(13, []byte{0, 4, 4, 3, 8, 4})...)
	if g.p.TLS13 {
		exts = append(exts, ext(43, []byte{4, 3, 4, 3, 3})...)
		ks := append([]byte{0, 0x1d}, u16(nil, 32)...)
		ks = append(ks, g.random(32)...)
		exts = append(exts, ext(51, append(u16(nil, len(ks)), ks...))...)
	}
	body = u16(body, len(exts))
	body = append(body, exts...)
	return tlsRecord(22, 0x0301, handshakeMsg(1, body))
}

// serverFlight builds the server's first flight: ServerHello, then for TLS
// 1.3 ChangeCipherSpec and encrypted handshake, for 1.2 a Certificate.
func (g *flowGen) serverFlight() []byte {
	var body []byte
	body = u16(body, 0x0303)
	body = append(body, g.random(32)...)
	body = append(body, 32)
	body = append(body, g.random(32)...)
	if g.p.TLS13 {
		body = u16(body, 0x1301)
	} else {
		body = u16(body, 0xc02f)
	}
	body = append(body, 0)
	var exts []byte
	if g.p.TLS13 {
		exts = append(exts, ext(43, []byte{3, 4})...)
		ks := append([]byte{0, 0x1d}, u16(nil, 32)...)
		exts = append(exts, ext(51, append(ks, g.random(32)...))...)
	} else {
		exts = append(exts, ext(0xff01, []byte{0})...)
	}
	body = u16(body, len(exts))
	body = append(body, exts...)
	out := tlsRecord(22, 0x0303, handshakeMsg(2, body))
	if g.p.TLS13 {
		out = append(out, tlsRecord(20, 0x0303, []byte{1})...)
		out = append(out, tlsRecord(23, 0x0303, g.random(800+g.r.IntN(3000)))...)
		return out
	}
	cert := g.random(900 + g.r.IntN(2500))
	certs := append([]byte{0, byte(len(cert) >> 8), byte(len(cert))}, cert...)
	certMsg := handshakeMsg(11, append([]byte{0, byte(len(certs) >> 8), byte(len(certs))}, certs...))
	out = append(out, tlsRecord(22, 0x0303, append(certMsg, handshakeMsg(14, nil)...))...)
	return out
}

func (g *flowGen) clientFinished() []byte {
	if g.p.TLS13 {
		return append(tlsRecord(20, 0x0303, []byte{1}), tlsRecord(23, 0x0303, g.random(53))...)
	}
	kx := handshakeMsg(16, append([]byte{32}, g.random(32)...))
	out := tlsRecord(22, 0x0303, kx)
	out = append(out, tlsRecord(20, 0x0303, []byte{1})...)
	return append(out, tlsRecord(22, 0x0303, g.random(40))...)
}

func (g *flowGen) appData(size int) []byte {
	if size < 22 {
		size = 22
	}
	return tlsRecord(23, 0x0303, g.random(size))
}

var httpPaths = []string{"/", "/index.html", "/api/v1/items", "/static/app.js", "/images/logo.png", "/login", "/update.php", "/gate.php"}

func (g *flowGen) httpRequest(host string) []byte {
	path := httpPaths[g.r.IntN(len(httpPaths))]
	if g.r.Float64() < 0.5 {
		path += fmt.Sprintf("?id=%d", g.r.IntN(100000))
	}
	method := "GET"
	body := ""
	if g.r.Float64() < 0.25 {
		method = "POST"
		body = strings.Repeat("a", 20+g.r.IntN(200))
	}
	s := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n", method, path, host)
	if body != "" {
		s += fmt.Sprintf("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	}
	return []byte(s + "\r\n" + body)
}

func (g *flowGen) httpResponse(size int) []byte {
	types := []string{"text/html", "application/json", "image/png", "application/javascript"}
	hdr := fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", types[g.r.IntN(len(types))], size)
	return append([]byte(hdr), g.random(size)...)
}

// rtp builds an RTP-like media packet.
func (g *flowGen) rtp(seq uint16, size int) []byte {
	b := []byte{0x80, 0x60 | byte(g.r.IntN(2))<<7, byte(seq >> 8), byte(seq)}
	b = binary.BigEndian.AppendUint32(b, uint32(seq)*160)
	b = binary.BigEndian.AppendUint32(b, 0x1234abcd)
	return append(b, g.random(size)...)
}

// openvpn builds an OpenVPN-like data packet (opcode P_DATA_V2).
func (g *flowGen) openvpn(size int) []byte {
	b := []byte{0x48, 0, 0, 1}
	return append(b, g.random(size)...)
}

// dnsQuery builds a DNS query for name (type A or AAAA).
func dnsMessage(id uint16, name string, qtype uint16, response bool, answers int) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	flags := uint16(0x0100)
	if response {
		flags = 0x8180
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 1)
	an := 0
	if response {
		an = answers
	}
	b = binary.BigEndian.AppendUint16(b, uint16(an))
	b = append(b, 0, 0, 0, 0)
	for _, label := range strings.Split(name, ".") {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)
	for i := 0; i < an; i++ {
		b = append(b, 0xc0, 0x0c)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint32(b, 300)
		b = binary.BigEndian.AppendUint16(b, 4)
		b = append(b, 93, 184, byte(216+i), byte(34+i))
	}
	return b
}
