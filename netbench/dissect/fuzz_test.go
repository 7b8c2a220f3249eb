package dissect

import (
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
)

// testdataFrames returns up to max frames of each capture in testdata.
func testdataFrames(tb testing.TB, max int) []capture.Frame {
	files, _ := filepath.Glob("testdata/*.pcap*")
	var out []capture.Frame
	for _, p := range files {
		r, err := capture.Open(p)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		for n := 0; n < max; n++ {
			var fr capture.Frame
			if err := r.Next(&fr); err != nil {
				if !errors.Is(err, io.EOF) {
					tb.Fatalf("%s: %v", p, err)
				}
				break
			}
			fr.Data = append([]byte(nil), fr.Data...)
			out = append(out, fr)
		}
		r.Close()
	}
	return out
}

// checkPacket verifies the invariants every rendering keeps.
func checkPacket(t *testing.T, p *Packet) {
	if p.Protocol == "" {
		t.Fatalf("empty protocol")
	}
	last := int32(0)
	for _, s := range p.Info.Spans {
		if s.Start < 0 || s.End > int32(len(p.Info.B)) || s.Start >= s.End {
			t.Fatalf("span %+v outside info %q", s, p.Info.B)
		}
		if s.Start < last {
			t.Fatalf("spans out of order in %q: %+v", p.Info.B, p.Info.Spans)
		}
		last = s.End
	}
	_ = p.AppendTSV(nil)
}

// FuzzDissect: Dissect never panics or hangs, whatever the bytes, and its
// output keeps its invariants. The input is a link type and the bytes of a
// few frames (split at a length prefix) dissected in turn by one Dissector,
// so that conversation state (TCP analysis, reassembly, fragments) is
// exercised too.
func FuzzDissect(f *testing.F) {
	for _, fr := range testdataFrames(f, 40) {
		f.Add(uint16(fr.LinkType), fr.Data)
	}
	recoverPanics = false // let the fuzzer see dissector panics
	defer func() { recoverPanics = true }()
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		d := New(Config{MaxConversations: 64})
		var p Packet
		t0 := time.Unix(1700000000, 0)
		// The whole input is one frame; then it is replayed as up to 8
		// frames: a 2-byte length, then that many bytes.
		fr := capture.Frame{Index: 1, Time: t0, OrigLen: len(data), Data: data, LinkType: capture.LinkType(link)}
		d.Dissect(&fr, &p)
		checkPacket(t, &p)
		rest := data
		for i := 2; i < 10 && len(rest) >= 2; i++ {
			n := int(binary.BigEndian.Uint16(rest))
			rest = rest[2:]
			if n > len(rest) {
				n = len(rest)
			}
			orig := n
			if i%3 == 0 && n > 0 {
				orig += int(rest[0]) // a frame cut short by the snapshot length
			}
			fr = capture.Frame{Index: i, Time: t0.Add(time.Duration(i) * time.Millisecond), OrigLen: orig, Data: rest[:n], LinkType: capture.LinkType(link)}
			d.Dissect(&fr, &p)
			checkPacket(t, &p)
			rest = rest[n:]
		}
	})
}

// panicApp is a test application whose dissector panics.
type panicApp struct{}

func (panicApp) dissect(s *tcpSegment, data []byte) int { panic("boom") }

// TestDissectRecovers: a dissector panic renders a malformed frame and the
// Dissector goes on with the next frame.
func TestDissectRecovers(t *testing.T) {
	const port = 40998
	tcpPortApps[port] = panicApp{}
	defer delete(tcpPortApps, port)
	segs := append(handshake(), seg{flags: thACK | thPSH, seq: isnA + 1, ack: isnB + 1, win: 502, payload: []byte("x")},
		seg{fromB: true, flags: thACK, seq: isnB + 1, ack: isnA + 2, win: 509})
	got := renderSegsPort(t, segs, port)
	checkLines(t, got, map[int]string{
		3: "TCP | 40000 → 40998 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=1[Malformed Packet]",
		4: "TCP | 40998 → 40000 [ACK] Seq=1 Ack=2 Win=130304 Len=0",
	})
}
