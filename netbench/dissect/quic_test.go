package dissect

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"math/rand"
	"testing"

	"github.com/lens-go/lens/netbench/span"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQUICInitialSecrets checks the key schedule against RFC 9001 A.1.
func TestQUICInitialSecrets(t *testing.T) {
	key, iv, hp := quicInitialSecrets(1, unhex(t, "8394c8f03e515708"))
	want := [][2]string{
		{hex.EncodeToString(key[0]), "1f369613dd76d5467730efcbe3b1a22d"},
		{hex.EncodeToString(iv[0]), "fa044b2f42a3fd3b46fb255c"},
		{hex.EncodeToString(hp[0]), "9f50449e04a0e810283a1e9933adedd2"},
		{hex.EncodeToString(key[1]), "cf3a5331653c364c88f0f379b6067e37"},
		{hex.EncodeToString(iv[1]), "0ac1493ca1905853b0bba03e"},
		{hex.EncodeToString(hp[1]), "c206b8d9b9f0f37644430b490eeaa314"},
	}
	for i, w := range want {
		if w[0] != w[1] {
			t.Errorf("secret %d = %s, want %s", i, w[0], w[1])
		}
	}
	// RFC 9369 A.1 (QUIC v2): client key.
	key, _, _ = quicInitialSecrets(0x6b3343cf, unhex(t, "8394c8f03e515708"))
	if got := hex.EncodeToString(key[0]); got != "8b1a0bc121284290a29e0971b5cd045d" {
		t.Errorf("v2 client key = %s", got)
	}
}

func TestQUICAdjustPN(t *testing.T) {
	// RFC 9000 A.3.
	if got := quicAdjustPN(0xa82f30ea, 0x9b32, 16); got != 0xa82f9b32 {
		t.Errorf("got %#x", got)
	}
	if got := quicAdjustPN(0, 0, 8); got != 0 {
		t.Errorf("first packet: got %d", got)
	}
}

