package dissect

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
)

// Builders for the frames of the table tests below.

var (
	hostA = [4]byte{10, 0, 0, 1}
	hostB = [4]byte{10, 0, 0, 2}
)

func ip4(proto byte, src, dst [4]byte, ttl byte, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	b[8] = ttl
	b[9] = proto
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	return append(b, payload...)
}

func ip6(next byte, src, dst [16]byte, hop byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = hop
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	return append(b, payload...)
}

func udpPkt(sp, dp uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func tcpPkt(sp, dp uint16, seq, ack uint32, flags byte, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(b[0:], sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], ack)
	b[12] = 5 << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 65535)
	return append(b, payload...)
}

func ether(et uint16, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	copy(b[0:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:], []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55})
	binary.BigEndian.PutUint16(b[12:], et)
	return append(b, payload...)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

type tframe struct {
	link capture.LinkType
	data []byte
}

func raw(b []byte) tframe { return tframe{capture.LinkRaw, b} }
func eth(b []byte) tframe { return tframe{capture.LinkEthernet, b} }

// render dissects frames in order and returns the last frame's rendering.
func renderFrames(frames ...tframe) (proto, info string, p *Packet) {
	d := New(Config{})
	p = &Packet{}
	t0 := time.Unix(1700000000, 0)
	for i, f := range frames {
		fr := capture.Frame{Index: i + 1, Time: t0.Add(time.Duration(i) * time.Second), OrigLen: len(f.data), Data: f.data, LinkType: f.link}
		d.Dissect(&fr, p)
	}
	return p.Protocol, p.Info.String(), p
}

// tcpOpen opens a TCP connection from port sp to dp and returns the frames and
// the next sequence numbers of both sides.
func tcpOpen(sp, dp uint16) []tframe {
	return []tframe{
		raw(ip4(6, hostA, hostB, 64, tcpPkt(sp, dp, 1000, 0, thSYN, nil))),
		raw(ip4(6, hostB, hostA, 64, tcpPkt(dp, sp, 5000, 1001, thSYN|thACK, nil))),
		raw(ip4(6, hostA, hostB, 64, tcpPkt(sp, dp, 1001, 5001, thACK, nil))),
	}
}

