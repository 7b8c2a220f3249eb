// Package synth writes synthetic NetBench-shaped captures: for every dataset
// and class of the registry, real pcap files (valid headers and checksums,
// readable by tshark) whose flows differ by class the way real applications
// do (protocol stacks, server ports, TLS handshake shapes and server names,
// packet sizes, directions, flow lengths) and overlap the way real ones do
// (most classes share TLS on port 443; CDN names and addresses are shared
// within a family). Output is deterministic by seed and generated one capture
// at a time, so memory does not grow with the scale.
package synth

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/lens-go/lens/netbench/registry"
)

// Config sets what Generate writes.
type Config struct {
	Out      string
	Seed     uint64
	Flows    int      // flows per dataset (before the per-class minimum); 0 means 600
	MinFlows int      // every class gets at least this many flows; 0 means 6
	Datasets []string // dataset names; empty means all
	// FlowsPerCapture bounds the flows in one capture file; 0 means 200.
	FlowsPerCapture int
	Progress        func(dataset string, done, total int) `json:"-"`
}

// Summary counts what Generate wrote.
type Summary struct {
	Captures, Flows, Frames int
	PerClass                map[string]int // "dataset/class" -> flows
}

// Allocate splits n flows among classes by weight, every class getting at
// least min, so the long tail of the registry (Table 4's 11055/1216/55/10/5)
// survives at any scale.
func Allocate(classes []registry.Class, n, min int) []int {
	var total float64
	for _, c := range classes {
		total += c.Weight
	}
	out := make([]int, len(classes))
	for i, c := range classes {
		k := int(math.Round(float64(n) * c.Weight / total))
		if k < min {
			k = min
		}
		out[i] = k
	}
	return out
}

// Generate writes OUT/<dataset>/<class>/<class>-NNNN.pcap for every class.
func Generate(ctx context.Context, reg *registry.Registry, cfg Config) (*Summary, error) {
	if cfg.Flows <= 0 {
		cfg.Flows = 600
	}
	if cfg.MinFlows <= 0 {
		cfg.MinFlows = 6
	}
	if cfg.FlowsPerCapture <= 0 {
		cfg.FlowsPerCapture = 200
	}
	want := map[string]bool{}
	for _, d := range cfg.Datasets {
		if _, err := reg.Dataset(d); err != nil {
			return nil, err
		}
		want[d] = true
	}
	sum := &Summary{PerClass: map[string]int{}}
	for di := range reg.Datasets {
		d := &reg.Datasets[di]
		if len(want) > 0 && !want[d.Name] {
			continue
		}
		alloc := Allocate(d.Classes, cfg.Flows, cfg.MinFlows)
		total := 0
		for _, k := range alloc {
			total += k
		}
		done := 0
		for ci := range d.Classes {
			c := &d.Classes[ci]
			prof := NewProfile(d, c, cfg.Seed)
			dir := filepath.Join(cfg.Out, d.Name, c.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			for file, left := 0, alloc[ci]; left > 0; file++ {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				n := min(left, cfg.FlowsPerCapture)
				path := filepath.Join(dir, fmt.Sprintf("%s-%04d.pcap", c.Name, file))
				frames, err := writeCapture(path, prof, cfg.Seed, file, n)
				if err != nil {
					return nil, err
				}
				sum.Captures++
				sum.Flows += n
				sum.Frames += frames
				sum.PerClass[d.Name+"/"+c.Name] += n
				left -= n
				done += n
				if cfg.Progress != nil {
					cfg.Progress(d.Name, done, total)
				}
			}
		}
	}
	return sum, nil
}

// captureEpoch is the start of every synthetic capture's clock.
var captureEpoch = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// writeCapture generates n flows of profile p and writes them, merged in
// time order, to a pcap file; it returns the number of frames.
func writeCapture(path string, p *Profile, seed uint64, file, n int) (int, error) {
	r := rand.New(rand.NewPCG(seed^0x5eed, hash64(p.Dataset, p.Class, fmt.Sprint(file))))
	var frames []frame
	buf := gopacket.NewSerializeBuffer()
	start := captureEpoch.Add(time.Duration(file) * time.Hour)
	usedPorts := map[uint16]bool{}
	for i := 0; i < n; i++ {
		g := &flowGen{r: r, p: p, buf: buf, t: start.Add(time.Duration(r.Float64() * float64(50*time.Minute))),
			ttlC: 64, ttlS: uint8(40 + r.IntN(20)), tsC: r.Uint32(), tsS: r.Uint32(), ipID: uint16(r.IntN(65536))}
		host := p.ClientNet.Addr().As4()
		host[3] = byte(2 + r.IntN(250))
		g.client = netip.AddrFrom4(host)
		g.srv = p.Servers[r.IntN(len(p.Servers))]
		for {
			g.cport = uint16(32768 + r.IntN(28000))
			if !usedPorts[g.cport] {
				usedPorts[g.cport] = true
				break
			}
		}
		g.cseq, g.sseq = r.Uint32(), r.Uint32()
		g.sport = p.ServerPort
		if r.Float64() < 0.1 {
			g.sport = p.AltPort
		}
		stack := p.pickStack(r)
		if r.Float64() < p.BackgroundDNS {
			stack = StackDNS
		}
		g.flow(stack)
		frames = append(frames, g.frames...)
	}
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].at.Before(frames[j].at) })
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, err
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return 0, err
	}
	for _, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: fr.at, CaptureLength: len(fr.data), Length: len(fr.data)}
		if err := w.WritePacket(ci, fr.data); err != nil {
			f.Close()
			return 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return len(frames), os.Rename(path+".tmp", path)
}