// sealInitial builds a protected Initial packet as a client (side 0) or
// server (side 1) sends it.
func sealInitial(t *testing.T, version uint32, side int, keyDCID, dcid, scid []byte, pn uint64, payload []byte) []byte {
	t.Helper()
	key, iv, hp := quicInitialSecrets(version, keyDCID)
	first := byte(0xc0) // Initial, 1-byte packet number
	if quicIsV2(version) {
		first = 0xd0
	}
	hdr := []byte{first}
	hdr = binary.BigEndian.AppendUint32(hdr, version)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	hdr = append(hdr, 0) // token length
	length := 1 + len(payload) + 16
	hdr = append(hdr, 0x40|byte(length>>8), byte(length))
	pnOff := len(hdr)
	hdr = append(hdr, byte(pn))
	blk, _ := aes.NewCipher(key[side])
	aead, _ := cipher.NewGCM(blk)
	nonce := append([]byte{}, iv[side]...)
	for i := 0; i < 8; i++ {
		nonce[4+i] ^= byte(pn >> (8 * uint(7-i)))
	}
	pkt := aead.Seal(append([]byte{}, hdr...), nonce, payload, hdr)
	hpb, _ := aes.NewCipher(hp[side])
	var mask [16]byte
	hpb.Encrypt(mask[:], pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	pkt[pnOff] ^= mask[1]
	return pkt
}

func TestQUICConnection(t *testing.T) {
	dcid := unhex(t, "8394c8f03e515708")
	ccid := unhex(t, "0102")
	scid := unhex(t, "0a0b0c0d")
	crypto := append([]byte{0x06, 0x00, 0x05}, "hello"...)
	clientPayload := append(append([]byte{}, crypto...), make([]byte, 1100)...)
	client := sealInitial(t, 1, 0, dcid, dcid, ccid, 0, clientPayload)
	serverPayload := append([]byte{0x02, 0x00, 0x00, 0x00, 0x00}, crypto...)
	serverPayload = append(serverPayload, make([]byte, 20)...)
	server := sealInitial(t, 1, 1, dcid, ccid, scid, 0, serverPayload)
	// A Handshake packet (undecryptable) alone, then coalesced with a short
	// header packet.
	hs := []byte{0xe0, 0, 0, 0, 1, 2, 1, 2, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x40, 0x15}
	hs = append(hs, make([]byte, 0x15)...)
	short := append([]byte{0x41, 1, 2}, make([]byte, 30)...)
	coalesced := append(append([]byte{}, hs...), short...)
	toServer := append([]byte{0x45, 0x0a, 0x0b, 0x0c, 0x0d}, make([]byte, 30)...)
	vn := append([]byte{0x80, 0, 0, 0, 0, 2, 1, 2, 4, 0x0a, 0x0b, 0x0c, 0x0d}, 0, 0, 0, 1)
	// A client Initial followed by zero padding outside the packet.
	padded := append(append([]byte{}, client...), make([]byte, 40)...)
	// More frame types (checked against tshark 4.0 on a capture of these
	// packets), then short headers of an unknown connection: one that ends
	// like a stateless reset with an all-zero token, one that does not.
	client2 := sealInitial(t, 1, 0, dcid, dcid, ccid, 1, append([]byte{0x01, 0x0a, 0x04, 0x01, 'a', 0x1c, 0x0a, 0x00, 0x00, 0x18, 1, 0, 2, 9, 9}, make([]byte, 60)...))
	reset := append([]byte{0x45, 0xee, 0xee, 0xee, 0xee}, make([]byte, 30)...)
	unknown := append([]byte{0x45, 0xee, 0xee, 0xee, 0xee}, bytes.Repeat([]byte{0x5a}, 30)...)

	frames := [][]byte{
		udpFrame("10.0.0.1", "10.0.0.2", 50000, 443, client),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 50000, server),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 50000, hs),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 50000, coalesced),
		udpFrame("10.0.0.1", "10.0.0.2", 50000, 443, toServer),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 50000, vn),
		udpFrame("10.0.0.1", "10.0.0.2", 50000, 443, padded),
		udpFrame("10.0.0.1", "10.0.0.2", 50000, 443, client2),
		udpFrame("10.0.0.1", "10.0.0.2", 50000, 443, reset),
		udpFrame("10.0.0.1", "10.0.0.2", 50000, 443, unknown),
	}
	want := []string{
		"Initial, DCID=8394c8f03e515708, SCID=0102, PKN: 0, CRYPTO, PADDING",
		"Initial, DCID=0102, SCID=0a0b0c0d, PKN: 0, ACK, CRYPTO, PADDING",
		"Handshake, DCID=0102, SCID=0a0b0c0d",
		"Protected Payload (KP0), DCID=0102",
		"Protected Payload (KP0), DCID=0a0b0c0d",
		"Version Negotiation, DCID=0102, SCID=0a0b0c0d",
		"Initial, DCID=8394c8f03e515708, SCID=0102, PKN: 0, CRYPTO, PADDING",
		"Initial, DCID=8394c8f03e515708, SCID=0102, PKN: 1, PING, STREAM(4), CC, NCI, PADDING",
		"Stateless Reset",
		"Protected Payload (KP0)",
	}
	protos, infos := render(t, frames...)
	for i := range want {
		if protos[i] != "QUIC" || infos[i] != want[i] {
			t.Errorf("frame %d: got %s %q\n want QUIC %q", i+1, protos[i], infos[i], want[i])
		}
	}
}

func TestQUICv2Initial(t *testing.T) {
	dcid := unhex(t, "0ac503e9808eff1ca8a3e6cb2cf0a394069f")
	payload := append([]byte{0x00, 0x00, 0x06, 0x00, 0x01, 'x'}, make([]byte, 30)...)
	pkt := sealInitial(t, 0x6b3343cf, 0, dcid, dcid, unhex(t, "51b90d3d"), 0, payload)
	_, infos := render(t, udpFrame("10.0.0.1", "10.0.0.2", 64629, 443, pkt))
	want := "Initial, DCID=0ac503e9808eff1ca8a3e6cb2cf0a394069f, SCID=51b90d3d, PKN: 0, PADDING, CRYPTO, PADDING"
	if infos[0] != want {
		t.Errorf("got %q\nwant %q", infos[0], want)
	}
}

func TestQUICFrames(t *testing.T) {
	var x span.Text
	quicFrames(&x, []byte{0x01, 0x1e, 0x0a, 0x04, 0x01, 'a', 0x1c, 0x0a, 0x00, 0x00})
	if got := x.String(); got != ", PING, DONE, STREAM(4), CC" {
		t.Errorf("got %q", got)
	}
}

