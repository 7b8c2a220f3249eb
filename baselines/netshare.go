package baselines

// A NetShare stand-in for the header-field generation tasks (Tables 6-7).
// NetShare (Yin et al., SIGCOMM 2022) trains a DoppelGANger-style
// time-series GAN over flows, with IP addresses bit-encoded, ports encoded
// with IP2Vec embeddings, lengths min-max normalised, Wasserstein loss with
// a gradient penalty, and differential-privacy options. The stand-in keeps
// the field encodings that matter for the five fields the paper generates
// (source and destination IP, ports, packet length) and the adversarial
// training, at packet level and small scale: an MLP generator from Gaussian
// noise to 32+32 IP bits, 16+16 port bits and a length in [0, 1], an MLP
// discriminator, the non-saturating GAN loss, alternating AdamW steps.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/lens-go/lens/netbench"
)

// HeaderRecord is one packet's five generated header fields.
type HeaderRecord struct {
	SrcIP, DstIP     netip.Addr // IPv4 (IPv6 addresses are folded to their last 4 bytes)
	SrcPort, DstPort uint16
	Len              int
}

const netshareBits = 32 + 32 + 16 + 16

func ip4bits(a netip.Addr) uint32 {
	b := a.As16()
	return binary.BigEndian.Uint32(b[12:])
}

// encode writes r as 96 bits (MSB first) then the length scaled by maxLen.
func (r HeaderRecord) encode(dst []float32, maxLen int) {
	vals := []struct {
		v uint32
		n int
	}{{ip4bits(r.SrcIP), 32}, {ip4bits(r.DstIP), 32}, {uint32(r.SrcPort), 16}, {uint32(r.DstPort), 16}}
	i := 0
	for _, f := range vals {
		for b := f.n - 1; b >= 0; b-- {
			dst[i] = float32(f.v >> uint(b) & 1)
			i++
		}
	}
	dst[i] = float32(min(r.Len, maxLen)) / float32(maxLen)
}

func decodeRecord(v []float32, maxLen int) HeaderRecord {
	i := 0
	read := func(n int) uint32 {
		var x uint32
		for range n {
			x <<= 1
			if v[i] >= 0.5 {
				x |= 1
			}
			i++
		}
		return x
	}
	var src, dst [4]byte
	binary.BigEndian.PutUint32(src[:], read(32))
	binary.BigEndian.PutUint32(dst[:], read(32))
	sp, dp := uint16(read(16)), uint16(read(16))
	return HeaderRecord{SrcIP: netip.AddrFrom4(src), DstIP: netip.AddrFrom4(dst), SrcPort: sp, DstPort: dp,
		Len: int(math.Round(float64(v[i]) * float64(maxLen)))}
}

type netshareSize struct{ noise, hidden, layers int }

func netshareSizes(p string) (netshareSize, error) {
	return preset(p, netshareSize{16, 64, 2}, netshareSize{32, 128, 2}, netshareSize{64, 256, 3}, netshareSize{128, 512, 3})
}

// NetShareGAN is a trained stand-in generator.
type NetShareGAN struct {
	cfg    Config
	sz     netshareSize
	maxLen int
	n      *net
	// Backend is the backend configuration that ran.
	Backend string
}

func (g *NetShareGAN) generator(w weights, z *Node) *Node {
	h := z
	for i := range g.sz.layers {
		h = relu(dense(w, blockName("gen", i), h))
	}
	return Sigmoid(dense(w, "gen.out", h))
}

// netsharePack is how many samples the discriminator judges together
// (PacGAN's packing, against mode collapse).
const netsharePack = 4

// discriminator scores x [B, 97] in packs of netsharePack rows: [B/pack].
func (g *NetShareGAN) discriminator(w weights, x *Node) *Node {
	h := Reshape(x, x.Shape().Dim(0)/netsharePack, netsharePack*(netshareBits+1))
	for i := range g.sz.layers {
		y := dense(w, blockName("disc", i), h)
		h = Where(GreaterThan(y, ZerosLike(y)), y, MulScalar(y, 0.2)) // leaky ReLU
	}
	return Squeeze(dense(w, "disc.out", h), -1)
}

// softplus(x) = log(1 + e^x), stable for large |x|.
func softplus(x *Node) *Node {
	return Add(relu(x), Log1P(Exp(Neg(Abs(x)))))
}

