package dissect

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
)

func udpPacket(sp, dp uint16, payload []byte) []byte {
	h := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

func ethernetFrame(et uint16, payload []byte) []byte {
	h := make([]byte, 14, 14+len(payload))
	copy(h, []byte{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6})
	binary.BigEndian.PutUint16(h[12:], et)
	return append(h, payload...)
}

func renderOne(t *testing.T, lt capture.LinkType, data []byte) *Packet {
	t.Helper()
	d := New(Config{})
	p := new(Packet)
	d.Dissect(&capture.Frame{Index: 1, Time: time.Unix(1700000000, 0), OrigLen: len(data), Data: data, LinkType: lt}, p)
	checkPacket(t, p)
	return p
}

// innerTCP is an IPv4/TCP SYN with 4 payload bytes.
func innerTCP() []byte {
	return ipv4Packet(addrA, addrB, 6, tcpHeader(40000, portB, seg{flags: thSYN, seq: 1, win: 1000, payload: []byte{0xee, 0xee, 0xee, 0xee}}))
}

func TestTunnels(t *testing.T) {
	gtp := append([]byte{0x30, 0xff, 0, 0, 0, 0, 0, 1}, innerTCP()...)
	binary.BigEndian.PutUint16(gtp[2:], uint16(len(gtp)-8))
	gtpExt := append([]byte{0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x01, 0}, innerTCP()...)
	vxlan := append([]byte{8, 0, 0, 0, 0, 0, 1, 0}, ethernetFrame(etherIPv4, innerTCP())...)
	l2tp := append([]byte{0x00, 0x02, 0, 1, 0, 1, 0xff, 0x03, 0x00, 0x21}, innerTCP()...)
	gre := append([]byte{0, 0, 0x08, 0}, innerTCP()...)
	teredo := append([]byte{0, 0, 0x0d, 0x05, 1, 2, 3, 4}, ipv6TCP()...)
	for _, tc := range []struct {
		name  string
		frame []byte
		proto string
		p12   string
	}{
		{"GTP-U", ipv4Packet(addrA, addrB, 17, udpPacket(2152, 2152, gtp)), "GTP <TCP>", "eeeeeeee"},
		{"GTP-U extension header", ipv4Packet(addrA, addrB, 17, udpPacket(2152, 2152, gtpExt)), "GTP <TCP>", "eeeeeeee"},
		{"VXLAN", ipv4Packet(addrA, addrB, 17, udpPacket(50000, 4789, vxlan)), "TCP", "eeeeeeee"},
		{"L2TP", ipv4Packet(addrA, addrB, 17, udpPacket(1701, 1701, l2tp)), "TCP", "eeeeeeee"},
		{"GRE", ipv4Packet(addrA, addrB, 47, gre), "TCP", "eeeeeeee"},
		{"IP in IP", ipv4Packet(addrA, addrB, 4, innerTCP()), "TCP", "eeeeeeee"},
		{"Teredo", ipv4Packet(addrA, addrB, 17, udpPacket(3544, 50000, teredo)), "TCP", "eeeeeeee"},
	} {
		p := renderOne(t, capture.LinkRaw, tc.frame)
		if p.Protocol != tc.proto || hex.EncodeToString(p.Payload12()) != tc.p12 {
			t.Errorf("%s: %s | %s | %x, want protocol %s payload %s", tc.name, p.Protocol, p.Info.String(), p.Payload12(), tc.proto, tc.p12)
		}
		if got := p.Info.String(); got != "40000 → 47001 [SYN] Seq=0 Win=1000 Len=4" {
			t.Errorf("%s: info %q", tc.name, got)
		}
	}
}

func ipv6TCP() []byte {
	tcp := tcpHeader(40000, portB, seg{flags: thSYN, seq: 1, win: 1000, payload: []byte{0xee, 0xee, 0xee, 0xee}})
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(tcp)))
	h[6] = 6
	h[7] = 64
	h[8], h[23] = 0x20, 1
	h[24], h[39] = 0x20, 2
	return append(h, tcp...)
}

// TestTunnelPayload: payload12 is the first TCP payload even under a UDP
// tunnel, and the tunnel's UDP payload when the inner TCP carries none.
func TestTunnelPayload(t *testing.T) {
	inner := ipv4Packet(addrA, addrB, 6, tcpHeader(40000, portB, seg{flags: thACK, seq: 1, ack: 1, win: 1000}))
	gtp := append([]byte{0x30, 0xff, 0, 0, 0, 0, 0, 1}, inner...)
	p := renderOne(t, capture.LinkRaw, ipv4Packet(addrA, addrB, 17, udpPacket(2152, 2152, gtp)))
	if got := hex.EncodeToString(p.Payload12()); got != hex.EncodeToString(gtp[:12]) {
		t.Errorf("payload12 %s, want the GTP header %x", got, gtp[:12])
	}
}

// TestICMPErrorPayload: the UDP payload quoted in an ICMP error is tshark's
// udp.payload.
func TestICMPErrorPayload(t *testing.T) {
	quoted := ipv4Packet(addrB, addrA, 17, udpPacket(5000, 53, []byte{0xab, 0xcd, 1, 0, 0, 1}))
	icmp := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, quoted...)
	p := renderOne(t, capture.LinkRaw, ipv4Packet(addrA, addrB, 1, icmp))
	if got := hex.EncodeToString(p.Payload12()); got != "abcd01000001" {
		t.Errorf("payload12 %s", got)
	}
	// An echo request carries no transport payload.
	p = renderOne(t, capture.LinkRaw, ipv4Packet(addrA, addrB, 1, append([]byte{8, 0, 0, 0, 0, 1, 0, 1}, quoted...)))
	if len(p.Payload12()) != 0 {
		t.Errorf("echo payload12 %x", p.Payload12())
	}
}

func TestIPv4FragmentInfo(t *testing.T) {
	pkt := ipv4Packet(addrA, addrB, 17, udpPacket(1, 2, make([]byte, 40)))
	binary.BigEndian.PutUint16(pkt[4:], 0x2cf1)
	binary.BigEndian.PutUint16(pkt[6:], 0x2000) // more fragments, offset 0
	p := renderOne(t, capture.LinkRaw, pkt)
	if got := p.Info.String(); p.Protocol != "IPv4" || got != "Fragmented IP protocol (proto=UDP 17, off=0, ID=2cf1)" {
		t.Errorf("%s | %s", p.Protocol, got)
	}
}

func TestAppendHex(t *testing.T) {
	for _, tc := range []struct {
		v     uint64
		width int
		want  string
	}{{0, 4, "0000"}, {0x2cf1, 4, "2cf1"}, {0xabc, 8, "00000abc"}, {0x123456789, 4, "123456789"}} {
		if got := string(appendHexWidth(nil, tc.v, tc.width)); got != tc.want {
			t.Errorf("appendHexWidth(%x, %d) = %s", tc.v, tc.width, got)
		}
	}
}
