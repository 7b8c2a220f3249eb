package baselines

import (
	"encoding/binary"
	"testing"
)

// udpPacket builds an IPv4/UDP packet 10.0.0.1:5000 -> 10.0.0.2:53 with payload.
func udpPacket(payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(28+len(payload)))
	b[8], b[9] = 64, 17
	copy(b[12:], []byte{10, 0, 0, 1})
	copy(b[16:], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(b[20:], 5000)
	binary.BigEndian.PutUint16(b[22:], 53)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	return append(b, payload...)
}

func TestDeepPacketVector(t *testing.T) {
	p := udpPacket([]byte{0xab, 0xcd})
	v := DeepPacketVector(p)
	if len(v) != 1500 {
		t.Fatalf("length %d", len(v))
	}
	for i := 12; i < 20; i++ {
		if v[i] != 0 {
			t.Fatalf("address byte %d not masked: %v", i, v[i])
		}
	}
	// UDP header (8 bytes at 20) then 12 zero bytes, then the payload at 40.
	if v[20] != float32(5000>>8)/255 || v[28] != 0 || v[39] != 0 || v[40] != float32(0xab)/255 || v[41] != float32(0xcd)/255 {
		t.Fatalf("UDP header not padded to 20 bytes: %v", v[18:44])
	}
	if p[12] != 10 {
		t.Fatal("input modified")
	}
}

func TestYaTCMatrix(t *testing.T) {
	pay := make([]byte, 300)
	for i := range pay {
		pay[i] = byte(i + 1)
	}
	m := YaTCMatrix([]Packet{{IP: udpPacket(pay)}})
	if len(m) != 1600 {
		t.Fatalf("%d cells, want 40x40", len(m))
	}
	// header: 28 bytes with addresses and ports zeroed, then zeros to 80
	if m[12] != 0 || m[20] != 0 || m[21] != 0 || m[24] == 0 || m[28] != 0 || m[79] != 0 {
		t.Fatalf("header part wrong: %v", m[:32])
	}
	// payload: 240 bytes starting at 80, cut there
	if m[80] != float32(1)/255 || m[319] != float32(240)/255 || m[320] != 0 {
		t.Fatalf("payload part wrong: %v %v %v", m[80], m[319], m[320])
	}
}

func TestETBERTBigrams(t *testing.T) {
	toks := ETBERTTokens([]Packet{{IP: udpPacket([]byte{0x47, 0x45, 0x54})}}, 5, 64, 100, 10, 3)
	want := []int32{10 + 0x4745, 10 + 0x4554, 3}
	if len(toks) != len(want) || toks[0] != want[0] || toks[1] != want[1] || toks[2] != want[2] {
		t.Fatalf("tokens %v, want %v", toks, want)
	}
}

func TestFSNetSequence(t *testing.T) {
	s := FSNetSequence([]int{60, 1514, 40}, []int{0, 1, 0}, 5)
	if s[0] != 60+1501 || s[1] != -1500+1501 || s[2] != 40+1501 || s[3] != 0 || s[4] != 0 {
		t.Fatalf("sequence %v", s)
	}
}
