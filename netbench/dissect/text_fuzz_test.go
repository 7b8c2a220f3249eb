package dissect

import (
	"testing"

	"github.com/lens-go/lens/netbench/capture"
)

// FuzzTextApps feeds arbitrary stream bytes, cut into segments in both
// directions, to the HTTP family and line-based text dissectors.
func FuzzTextApps(f *testing.F) {
	f.Add(uint8(0), []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add(uint8(1), []byte("USER a\r\n"), []byte("227 Entering Passive Mode (1,2,3,4,5,6)\r\n"))
	f.Add(uint8(2), []byte("DATA\r\n"), []byte("354 go\r\n"))
	f.Add(uint8(3), []byte("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>"), []byte("<stream:stream from='x'>"))
	f.Add(uint8(4), []byte("\x05\x01\x00"), []byte("\x05\x00"))
	f.Add(uint8(5), []byte(http2Preface+"\x00\x00\x00\x04\x00\x00\x00\x00\x00"), []byte("\x00\x00\x03\x01\x04\x00\x00\x00\x01\x88\xbe\x3f"))
	f.Add(uint8(6), []byte("C1 FETCH 1 BODY[]\r\n"), []byte("* 1 FETCH (BODY[] {5}\r\nabcde)\r\n"))
	ports := []uint16{80, 21, 25, 5222, 1080, 8080, 143, 6667, 5060, 23, 119}
	f.Fuzz(func(t *testing.T, which uint8, a, b []byte) {
		port := ports[int(which)%len(ports)]
		fl := newTCPFlow(40000, port)
		frames := httpHandshake(fl)
		for i := 0; i < 3; i++ {
			frames = append(frames, fl.frame(0, thACK|thPSH, string(a)), fl.frame(1, thACK|thPSH, string(b)))
			if len(a) > 3 {
				a = a[len(a)/3:]
			}
		}
		// a truncated frame too
		last := fl.frame(1, thACK, string(b)+string(a))
		last.Data = last.Data[:len(last.Data)-len(a)/2]
		frames = append(frames, last)
		d := New(Config{})
		var p Packet
		for _, fr := range frames {
			d.Dissect(fr, &p)
		}
		_ = capture.LinkRaw
	})
}