func TestGQUIC(t *testing.T) {
	cid := unhex(t, "e71ad5d7756c4d4d")
	// Q039 client packet with an unencrypted CHLO in a STREAM frame.
	chlo := append([]byte{0x09}, cid...)
	chlo = append(chlo, "Q039"...)
	chlo = append(chlo, 0x01)
	chlo = append(chlo, make([]byte, 12)...) // message authentication hash
	chlo = append(chlo, 0xa0, 0x01, 0x00, 0x10)
	chlo = append(chlo, "CHLO"...)
	chlo = append(chlo, make([]byte, 12)...)
	enc := append([]byte{0x0d}, cid...)
	enc = append(enc, "Q039"...)
	enc = append(enc, 0x02)
	enc = append(enc, bytes.Repeat([]byte{0x5a}, 40)...)
	// Server packet without CID: the diversification nonce precedes the PKN.
	srv := append([]byte{0x04}, make([]byte, 32)...)
	srv = append(srv, 0x03)
	srv = append(srv, bytes.Repeat([]byte{0x77}, 30)...)
	// Q046 long header and short header from the server.
	q46 := append([]byte{0xc3}, "Q046"...)
	q46 = append(q46, 0x50)
	q46 = append(q46, cid...)
	q46 = append(q46, 0, 0, 0, 1)
	q46 = append(q46, bytes.Repeat([]byte{0x11}, 40)...)
	q46s := append([]byte{0x40, 0x07}, bytes.Repeat([]byte{0x22}, 40)...)

	protos, infos := render(t,
		udpFrame("10.0.0.1", "10.0.0.2", 38620, 443, chlo),
		udpFrame("10.0.0.1", "10.0.0.2", 38620, 443, enc),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 38620, srv),
		udpFrame("10.0.0.1", "10.0.0.3", 45530, 443, q46),
		udpFrame("10.0.0.3", "10.0.0.1", 443, 45530, q46s))
	want := []string{
		"Client Hello, PKN: 1, CID: 16652857693520547149",
		"Payload (Encrypted), PKN: 2, CID: 16652857693520547149",
		"Payload (Encrypted), PKN: 3",
		"Payload (Encrypted), PKN: 1, CID: 16652857693520547149",
		"Payload (Encrypted), PKN: 7",
	}
	for i := range want {
		if protos[i] != "GQUIC" || infos[i] != want[i] {
			t.Errorf("frame %d: got %s %q\n want GQUIC %q", i+1, protos[i], infos[i], want[i])
		}
	}
}

// TestDNSQUICRobust feeds mutated DNS, GQUIC and QUIC datagrams to the
// dissectors: none may panic.
func TestDNSQUICRobust(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	seeds := [][]byte{}
	q := append(dnsHeader(0x0023, 0x8180, 1, 2, 1, 1), question("pagead2.googlesyndication.com", 1, 1)...)
	q = append(q, rr([]byte{0xc0, 0x0c}, 5, 1, dnsName("pagead2.google.com"))...)
	q = append(q, rr([]byte{0xc0, 0x0c}, 33, 1, append([]byte{0, 0, 0, 100, 1, 0x85}, dnsName("dc.x")...))...)
	q = append(q, rr([]byte{0xc0, 0x0c}, 38, 1, append([]byte{0x40, 0, 0, 0, 0, 0, 0, 0, 0}, dnsName("p.x")...))...)
	seeds = append(seeds, q)
	cid := []byte{0xe7, 0x1a, 0xd5, 0xd7, 0x75, 0x6c, 0x4d, 0x4d}
	chlo := append(append(append([]byte{0x09}, cid...), "Q039"...), 0x01)
	chlo = append(chlo, make([]byte, 12)...)
	chlo = append(chlo, 0xa0, 0x01, 0x00, 0x10, 'C', 'H', 'L', 'O', 0x40, 1, 0, 0, 1, 0, 0x02, 0, 0, 0, 0, 0, 5)
	seeds = append(seeds, chlo)
	dcid := []byte{0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08}
	seeds = append(seeds, sealInitial(t, 1, 0, dcid, dcid, []byte{1, 2}, 0, append([]byte{6, 0, 5, 'h', 'e', 'l', 'l', 'o', 0x02, 0, 0, 1, 0, 0, 0x1c, 1, 0, 0}, make([]byte, 40)...)))
	seeds = append(seeds, sealInitial(t, 0x51303530, 0, dcid, dcid, nil, 0, append([]byte{0x40, 1, 0, 0, 1, 0, 0x08, 0, 4, 'C', 'H', 'L', 'O'}, make([]byte, 40)...)))
	ports := []uint16{53, 5353, 5355, 137, 443, 4433}
	for i := 0; i < 20000; i++ {
		s := seeds[rng.Intn(len(seeds))]
		b := append([]byte{}, s...)
		for k := rng.Intn(6); k >= 0; k-- {
			switch rng.Intn(4) {
			case 0:
				if len(b) > 0 {
					b[rng.Intn(len(b))] = byte(rng.Intn(256))
				}
			case 1:
				b = b[:rng.Intn(len(b)+1)]
			case 2:
				if len(b) > 0 {
					b[rng.Intn(len(b))] ^= 1 << uint(rng.Intn(8))
				}
			case 3:
				b = append(b, byte(rng.Intn(256)))
			}
		}
		p := ports[rng.Intn(len(ports))]
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Fatalf("panic on port %d payload %x: %v", p, b, e)
				}
			}()
			render(t, udpFrame("10.0.0.1", "10.0.0.2", 40000, p, b), udpFrame("10.0.0.2", "10.0.0.1", p, 40000, b))
		}()
	}
}