func TestLongTail(t *testing.T) {
	arpPkt := func(op uint16, sha string, spa [4]byte, tha string, tpa [4]byte) []byte {
		b := mustHex("0001 0800 06 04")
		b = binary.BigEndian.AppendUint16(b, op)
		b = append(b, mustHex(sha)...)
		b = append(b, spa[:]...)
		b = append(b, mustHex(tha)...)
		return append(b, tpa[:]...)
	}
	xorMapped := mustHex("0020 0008 0001") // family 1, port and address XOR-ed below
	xorMapped = binary.BigEndian.AppendUint16(xorMapped, 3478^0x2112)
	xorMapped = append(xorMapped, 192^0x21, 0^0x12, 2^0xa4, 1^0x42)
	stunResp := append(mustHex("0101 000c 2112a442 000102030405060708090a0b"), xorMapped...)
	mojito := append(mustHex("00112233445566778899aabbccddeeff 44 0000"), make([]byte, 4+37)...)
	binary.LittleEndian.PutUint32(mojito[19:], uint32(len(mojito)-23))
	mojito[23] = 5
	krbErr := mustHex("7e 0e 30 0c a0 03 02 01 05 a6 05 02 03 00 00 19")
	dhcp := make([]byte, 240, 300)
	dhcp[0] = 1
	binary.BigEndian.PutUint32(dhcp[4:], 0x696ddc66)
	binary.BigEndian.PutUint32(dhcp[236:], 0x63825363)
	dhcp = append(dhcp, 53, 1, 1, 255)
	ntp := make([]byte, 48)
	ntp[0] = 0x23 // version 4, client
	wg := make([]byte, 32+16)
	wg[0] = 4
	binary.LittleEndian.PutUint32(wg[4:], 0x1574f5a1)
	binary.LittleEndian.PutUint64(wg[8:], 7)
	igmp3 := mustHex("22 00 0000 0000 0001 04 00 0000 e00000fb")
	stp := append(mustHex("4242 03 0000 00 00 00 8000 525400c2ac1f 00000004 8000525400c2ac1f 8003"), make([]byte, 8)...)
	stpFrame := ether(uint16(len(stp)), stp)

	cases := []struct {
		name        string
		frames      []tframe
		proto, info string
	}{
		{"arp request", []tframe{eth(ether(0x0806, arpPkt(1, "001122334455", hostA, "000000000000", hostB)))},
			"ARP", "Who has 10.0.0.2? Tell 10.0.0.1"},
		{"arp gratuitous reply", []tframe{eth(ether(0x0806, arpPkt(2, "001122334455", hostA, "001122334455", hostA)))},
			"ARP", "Gratuitous ARP for 10.0.0.1 (Reply)"},
		{"arp probe", []tframe{eth(ether(0x0806, arpPkt(1, "001122334455", [4]byte{}, "000000000000", hostB)))},
			"ARP", "Who has 10.0.0.2? (ARP Probe)"},
		{"icmp echo reply names its request", []tframe{
			raw(ip4(1, hostA, hostB, 64, mustHex("0800 0000 0001 0001 6162"))),
			raw(ip4(1, hostB, hostA, 63, mustHex("0000 0000 0001 0001 6162"))),
		}, "ICMP", "Echo (ping) reply    id=0x0001, seq=1/256, ttl=63 (request in 1)"},
		{"icmp port unreachable", []tframe{raw(ip4(1, hostB, hostA, 64,
			append(mustHex("0303 0000 00000000"), ip4(17, hostA, hostB, 64, udpPkt(5353, 53, []byte("query")))...)))},
			"ICMP", "Destination unreachable (Port unreachable)"},
		{"icmpv6 neighbor solicitation", []tframe{raw(ip6(58, [16]byte{0xfe, 0x80, 15: 1}, [16]byte{0xff, 0x02, 15: 1}, 255,
			append(mustHex("8700 0000 00000000 fe800000000000000000000000000002"), mustHex("0101 001122334455")...)))},
			"ICMPv6", "Neighbor Solicitation for fe80::2 from 00:11:22:33:44:55"},
		{"stun binding success", []tframe{raw(ip4(17, hostB, hostA, 64, udpPkt(3478, 40000, stunResp)))},
			"STUN", "Binding Success Response XOR-MAPPED-ADDRESS: 192.0.2.1:3478"},
		{"synchrophasor command", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(4712, 4713,
			mustHex("aa41 0012 003c 4899909a 00340000 0005 d7d0"))))},
			"SYNCHROPHASOR", "Command Frame, send CFG-2 frame"},
		{"openvpn ack", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(50000, 1194, mustHex("2839fded2daa10a437010000"))))},
			"OpenVPN", "MessageType: P_ACK_V1"},
		{"uftp fileseg", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(1044, 1044,
			mustHex("40090016 0a000001 96f4c304 006c1800 0902 0001 0000 0007 00000000"))))},
			"UFTP", "FILESEG      ID=96F4C304:0001  Section=0  Block=7"},
		{"cip io", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(2222, 2222,
			mustHex("0200 0280 0800 787b3a00 e8cb5e04 b100 0200 0000"))))},
			"CIP I/O", "Connection: ID=0x003A7B78, SEQ=0073321448"},
		{"mojito heuristic", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(28681, 6348, mojito)))},
			"Mojito", "FIND NODE REQUEST"},
		{"wireguard transport", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(47462, 15004, wg)))},
			"WireGuard", "Transport Data, receiver=0x1574F5A1, counter=7, datalen=16"},
		{"tftp transfer on a new port", []tframe{
			raw(ip4(17, hostA, hostB, 64, udpPkt(40000, 69, []byte("\x00\x01rfc1350.txt\x00octet\x00")))),
			raw(ip4(17, hostB, hostA, 64, udpPkt(50123, 40000, append([]byte{0, 3, 0, 1}, make([]byte, 100)...)))),
		}, "TFTP", "Data Packet, Block: 1 (last)"},
		{"syslog", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(514, 514, []byte("<30>snmpd[1]: hello\n"))))},
			"Syslog", `DAEMON.INFO: snmpd[1]: hello\n`},
		{"ntp client", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(123, 123, ntp)))},
			"NTP", "NTP Version 4, client"},
		{"dhcp discover", []tframe{raw(ip4(17, hostA, hostB, 64, udpPkt(68, 67, dhcp)))},
			"DHCP", "DHCP Discover - Transaction ID 0x696ddc66"},
		{"krb5 error", []tframe{raw(ip4(17, hostB, hostA, 64, udpPkt(88, 40000, krbErr)))},
			"KRB5", "KRB Error: KRB5KDC_ERR_PREAUTH_REQUIRED"},
		{"igmpv3 join", []tframe{raw(ip4(2, hostA, [4]byte{224, 0, 0, 22}, 1, igmp3))},
			"IGMPv3", "Membership Report / Join group 224.0.0.251 for any sources"},
		{"stp config bpdu", []tframe{eth(stpFrame)},
			"STP", "Conf. Root = 32768/0/52:54:00:c2:ac:1f  Cost = 4  Port = 0x8003"},
		{"ssh banner", append(tcpOpen(40000, 22),
			raw(ip4(6, hostA, hostB, 64, tcpPkt(40000, 22, 1001, 5001, thACK|thPSH, []byte("SSH-2.0-OpenSSH_7.4\r\n"))))),
			"SSH", "Client: Protocol (SSH-2.0-OpenSSH_7.4)"},
		{"tpkt continuation", append(tcpOpen(40000, 3389),
			raw(ip4(6, hostA, hostB, 64, tcpPkt(40000, 3389, 1001, 5001, thACK|thPSH, mustHex("160301007401000070"))))),
			"TPKT", "Continuation"},
		{"opc ua hello", append(tcpOpen(40000, 4840),
			raw(ip4(6, hostA, hostB, 64, tcpPkt(40000, 4840, 1001, 5001, thACK|thPSH, mustHex("48454c46 0c000000 00000000"))))),
			"OpcUa", "Hello message"},
		{"dnp3 read class", append(tcpOpen(40000, 20000),
			raw(ip4(6, hostA, hostB, 64, tcpPkt(40000, 20000, 1001, 5001, thACK|thPSH,
				mustHex("056411c4040003004eef d1c2013c02063c03063c0406 402c"))))),
			"DNP 3.0", "Read, Class 123"},
	}
	for _, tc := range cases {
		proto, info, _ := renderFrames(tc.frames...)
		if proto != tc.proto || info != tc.info {
			t.Errorf("%s: got %q | %q, want %q | %q", tc.name, proto, info, tc.proto, tc.info)
		}
	}
}

