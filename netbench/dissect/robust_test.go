package dissect

import (
	"math/rand"
	"runtime/debug"
	"testing"
)

// TestLongTailNoPanic feeds random and truncated payloads to every
// registered port and heuristic: a dissector must never index past its
// input, whatever the bytes.
func TestLongTailNoPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(robustSeed))
	var ports []uint16
	for p := range udpPortApps {
		ports = append(ports, p)
	}
	for p := range tcpPortApps {
		ports = append(ports, p)
	}
	ports = append(ports, 40000) // heuristics only
	buf := make([]byte, 300)
	for _, port := range ports {
		for i := 0; i < robustIters; i++ {
			n := rng.Intn(len(buf))
			rng.Read(buf[:n])
			switch i % 4 { // plausible first bytes for the magic-driven ones
			case 1:
				if n > 4 {
					copy(buf, "RTPS")
				}
			case 2:
				if n > 2 {
					buf[0], buf[1] = 0x03, 0x00
				}
			case 3:
				if n > 3 {
					copy(buf, "d1:e")
				}
			}
			payload := append([]byte(nil), buf[:n]...)
			frames := []tframe{
				raw(ip4(17, hostA, hostB, 64, udpPkt(40001, port, payload))),
				raw(ip4(17, hostB, hostA, 64, udpPkt(port, 40001, payload))),
			}
			frames = append(frames, tcpOpen(40001, port)...)
			frames = append(frames, raw(ip4(6, hostA, hostB, 64, tcpPkt(40001, port, 1001, 5001, thACK|thPSH, payload))))
			frames = append(frames, raw(ip4(6, hostB, hostA, 64, tcpPkt(port, 40001, 5001, 1001+uint32(n), thACK|thPSH, payload))))
			for _, proto := range []byte{1, 2, 47, 51, 58, 103, 132} {
				frames = append(frames, raw(ip4(proto, hostA, hostB, 64, payload)))
			}
			for _, et := range []uint16{0x0806, 0x8035, 0x88cc, 0x888e, 0x8863, 0x8903, uint16(n)} {
				frames = append(frames, eth(ether(et, payload)))
			}
			frames = append(frames, tframe{105, payload}, tframe{127, payload}, tframe{9, payload})
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("port %d payload %x: panic %v\n%s", port, payload, r, debug.Stack())
					}
				}()
				renderFrames(frames...)
			}()
		}
	}
}

// Raised by hand for a longer run.
var (
	robustSeed  int64 = 1
	robustIters       = 300
)
