package synth

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/lens-go/lens/netbench/registry"
)

// Stack is the protocol stack a class's flows use.
type Stack uint8

// The stacks. Many classes share one (most use TLS on 443), which is what
// keeps a port-only rule from solving the hard tasks.
const (
	StackTLS      Stack = iota // TCP + TLS handshake + application data
	StackHTTP                  // TCP + HTTP/1.1 request and response
	StackSSH                   // TCP + SSH banners and binary packets
	StackUDPMedia              // UDP RTP-like media (voice, video)
	StackOpenVPN               // UDP OpenVPN-like tunnel
	StackDNS                   // UDP DNS query and response
	StackTCPFlood              // bare SYNs and tiny segments (attacks)
	numStacks
)

var stackNames = [...]string{"tls", "http", "ssh", "udp-media", "openvpn", "dns", "tcp-flood"}

func (s Stack) String() string { return stackNames[s] }

// Profile is everything that makes one class's flows look the way they do.
// It is derived deterministically from the dataset, the class and the seed.
type Profile struct {
	Dataset, Class string
	Stacks         []Stack   // mixture of stacks
	StackWeights   []float64 // their probabilities
	ServerPort     uint16
	AltPort        uint16  // a second port some flows use
	SNI            string  // class-specific server name (TLS SNI, HTTP Host, DNS query)
	SharedSNI      string  // a CDN name several classes share
	SNIShare       float64 // share of TLS flows that carry the class's own SNI
	Servers        []netip.Addr
	ClientNet      netip.Prefix
	MeanPackets    float64 // mean packets per flow (geometric-ish)
	UpMean, DnMean float64 // mean payload sizes client->server, server->client
	SizeSigma      float64 // lognormal sigma of payload sizes
	DownShare      float64 // probability a data packet goes server->client
	CipherCount    int     // Client Hello cipher suites (changes its length)
	TLS13          bool
	WinScale       uint8
	MSS            uint16
	Timestamps     bool
	BackgroundDNS  float64 // share of extra DNS flows in the class's captures
	Gap            float64 // mean inter-packet gap, seconds
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// family groups classes that should look alike: classes of one family share
// stacks and ports and differ in sizes, lengths and names.
func family(d *registry.Dataset, c *registry.Class) string {
	n := strings.ToLower(c.Name)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(n, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("ddos", "dos"):
		return "flood"
	case has("mirai", "recon", "spoofing", "bruteforce", "web-based"):
		return "attack"
	case has("voip", "skype", "voipbuster", "facetime", "hangout", "audio"):
		return "voice"
	case has("torrent", "p2p", "bittorrent"):
		return "p2p"
	case has("ftps", "sftp", "scp", "file", "ftp"):
		return "file"
	case has("dns2tcp", "dnscat2", "iodine"):
		return "dnstunnel"
	case has("cridex", "geodo", "htbot", "miuref", "neris", "shifu", "virut", "zeus"):
		return "malware"
	case has("mysql"):
		return "db"
	}
	return "web"
}

// NewProfile derives the profile of class c of dataset d.
func NewProfile(d *registry.Dataset, c *registry.Class, seed uint64) *Profile {
	r := rand.New(rand.NewPCG(seed, hash64(d.Name, c.Name)))
	dsr := rand.New(rand.NewPCG(seed, hash64(d.Name)))
	fam := family(d, c)
	p := &Profile{Dataset: d.Name, Class: c.Name}
	short := strings.NewReplacer(".", "", "-", "", "_", "").Replace(strings.ToLower(c.Name))
	if len(short) > 14 {
		short = short[:14]
	}
	tlds := []string{"com", "net", "org", "io", "cn", "in"}
	p.SNI = []string{"api.", "www.", "cdn.", "edge.", "m."}[r.IntN(5)] + short + "." + tlds[r.IntN(len(tlds))]
	cdns := []string{"cloudfront.net", "akamaiedge.net", "googlevideo.com", "fbcdn.net", "fastly.net", "alicdn.com"}
	p.SharedSNI = "static." + cdns[(int(hash64(d.Name, fam)%uint64(len(cdns)))+r.IntN(2))%len(cdns)]
	p.SNIShare = 0.35 + 0.5*r.Float64()
	p.ServerPort = 443
	p.AltPort = []uint16{8443, 993, 5228, 8080}[r.IntN(4)]
	p.Stacks, p.StackWeights = []Stack{StackTLS}, []float64{1}
	p.MeanPackets = 8 + 30*r.Float64()
	p.UpMean = 80 + 400*r.Float64()
	p.DnMean = 200 + 1100*r.Float64()
	p.SizeSigma = 0.4 + 0.5*r.Float64()
	p.DownShare = 0.45 + 0.35*r.Float64()
	p.CipherCount = 8 + r.IntN(24)
	p.TLS13 = r.Float64() < 0.6
	p.BackgroundDNS = 0.05 + 0.1*r.Float64()
	p.Gap = 0.002 + 0.05*r.Float64()
	switch fam {
	case "voice":
		p.Stacks, p.StackWeights = []Stack{StackUDPMedia, StackTLS}, []float64{0.7, 0.3}
		p.ServerPort = uint16(3478 + r.IntN(3)*1000)
		p.UpMean, p.DnMean, p.SizeSigma = 90+80*r.Float64(), 90+80*r.Float64(), 0.2
		p.MeanPackets = 30 + 20*r.Float64()
		p.DownShare = 0.5
	case "p2p":
		p.Stacks, p.StackWeights = []Stack{StackUDPMedia, StackTCPFlood, StackTLS}, []float64{0.5, 0.2, 0.3}
		p.ServerPort = uint16(6881 + r.IntN(8))
	case "file":
		p.Stacks, p.StackWeights = []Stack{StackSSH, StackTLS}, []float64{0.6, 0.4}
		p.ServerPort = 22
		if strings.Contains(strings.ToLower(c.Name), "ftp") && !strings.Contains(strings.ToLower(c.Name), "sftp") {
			p.Stacks, p.ServerPort = []Stack{StackHTTP, StackTLS}, 21
		}
		p.DnMean, p.UpMean = 1200+200*r.Float64(), 400+900*r.Float64()
		p.MeanPackets = 25 + 15*r.Float64()
	case "dnstunnel":
		p.Stacks, p.StackWeights = []Stack{StackTLS, StackDNS}, []float64{0.8, 0.2}
		p.UpMean, p.DnMean = 120+250*r.Float64(), 150+300*r.Float64()
	case "malware":
		p.Stacks, p.StackWeights = []Stack{StackHTTP, StackTLS, StackDNS}, []float64{0.5, 0.3, 0.2}
		p.ServerPort = []uint16{80, 8080, 443, 447}[r.IntN(4)]
	case "db":
		p.Stacks, p.ServerPort = []Stack{StackSSH}, 3306
	case "flood":
		p.Stacks, p.StackWeights = []Stack{StackTCPFlood, StackUDPMedia}, []float64{0.8, 0.2}
		p.ServerPort = []uint16{80, 443}[r.IntN(2)]
		p.MeanPackets = 3 + 6*r.Float64()
		p.UpMean, p.DnMean = 20+60*r.Float64(), 40
		p.DownShare = 0.1 + 0.2*r.Float64()
		p.Gap = 0.0005
	case "attack":
		p.Stacks, p.StackWeights = []Stack{StackHTTP, StackTCPFlood, StackSSH}, []float64{0.5, 0.3, 0.2}
		p.ServerPort = []uint16{80, 22, 23, 8080}[r.IntN(4)]
		p.MeanPackets = 5 + 10*r.Float64()
	case "web":
		if r.Float64() < 0.25 {
			p.Stacks, p.StackWeights = []Stack{StackTLS, StackHTTP}, []float64{0.7, 0.3}
		}
	}
	// Datasets leave their own mark on every class.
	switch d.Name {
	case "ISCX-VPN":
		if c.Coarse == "vpn" {
			// VPN traffic is tunnelled: mostly OpenVPN over UDP, the class shows in sizes and timing only.
			p.Stacks = append([]Stack{StackOpenVPN}, p.Stacks...)
			w := make([]float64, len(p.StackWeights)+1)
			w[0] = 0.6
			for i, x := range p.StackWeights {
				w[i+1] = 0.4 * x
			}
			p.StackWeights = w
		}
	case "CIC-DoHBrw-2020":
		p.ServerPort = 443
	}
	p.ClientNet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(1 + dsr.IntN(200)), byte(dsr.IntN(256)), 0}), 24)
	nServers := 1 + r.IntN(4)
	for i := 0; i < nServers; i++ {
		shared := r.Float64() < 0.3
		var h uint64
		if shared { // a CDN address several classes of the family share
			h = hash64(d.Name, fam, string(rune('a'+r.IntN(4))))
		} else {
			h = hash64(d.Name, c.Name, string(rune('a'+i)))
		}
		p.Servers = append(p.Servers, netip.AddrFrom4([4]byte{byte(13 + h%200), byte(h >> 8), byte(h >> 16), byte(1 + (h>>24)%254)}))
	}
	switch r.IntN(3) {
	case 0:
		p.WinScale, p.MSS, p.Timestamps = 7, 1460, true
	case 1:
		p.WinScale, p.MSS, p.Timestamps = 8, 1460, false
	default:
		p.WinScale, p.MSS, p.Timestamps = 6, 1380, true
	}
	return p
}

func (p *Profile) pickStack(r *rand.Rand) Stack {
	x := r.Float64()
	for i, w := range p.StackWeights {
		if x < w {
			return p.Stacks[i]
		}
		x -= w
	}
	return p.Stacks[len(p.Stacks)-1]
}

// size draws a payload size around mean.
func (p *Profile) size(r *rand.Rand, mean float64, max int) int {
	mu := math.Log(mean) - p.SizeSigma*p.SizeSigma/2
	s := int(math.Exp(mu + p.SizeSigma*r.NormFloat64()))
	if s < 1 {
		s = 1
	}
	if s > max {
		s = max
	}
	return s
}

// packets draws a flow length (number of data exchanges).
func (p *Profile) packets(r *rand.Rand) int {
	n := int(r.ExpFloat64()*p.MeanPackets*0.7 + p.MeanPackets*0.3)
	if n < 2 {
		n = 2
	}
	if n > 400 {
		n = 400
	}
	return n
}