// An ICMP error takes the ports and payload of the datagram it quotes.
func TestICMPQuotedDatagram(t *testing.T) {
	_, _, p := renderFrames(raw(ip4(1, hostB, hostA, 64,
		append(mustHex("0303 0000 00000000"), ip4(17, hostA, hostB, 64, udpPkt(5353, 53, []byte("query")))...))))
	if !p.HasPorts || p.SrcPort != 5353 || p.DstPort != 53 || string(p.Payload) != "query" {
		t.Errorf("ports %v %d→%d payload %q, want 5353→53 \"query\"", p.HasPorts, p.SrcPort, p.DstPort, p.Payload)
	}
}

// FIX: a PDU's length is computed once, from the segment that starts it.
func TestFIXDesegmentation(t *testing.T) {
	msg := "8=FIX.4.1\x019=0014\x0135=1\x01112=farm\x0110=217\x01"
	frames := append(tcpOpen(40000, 4000),
		raw(ip4(6, hostA, hostB, 64, tcpPkt(40000, 4000, 1001, 5001, thACK|thPSH, []byte(msg[:20]))))) // held back
	proto, info, _ := renderFrames(frames...)
	if proto != "TCP" || !strings.HasSuffix(info, "[TCP segment of a reassembled PDU]") {
		t.Errorf("first part: got %q | %q", proto, info)
	}
	frames = append(frames, raw(ip4(6, hostA, hostB, 64, tcpPkt(40000, 4000, 1021, 5001, thACK|thPSH, []byte(msg[20:])))))
	proto, info, _ = renderFrames(frames...)
	if proto != "FIX" || info != "TestRequest" {
		t.Errorf("second part: got %q | %q, want FIX | TestRequest", proto, info)
	}
}

// Every Info column written by the long-tail dissectors carries a span.
func TestLongTailSpans(t *testing.T) {
	_, _, p := renderFrames(raw(ip4(17, hostA, hostB, 64, udpPkt(50000, 1194, mustHex("2839fded2daa10a437010000")))))
	if len(p.Info.Spans) == 0 {
		t.Fatalf("no spans in %q", p.Info.String())
	}
	last := p.Info.Spans[len(p.Info.Spans)-1]
	if got := string(last.Field(p.Info.B)); got != "P_ACK_V1" {
		t.Errorf("last span %q, want P_ACK_V1", got)
	}
}

// A data segment of conversation sp→dp after tcpOpen.
func tcpData(sp, dp uint16, payload string) tframe {
	return raw(ip4(6, hostA, hostB, 64, tcpPkt(sp, dp, 1001, 5001, thACK|thPSH, mustHex(payload))))
}

