package dissect

import (
	"encoding/hex"
	"testing"
)

func TestHPACK(t *testing.T) {
	// RFC 7541 C.4.1: first request, Huffman-coded.
	block, _ := hex.DecodeString("828684418cf1e3c2e5f23a6ba0ab90f4ff")
	var d hpackDecoder
	d.maxSize = 4096
	var got []hpackField
	d.decode(block, func(n, v string) { got = append(got, hpackField{n, v}) })
	want := []hpackField{{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: got %v, want %v", i, got[i], want[i])
		}
	}
	// C.4.2 refers to the dynamic table entry added above (index 62).
	block2, _ := hex.DecodeString("828684be5886a8eb10649cbf")
	got = got[:0]
	d.decode(block2, func(n, v string) { got = append(got, hpackField{n, v}) })
	if len(got) != 5 || got[3] != (hpackField{":authority", "www.example.com"}) || got[4] != (hpackField{"cache-control", "no-cache"}) {
		t.Errorf("second block: %v", got)
	}
}

func TestHTTP2AfterUpgrade(t *testing.T) {
	frame := func(typ, flags byte, stream byte, payload string) string {
		n := len(payload)
		return string([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, 0, 0, 0, stream}) + payload
	}
	checkTCP(t, 57226, 8080, []txtSeg{
		{0, "GET /x HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n"},
		{1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"},
		{0, http2Preface + frame(4, 0, 0, "")},
		// :status 206 (static index 10), content-type: text/plain (literal, indexed name 31)
		{1, frame(1, 4, 1, "\x8a\x0f\x10\x0atext/plain")},
		{1, frame(0, 1, 1, "hello") + frame(3, 0, 1, "\x00\x00\x00\x08")},
	}, []renderedFrame{
		{"HTTP", "GET /x HTTP/1.1 "},
		{"HTTP", "HTTP/1.1 101 Switching Protocols "},
		{"HTTP2", "Magic, SETTINGS[0]"},
		{"HTTP2", "HEADERS[1]: 206 Partial Content"},
		{"HTTP2", "DATA[1] (text/plain), RST_STREAM[1]"},
	})
}

func TestDoH(t *testing.T) {
	frame := func(typ, flags byte, stream byte, payload string) string {
		n := len(payload)
		return string([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags, 0, 0, 0, stream}) + payload
	}
	dns := "\x00\x00\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x01b\x00\x00\x01\x00\x01"
	// :status 200, content-type: application/dns-message
	hdr := "\x88\x0f\x10\x17application/dns-message"
	checkTCP(t, 49792, 80, []txtSeg{
		{0, http2Preface + frame(4, 0, 0, "")},
		{1, frame(1, 4, 1, hdr) + frame(0, 1, 1, dns) + frame(6, 0, 0, "12345678")},
	}, []renderedFrame{
		{"HTTP2", "Magic, SETTINGS[0]"},
		{"HTTP2", "Standard query response 0x0000 A a.b, PING[0]"},
	})
}
