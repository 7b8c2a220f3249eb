package synth

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// frame is one generated frame and its capture time.
type frame struct {
	at   time.Time
	data []byte
}

// flowGen builds the frames of one flow between a client and a server.
type flowGen struct {
	r            *rand.Rand
	p            *Profile
	client, srv  netip.Addr
	cport, sport uint16
	cseq, sseq   uint32
	t            time.Time
	frames       []frame
	ipID         uint16
	ttlC, ttlS   uint8
	tsC, tsS     uint32
	buf          gopacket.SerializeBuffer
}

var (
	macClient = net.HardwareAddr{0x00, 0x16, 0x3e, 0x11, 0x22, 0x33}
	macServer = net.HardwareAddr{0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}
)

func (g *flowGen) advance(mean float64) {
	d := time.Duration(g.r.ExpFloat64() * mean * float64(time.Second))
	if d < 20*time.Microsecond {
		d = 20 * time.Microsecond
	}
	g.t = g.t.Add(d)
}

func (g *flowGen) emit(fromClient bool, tl gopacket.SerializableLayer, payload []byte) {
	src, dst := g.client, g.srv
	sm, dm := macClient, macServer
	ttl := g.ttlC
	if !fromClient {
		src, dst, sm, dm, ttl = dst, src, dm, sm, g.ttlS
	}
	g.ipID++
	eth := &layers.Ethernet{SrcMAC: sm, DstMAC: dm, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: ttl, Id: g.ipID, Flags: layers.IPv4DontFragment,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
	switch l := tl.(type) {
	case *layers.TCP:
		ip.Protocol = layers.IPProtocolTCP
		l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		ip.Protocol = layers.IPProtocolUDP
		l.SetNetworkLayerForChecksum(ip)
	}
	if err := gopacket.SerializeLayers(g.buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tl, gopacket.Payload(payload)); err != nil {
		panic(err) // only on a programming error: every layer above is well-formed
	}
	g.frames = append(g.frames, frame{at: g.t, data: append([]byte(nil), g.buf.Bytes()...)})
}

// tcp sends one TCP segment and advances the sender's sequence number.
func (g *flowGen) tcp(fromClient bool, flags string, payload []byte, opts []layers.TCPOption) {
	t := &layers.TCP{Window: 502, Options: opts}
	if fromClient {
		t.SrcPort, t.DstPort, t.Seq, t.Ack = layers.TCPPort(g.cport), layers.TCPPort(g.sport), g.cseq, g.sseq
		t.Window = uint16(400 + g.r.IntN(100))
	} else {
		t.SrcPort, t.DstPort, t.Seq, t.Ack = layers.TCPPort(g.sport), layers.TCPPort(g.cport), g.sseq, g.cseq
		t.Window = uint16(230 + g.r.IntN(40))
	}
	for _, f := range flags {
		switch f {
		case 'S':
			t.SYN = true
			t.Window = 64240
		case 'A':
			t.ACK = true
		case 'P':
			t.PSH = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		}
	}
	if !t.ACK {
		t.Ack = 0
	}
	if g.p.Timestamps && !t.RST {
		g.tsC += 3
		g.tsS += 2
		tsv, tse := g.tsC, g.tsS
		if !fromClient {
			tsv, tse = tse, tsv
		}
		if t.SYN && !t.ACK {
			tse = 0
		}
		ts := make([]byte, 8)
		binary.BigEndian.PutUint32(ts, tsv)
		binary.BigEndian.PutUint32(ts[4:], tse)
		t.Options = append(t.Options, layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			layers.TCPOption{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: ts})
	}
	g.emit(fromClient, t, payload)
	n := uint32(len(payload))
	if t.SYN || t.FIN {
		n++
	}
	if fromClient {
		g.cseq += n
	} else {
		g.sseq += n
	}
}

func (g *flowGen) udp(fromClient bool, payload []byte) {
	u := &layers.UDP{SrcPort: layers.UDPPort(g.cport), DstPort: layers.UDPPort(g.sport)}
	if !fromClient {
		u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
	}
	g.emit(fromClient, u, payload)
}

func (g *flowGen) synOpts() []layers.TCPOption {
	mss := make([]byte, 2)
	binary.BigEndian.PutUint16(mss, g.p.MSS)
	return []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: mss},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{g.p.WinScale}},
	}
}

func (g *flowGen) handshake() {
	g.tcp(true, "S", nil, g.synOpts())
	g.advance(0.02)
	g.tcp(false, "SA", nil, g.synOpts())
	g.advance(0.0005)
	g.tcp(true, "A", nil, nil)
}

func (g *flowGen) close(graceful bool) {
	g.advance(g.p.Gap)
	if !graceful {
		g.tcp(true, "RA", nil, nil)
		return
	}
	g.tcp(true, "FA", nil, nil)
	g.advance(0.01)
	g.tcp(false, "FA", nil, nil)
	g.advance(0.0005)
	g.tcp(true, "A", nil, nil)
}

func (g *flowGen) random(n int) []byte {
	b := make([]byte, n)
	g.fill(b)
	return b
}

// data sends n application exchanges shaped by the profile, segmenting at
// the MSS and acknowledging as a receiver would.
func (g *flowGen) tcpData(n int, wrap func(fromClient bool, size int) []byte) {
	for i := 0; i < n; i++ {
		down := g.r.Float64() < g.p.DownShare
		mean := g.p.UpMean
		if down {
			mean = g.p.DnMean
		}
		size := g.p.size(g.r, mean, 16000)
		msg := wrap(!down, size)
		g.advance(g.p.Gap)
		for off := 0; off < len(msg); off += int(g.p.MSS) {
			end := min(off+int(g.p.MSS), len(msg))
			flags := "A"
			if end == len(msg) {
				flags = "PA"
			}
			g.tcp(!down, flags, msg[off:end], nil)
			g.advance(0.0002)
		}
		g.advance(0.001)
		g.tcp(down, "A", nil, nil)
	}
}