// TestGQUICMessages covers Q035 (little-endian CID), version negotiation,
// public reset, connection close and rejection; the expected lines are
// tshark 4.0's on a capture of these packets.
func TestGQUICMessages(t *testing.T) {
	cid := unhex(t, "e71ad5d7756c4d4d")
	chlo := append([]byte{0x09}, cid...)
	chlo = append(chlo, "Q035"...)
	chlo = append(chlo, 0x01)
	chlo = append(chlo, make([]byte, 12)...)
	chlo = append(chlo, 0xa0, 0x01, 0x00, 0x10)
	chlo = append(chlo, "CHLO"...)
	chlo = append(chlo, make([]byte, 12)...)
	vn := append([]byte{0x09}, cid...)
	vn = append(vn, "Q035Q039"...)
	rst := append([]byte{0x0a}, cid...)
	rst = append(rst, "PRST"...)
	rst = append(rst, 0, 0, 0, 0)
	cc := append([]byte{0x08}, cid...)
	cc = append(cc, 0x02)
	cc = append(cc, make([]byte, 12)...)
	cc = append(cc, 0x02, 1, 0, 0, 0, 4, 0, 'b', 'y', 'e', '!')
	rej := append([]byte{0x08}, cid...)
	rej = append(rej, 0x03)
	rej = append(rej, make([]byte, 12)...)
	rej = append(rej, 0xa0, 0x01, 0x00, 0x10)
	rej = append(rej, 'R', 'E', 'J', 0)
	rej = append(rej, make([]byte, 12)...)
	enc := append([]byte{0x18}, cid...)
	enc = append(enc, 0x05, 0x00)
	enc = append(enc, bytes.Repeat([]byte{0x5a}, 40)...)
	q46s := append([]byte{0xc3}, "Q046"...)
	q46s = append(q46s, 0x05)
	q46s = append(q46s, cid...)
	q46s = append(q46s, 0, 0, 0, 2)
	q46s = append(q46s, bytes.Repeat([]byte{0x11}, 40)...)
	q46c := append([]byte{0xc3}, "Q046"...)
	q46c = append(q46c, 0x50)
	q46c = append(q46c, cid...)
	q46c = append(q46c, 0, 0, 0, 1)
	q46c = append(q46c, bytes.Repeat([]byte{9}, 40)...)
	frames := [][]byte{
		udpFrame("10.0.0.1", "10.0.0.2", 38620, 443, chlo),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 38620, vn),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 38620, rst),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 38620, cc),
		udpFrame("10.0.0.2", "10.0.0.1", 443, 38620, rej),
		udpFrame("10.0.0.1", "10.0.0.2", 38620, 443, enc),
		udpFrame("10.0.0.1", "10.0.0.3", 45530, 443, q46c),
		udpFrame("10.0.0.3", "10.0.0.1", 443, 45530, q46s),
	}
	protos, infos := render(t, frames...)
	want := []string{
		"Client Hello, PKN: 1, CID: 5570227567515212519",
		"Version Negotiation, CID: 5570227567515212519",
		"Public Reset, CID: 5570227567515212519",
		"Connection Close, PKN: 2, CID: 5570227567515212519",
		"Rejection, PKN: 3, CID: 5570227567515212519",
		"Payload (Encrypted), PKN: 5, CID: 5570227567515212519",
		"Payload (Encrypted), PKN: 1, CID: 16652857693520547149",
		"Payload (Encrypted), PKN: 2, CID: 16652857693520547149",
	}
	for i := range want {
		if protos[i] != "GQUIC" || infos[i] != want[i] {
			t.Errorf("frame %d: got %s %q\n want GQUIC %q", i+1, protos[i], infos[i], want[i])
		}
	}
}