// TrainNetShare fits the stand-in GAN to real records for cfg.Epochs passes.
func TrainNetShare(ctx context.Context, cfg Config, real []HeaderRecord) (g *NetShareGAN, err error) {
	defer recoverInto(&err)
	cfg = cfg.withDefaults()
	if cfg.LR == 0 {
		cfg.LR = 2e-4
	}
	if len(real) == 0 {
		return nil, fmt.Errorf("baselines: NetShare: no records")
	}
	sz, err := netshareSizes(cfg.Preset)
	if err != nil {
		return nil, err
	}
	backend, name, err := newBackend(cfg.Backend)
	if err != nil {
		return nil, err
	}
	maxLen := 1
	for _, r := range real {
		maxLen = max(maxLen, r.Len)
	}
	var s specs
	in := sz.noise
	for i := range sz.layers {
		s.dense(blockName("gen", i), in, sz.hidden)
		in = sz.hidden
	}
	s.dense("gen.out", sz.hidden, netshareBits+1)
	in = netsharePack * (netshareBits + 1)
	for i := range sz.layers {
		s.dense(blockName("disc", i), in, sz.hidden)
		in = sz.hidden
	}
	s.dense("disc.out", sz.hidden, 1)
	g = &NetShareGAN{cfg: cfg, sz: sz, maxLen: maxLen, n: newNet(backend, s.list, cfg.Seed), Backend: name}
	var genIdx, discIdx []int
	for i, p := range g.n.specs {
		if p.name[:3] == "gen" {
			genIdx = append(genIdx, i)
		} else {
			discIdx = append(discIdx, i)
		}
	}
	// Inputs: real [B, 97], noise [B, noise].
	discLoss := func(w weights, in []*Node) *Node {
		fake := StopGradient(g.generator(w, in[1]))
		return Add(ReduceAllMean(softplus(Neg(g.discriminator(w, in[0])))), ReduceAllMean(softplus(g.discriminator(w, fake))))
	}
	genLoss := func(w weights, in []*Node) *Node {
		return ReduceAllMean(softplus(Neg(g.discriminator(w, g.generator(w, in[1])))))
	}
	// GANs train with beta1 = 0.5 (DCGAN's setting). The two networks'
	// parameters are disjoint, so they keep separate AdamW moments; they
	// share the step count used for bias correction (a negligible difference).
	opt := defaultAdam(cfg.LR)
	opt.beta1, opt.decay = 0.5, 0
	enc := make([]float32, len(real)*(netshareBits+1))
	for i, r := range real {
		r.encode(enc[i*(netshareBits+1):], maxLen)
	}
	noise := rand.New(rand.NewPCG(cfg.Seed, 0x6a4))
	B := min(cfg.Batch, len(real)) / netsharePack * netsharePack
	if B == 0 {
		return nil, fmt.Errorf("baselines: NetShare needs at least %d records", netsharePack)
	}
	for epoch := range cfg.Epochs {
		order := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch))).Perm(len(real))
		for lo := 0; lo+B <= len(order); lo += B {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			x := make([]float32, 0, B*(netshareBits+1))
			for _, i := range order[lo : lo+B] {
				x = append(x, enc[i*(netshareBits+1):(i+1)*(netshareBits+1)]...)
			}
			in := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, B, netshareBits+1), g.noise(noise, B)}
			if _, err := g.n.step("disc", discIdx, discLoss, in, opt); err != nil {
				return nil, err
			}
			in[1] = g.noise(noise, B)
			if _, err := g.n.step("gen", genIdx, genLoss, in, opt); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

func (g *NetShareGAN) noise(r *rand.Rand, B int) *tensors.Tensor {
	z := make([]float32, B*g.sz.noise)
	for i := range z {
		z[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(z, B, g.sz.noise)
}

// Generate draws n records, deterministic in seed.
func (g *NetShareGAN) Generate(n int, seed uint64) (out []HeaderRecord, err error) {
	defer recoverInto(&err)
	r := rand.New(rand.NewPCG(seed, 0x9e4))
	B := g.cfg.Batch
	for len(out) < n {
		res, err := g.n.run("generate", func(w weights, in []*Node) []*Node { return []*Node{g.generator(w, in[0])} },
			[]*tensors.Tensor{g.noise(r, B)})
		if err != nil {
			return nil, err
		}
		for i := 0; i < B && len(out) < n; i++ {
			out = append(out, decodeRecord(res[0][i*(netshareBits+1):(i+1)*(netshareBits+1)], g.maxLen))
		}
	}
	return out, nil
}

// HeaderRecords returns one record per packet header the NetBench flow
// keeps (its first netbench.MaxFlowPackets packets): addresses from the
// flow's initiator/responder swapped for packets in the reverse direction,
// the packet's own ports and its length as the corpus records it (the
// frame length).
func HeaderRecords(f *netbench.Flow) []HeaderRecord {
	out := make([]HeaderRecord, 0, len(f.Headers))
	for _, h := range f.Headers {
		r := HeaderRecord{SrcIP: f.Src, DstIP: f.Dst, SrcPort: h.SrcPort, DstPort: h.DstPort, Len: h.Len}
		if h.Dir == 1 {
			r.SrcIP, r.DstIP = f.Dst, f.Src
		}
		out = append(out, r)
	}
	return out
}