func TestLongTailTCPApps(t *testing.T) {
	cases := []struct {
		name        string
		sp, dp      uint16
		payload     string
		proto, info string
	}{
		{"modbus query", 40000, 502, "0001 0000 0006 01 01 0000 000a",
			"Modbus/TCP", "   Query: Trans:     1; Unit:   1, Func:   1: Read Coils"},
		{"mqtt ping", 40000, 1883, "c000", "MQTT", "Ping Request"},
		{"mqtt publish then disconnect", 40000, 1883, "3008 0004 74657374 6869 e000",
			"MQTT", "Publish Message [test], Disconnect Req"},
		{"bgp keepalive", 40000, 179, "ffffffffffffffffffffffffffffffff 0013 04", "BGP", "KEEPALIVE Message"},
		{"kafka request", 40000, 9092, "00000011 0012 0000 00000001 0007 636c69656e7431",
			"Kafka", "Kafka ApiVersions v0 Request"},
		{"redis request", 40000, 6379, hex.EncodeToString([]byte("*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n")),
			"RESP", "Request: GET foo"},
		{"pgsql startup", 40000, 5432, "00000008 04d2162f", "PGSQL", ">"},
		{"bittorrent handshake", 40000, 6881,
			hex.EncodeToString(append([]byte("\x13BitTorrent protocol"), make([]byte, 48)...)),
			"BitTorrent", "Handshake  "},
		{"hislip initialize", 40000, 4880, "4853 00 00 00010000 0000000000000007" + hex.EncodeToString([]byte("hislip0")),
			"HiSLIP", "Initialize hislip0"},
		{"iec104 startdt", 40000, 2404, "680407000000", "IEC 60870-5-104", "<- U (STARTDT act) "},
		{"socks5 greeting", 40000, 1080, "050100", "Socks", "Version: 5 Connect to server request"},
		{"dnp3 beside a socks port", 1080, 20000, "056408c404000300b4b8c0c1 0daf84",
			"DNP 3.0", "Cold Restart"},
		{"rdp fast-path input", 40000, 3389, "90161886fb4828856af49f84c21a9374b3ce75025f56",
			"RDP", "Fast-Path PDU,Unicode,Scancode,Sync"},
		{"openwire", 40000, 61616, "00000005 0c 00000000", "OpenWire", "RemoveInfo"},
		{"tns connect", 40000, 1521, "0022 0000 01 00 0000" + strings.Repeat("00", 26), "TNS", "Request, Connect (1)"},
		{"drda heuristic", 40000, 50000, "000ad00100010004200e", "DRDA", "RDBCMM"},
	}
	for _, tc := range cases {
		frames := append(tcpOpen(tc.sp, tc.dp), tcpData(tc.sp, tc.dp, tc.payload))
		proto, info, _ := renderFrames(frames...)
		if proto != tc.proto || info != tc.info {
			t.Errorf("%s: got %q | %q, want %q | %q", tc.name, proto, info, tc.proto, tc.info)
		}
	}
}

func TestLongTailTunnels(t *testing.T) {
	inner := ip4(1, hostA, hostB, 64, mustHex("0800 0000 0007 0001"))
	cases := []struct {
		name        string
		frame       tframe
		proto, info string
	}{
		{"gre", raw(ip4(47, hostA, hostB, 64, append(mustHex("0000 0800"), inner...))),
			"ICMP", "Echo (ping) request  id=0x0007, seq=1/256, ttl=64"},
		{"vxlan", raw(ip4(17, hostA, hostB, 64, udpPkt(40000, 4789,
			append(mustHex("0800000000000100"), ether(0x0800, inner)...)))),
			"ICMP", "Echo (ping) request  id=0x0007, seq=1/256, ttl=64"},
		{"gtp-u", raw(ip4(17, hostA, hostB, 64, udpPkt(2152, 2152,
			append(mustHex("30ff"+"0010"+"00000001"), inner...)))),
			"GTP <ICMP>", "Echo (ping) request  id=0x0007, seq=1/256, ttl=64"},
		{"sctp sack", raw(ip4(132, hostA, hostB, 64, mustHex("0b590b59 00000001 00000000 03000010 00000064 00002000 00000000"))),
			"SCTP", "SACK (Ack=0, Arwnd=8192) "},
		{"snmp get", raw(ip4(17, hostA, hostB, 64, udpPkt(40000, 161,
			mustHex("3026 020101 0406 7075626c6963 a019 020101 020100 020100 300e 300c 0608 2b06010201010300 0500")))),
			"SNMP", "get-request 1.3.6.1.2.1.1.3.0"},
		{"bt-dht error", raw(ip4(17, hostA, hostB, 64, udpPkt(6881, 6881, []byte("d1:eli201e4:Oopse1:t2:aa1:y1:ee")))),
			"BT-DHT", "BitTorrent DHT Protocolerror_no=201 error_msg=Oops "},
		{"bacnet who-is", raw(ip4(17, hostA, hostB, 64, udpPkt(47808, 47808, mustHex("810b000c 0120ffff00ff 1008")))),
			"BACnet-APDU", "Unconfirmed-REQ who-Is "},
	}
	for _, tc := range cases {
		proto, info, _ := renderFrames(tc.frame)
		if proto != tc.proto || info != tc.info {
			t.Errorf("%s: got %q | %q, want %q | %q", tc.name, proto, info, tc.proto, tc.info)
		}
	}
}