// flow generates one flow of the given stack.
func (g *flowGen) flow(s Stack) {
	p := g.p
	switch s {
	case StackTLS:
		g.handshake()
		sni := p.SharedSNI
		if g.r.Float64() < p.SNIShare {
			sni = p.SNI
		}
		g.advance(p.Gap)
		g.tcp(true, "PA", g.clientHello(sni), nil)
		g.advance(0.02)
		g.tcp(false, "A", nil, nil)
		g.sendSegmented(false, g.serverFlight())
		g.advance(p.Gap)
		g.tcp(true, "PA", g.clientFinished(), nil)
		g.tcpData(p.packets(g.r)/2, func(fromClient bool, size int) []byte { return g.appData(size) })
		g.close(g.r.Float64() < 0.8)
	case StackHTTP:
		g.handshake()
		host := p.SNI
		for i, n := 0, 1+g.r.IntN(3); i < n; i++ {
			g.advance(p.Gap)
			g.tcp(true, "PA", g.httpRequest(host), nil)
			g.advance(0.02)
			g.sendSegmented(false, g.httpResponse(p.size(g.r, p.DnMean, 20000)))
			g.advance(0.001)
			g.tcp(true, "A", nil, nil)
		}
		g.close(true)
	case StackSSH:
		g.handshake()
		g.advance(p.Gap)
		g.tcp(false, "PA", []byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n"), nil)
		g.advance(0.001)
		g.tcp(true, "PA", []byte("SSH-2.0-OpenSSH_9.0\r\n"), nil)
		g.tcpData(p.packets(g.r)/2, func(fromClient bool, size int) []byte {
			b := make([]byte, 4, size+4)
			b[2], b[3] = byte(size>>8), byte(size)
			return append(b, g.random(size)...)
		})
		g.close(true)
	case StackUDPMedia:
		n := p.packets(g.r) * 2
		for i := 0; i < n; i++ {
			down := i > 0 && g.r.Float64() < p.DownShare // the client speaks first
			mean := p.UpMean
			if down {
				mean = p.DnMean
			}
			g.advance(p.Gap)
			g.udp(!down, g.rtp(uint16(i), p.size(g.r, mean, 1200)))
		}
	case StackOpenVPN:
		g.sport = 1194
		n := p.packets(g.r) * 2
		for i := 0; i < n; i++ {
			down := i > 0 && g.r.Float64() < p.DownShare
			mean := p.UpMean
			if down {
				mean = p.DnMean
			}
			g.advance(p.Gap)
			g.udp(!down, g.openvpn(p.size(g.r, mean, 1400)))
		}
	case StackDNS:
		g.sport = 53
		g.srv = netip.AddrFrom4([4]byte{8, 8, byte(4 + g.r.IntN(2)*4), 8})
		id := uint16(g.r.IntN(65536))
		name := p.SNI
		if g.r.Float64() < 0.4 {
			name = p.SharedSNI
		}
		qt := uint16(1)
		if g.r.Float64() < 0.3 {
			qt = 28
		}
		g.udp(true, dnsMessage(id, name, qt, false, 0))
		g.advance(0.015)
		g.udp(false, dnsMessage(id, name, qt, true, map[bool]int{true: 1, false: 0}[qt == 1]+g.r.IntN(2)))
	case StackTCPFlood:
		n := 1 + p.packets(g.r)/3
		for i := 0; i < n; i++ {
			g.advance(p.Gap)
			if g.r.Float64() < 0.7 {
				g.tcp(true, "S", nil, nil)
				if g.r.Float64() < p.DownShare {
					g.advance(0.001)
					g.tcp(false, "RA", nil, nil)
				}
			} else {
				g.tcp(true, "PA", g.random(1+p.size(g.r, p.UpMean, 1400)), nil)
			}
		}
	}
}

// sendSegmented sends msg in MSS-sized segments.
func (g *flowGen) sendSegmented(fromClient bool, msg []byte) {
	for off := 0; off < len(msg); off += int(g.p.MSS) {
		end := min(off+int(g.p.MSS), len(msg))
		flags := "A"
		if end == len(msg) {
			flags = "PA"
		}
		g.tcp(fromClient, flags, msg[off:end], nil)
		g.advance(0.0003)
	}
}
