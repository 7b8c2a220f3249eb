package baselines

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
)

// This file is the NetShare baseline: a GAN over packet header fields
// (addresses, ports, protocol, length) conditioned on the dataset, as
// NetShare (Yin et al., SIGCOMM 2022) generates header traces. It encodes
// addresses and ports as bits and the length as a scaled value, as NetShare
// does; it is a feed-forward conditional GAN rather than NetShare's
// DoppelGANger time-series model, since the paper's comparison (Table 6,
// Figure 3) uses single-packet fields. The network is small enough to train
// in pure Go with hand-written gradients.

// HeaderRecord is one packet's header fields.
type HeaderRecord struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8 // 6, 17 or other
	Len              int
}

const (
	nsBits   = 32 + 32 + 16 + 16
	nsProtos = 3 // TCP, UDP, other
	nsOut    = nsBits + nsProtos + 1
	nsMaxLen = 1514.0
)

func protoIndex(p uint8) int {
	switch p {
	case 6:
		return 0
	case 17:
		return 1
	}
	return 2
}

// encodeHeader turns a record into NetShare's vector: address and port bits,
// one-hot protocol, length scaled to [0, 1].
func encodeHeader(r HeaderRecord, out []float64) {
	clear(out)
	put := func(off int, v uint32, n int) {
		for i := 0; i < n; i++ {
			if v>>(n-1-i)&1 == 1 {
				out[off+i] = 1
			}
		}
	}
	s, d := r.Src.As4(), r.Dst.As4()
	put(0, binary.BigEndian.Uint32(s[:]), 32)
	put(32, binary.BigEndian.Uint32(d[:]), 32)
	put(64, uint32(r.SrcPort), 16)
	put(80, uint32(r.DstPort), 16)
	out[nsBits+protoIndex(r.Proto)] = 1
	out[nsOut-1] = math.Min(float64(r.Len), nsMaxLen) / nsMaxLen
}

// decodeHeader reads a generated vector back (bits thresholded at 0.5).
func decodeHeader(v []float64) HeaderRecord {
	get := func(off, n int) uint32 {
		var x uint32
		for i := 0; i < n; i++ {
			x <<= 1
			if v[off+i] > 0.5 {
				x |= 1
			}
		}
		return x
	}
	var s, d [4]byte
	binary.BigEndian.PutUint32(s[:], get(0, 32))
	binary.BigEndian.PutUint32(d[:], get(32, 32))
	p := 0
	for i := 1; i < nsProtos; i++ {
		if v[nsBits+i] > v[nsBits+p] {
			p = i
		}
	}
	return HeaderRecord{Src: netip.AddrFrom4(s), Dst: netip.AddrFrom4(d), SrcPort: uint16(get(64, 16)), DstPort: uint16(get(80, 16)),
		Proto: [...]uint8{6, 17, 0}[p], Len: int(math.Round(v[nsOut-1] * nsMaxLen))}
}

// nsDense is a fully connected layer with its Adam state.
type nsDense struct {
	in, out int
	w, b    []float64
	gw, gb  []float64
	mw, vw  []float64
	mb, vb  []float64
	x       []float64 // last input (batch-major), for backprop
	y       []float64 // last output
}

func newNSDense(in, out int, r *rand.Rand) *nsDense {
	d := &nsDense{in: in, out: out, w: make([]float64, in*out), b: make([]float64, out),
		gw: make([]float64, in*out), gb: make([]float64, out),
		mw: make([]float64, in*out), vw: make([]float64, in*out), mb: make([]float64, out), vb: make([]float64, out)}
	s := math.Sqrt(2 / float64(in))
	for i := range d.w {
		d.w[i] = r.NormFloat64() * s
	}
	return d
}

// forward computes y = x W + b for a batch of n rows.
func (d *nsDense) forward(x []float64, n int) []float64 {
	d.x = x
	d.y = nsGrow(d.y, n*d.out)
	for r := 0; r < n; r++ {
		xr, yr := x[r*d.in:(r+1)*d.in], d.y[r*d.out:(r+1)*d.out]
		copy(yr, d.b)
		for i, xv := range xr {
			if xv == 0 {
				continue
			}
			wi := d.w[i*d.out : (i+1)*d.out]
			for j := range yr {
				yr[j] += xv * wi[j]
			}
		}
	}
	return d.y
}

// backward accumulates the gradients for dy and returns dx.
func (d *nsDense) backward(dy []float64, n int, dx []float64) []float64 {
	dx = nsGrow(dx, n*d.in)
	clear(dx)
	for r := 0; r < n; r++ {
		xr, dyr, dxr := d.x[r*d.in:(r+1)*d.in], dy[r*d.out:(r+1)*d.out], dx[r*d.in:(r+1)*d.in]
		for j, g := range dyr {
			d.gb[j] += g
		}
		for i, xv := range xr {
			wi, gwi := d.w[i*d.out:(i+1)*d.out], d.gw[i*d.out:(i+1)*d.out]
			var s float64
			for j, g := range dyr {
				gwi[j] += xv * g
				s += wi[j] * g
			}
			dxr[i] = s
		}
	}
	return dx
}

func (d *nsDense) zero() { clear(d.gw); clear(d.gb) }

func (d *nsDense) adam(lr float64, step int) {
	const b1, b2, eps = 0.5, 0.999, 1e-8 // beta1 0.5 as usual for GANs
	c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
	upd := func(p, g, m, v []float64) {
		for i := range p {
			m[i] = b1*m[i] + (1-b1)*g[i]
			v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
			p[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps)
		}
	}
	upd(d.w, d.gw, d.mw, d.vw)
	upd(d.b, d.gb, d.mb, d.vb)
}

func nsGrow(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// nsMLP is nsDense layers with leaky ReLU between them.
type nsMLP struct {
	layers []*nsDense
	acts   [][]float64 // pre-activation outputs kept for backprop
}

func newNSMLP(sizes []int, r *rand.Rand) *nsMLP {
	m := &nsMLP{}
	for i := 0; i+1 < len(sizes); i++ {
		m.layers = append(m.layers, newNSDense(sizes[i], sizes[i+1], r))
	}
	m.acts = make([][]float64, len(m.layers))
	return m
}

const nsLeak = 0.2

func (m *nsMLP) forward(x []float64, n int) []float64 {
	for i, l := range m.layers {
		y := l.forward(x, n)
		if i == len(m.layers)-1 {
			return y
		}
		m.acts[i] = nsGrow(m.acts[i], len(y))
		copy(m.acts[i], y)
		h := make([]float64, len(y))
		for k, v := range y {
			if v < 0 {
				v *= nsLeak
			}
			h[k] = v
		}
		x = h
	}
	return x
}

func (m *nsMLP) backward(dy []float64, n int) []float64 {
	for i := len(m.layers) - 1; i >= 0; i-- {
		dx := m.layers[i].backward(dy, n, nil)
		if i > 0 {
			for k, pre := range m.acts[i-1] {
				if pre < 0 {
					dx[k] *= nsLeak
				}
			}
		}
		dy = dx
	}
	return dy
}

func (m *nsMLP) zero() {
	for _, l := range m.layers {
		l.zero()
	}
}

func (m *nsMLP) adam(lr float64, step int) {
	for _, l := range m.layers {
		l.adam(lr, step)
	}
}

// NetShareConfig sizes and trains the GAN.
type NetShareConfig struct {
	Noise, Hidden int
	Steps, Batch  int
	LR            float64
	Seed          uint64
}

// DefaultNetShareConfig is the smoke-sized GAN.
func DefaultNetShareConfig() NetShareConfig {
	return NetShareConfig{Noise: 16, Hidden: 128, Steps: 1500, Batch: 64, LR: 2e-4, Seed: 1}
}

// NetShare is a trained conditional header GAN.
type NetShare struct {
	cfg   NetShareConfig
	conds int
	g, d  *nsMLP
	r     *rand.Rand
}

func nsSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// generatorOut turns the generator's raw outputs into a header vector:
// sigmoid bits and length, softmax protocol.
func generatorOut(raw, out []float64) {
	for i := 0; i < nsBits; i++ {
		out[i] = nsSigmoid(raw[i])
	}
	m := math.Inf(-1)
	for i := nsBits; i < nsBits+nsProtos; i++ {
		m = math.Max(m, raw[i])
	}
	var z float64
	for i := nsBits; i < nsBits+nsProtos; i++ {
		out[i] = math.Exp(raw[i] - m)
		z += out[i]
	}
	for i := nsBits; i < nsBits+nsProtos; i++ {
		out[i] /= z
	}
	out[nsOut-1] = nsSigmoid(raw[nsOut-1])
}

// TrainNetShare fits the GAN to records, each with a condition index in
// [0, conds) (the dataset).
func TrainNetShare(recs []HeaderRecord, cond []int, conds int, cfg NetShareConfig) (*NetShare, error) {
	if len(recs) == 0 || len(recs) != len(cond) {
		return nil, fmt.Errorf("netshare: %d records and %d conditions", len(recs), len(cond))
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x4e5))
	ns := &NetShare{cfg: cfg, conds: conds, r: r,
		g: newNSMLP([]int{cfg.Noise + conds, cfg.Hidden, cfg.Hidden, nsOut}, r),
		d: newNSMLP([]int{nsOut + conds, cfg.Hidden, cfg.Hidden, 1}, r)}
	real := make([][]float64, len(recs))
	for i, rec := range recs {
		real[i] = make([]float64, nsOut)
		encodeHeader(rec, real[i])
	}
	B := cfg.Batch
	dIn := make([]float64, B*(nsOut+conds))
	gIn := make([]float64, B*(cfg.Noise+conds))
	fake := make([]float64, B*nsOut)
	dy := make([]float64, B)
	gradOut := make([]float64, B*nsOut)
	condOf := make([]int, B)
	for step := 1; step <= cfg.Steps; step++ {
		// Generator forward on a batch of conditions drawn from the data.
		for k := 0; k < B; k++ {
			condOf[k] = cond[r.IntN(len(cond))]
		}
		ns.fillNoise(gIn, condOf)
		raw := ns.g.forward(gIn, B)
		for k := 0; k < B; k++ {
			generatorOut(raw[k*nsOut:(k+1)*nsOut], fake[k*nsOut:(k+1)*nsOut])
		}
		// Discriminator: real (label 0.9) then fake (label 0).
		ns.d.zero()
		for pass := 0; pass < 2; pass++ {
			for k := 0; k < B; k++ {
				row := dIn[k*(nsOut+conds) : (k+1)*(nsOut+conds)]
				clear(row)
				if pass == 0 {
					i := r.IntN(len(real))
					copy(row, real[i])
					row[nsOut+cond[i]] = 1
				} else {
					copy(row, fake[k*nsOut:(k+1)*nsOut])
					row[nsOut+condOf[k]] = 1
				}
			}
			logit := ns.d.forward(dIn, B)
			target := 0.9
			if pass == 1 {
				target = 0
			}
			for k := 0; k < B; k++ {
				dy[k] = (nsSigmoid(logit[k]) - target) / float64(B)
			}
			ns.d.backward(dy, B)
		}
		ns.d.adam(cfg.LR, step)
		// Generator: make the discriminator call fakes real.
		for k := 0; k < B; k++ {
			row := dIn[k*(nsOut+conds) : (k+1)*(nsOut+conds)]
			clear(row)
			copy(row, fake[k*nsOut:(k+1)*nsOut])
			row[nsOut+condOf[k]] = 1
		}
		logit := ns.d.forward(dIn, B)
		for k := 0; k < B; k++ {
			dy[k] = (nsSigmoid(logit[k]) - 1) / float64(B)
		}
		ns.d.zero()
		dx := ns.d.backward(dy, B)
		// through the output nonlinearities
		for k := 0; k < B; k++ {
			f := fake[k*nsOut : (k+1)*nsOut]
			gx := dx[k*(nsOut+conds) : k*(nsOut+conds)+nsOut]
			go_ := gradOut[k*nsOut : (k+1)*nsOut]
			for i := 0; i < nsBits; i++ {
				go_[i] = gx[i] * f[i] * (1 - f[i])
			}
			var dot float64
			for i := nsBits; i < nsBits+nsProtos; i++ {
				dot += gx[i] * f[i]
			}
			for i := nsBits; i < nsBits+nsProtos; i++ {
				go_[i] = f[i] * (gx[i] - dot)
			}
			go_[nsOut-1] = gx[nsOut-1] * f[nsOut-1] * (1 - f[nsOut-1])
		}
		ns.g.zero()
		ns.g.forward(gIn, B) // restore the generator's activations for its backward pass
		ns.g.backward(gradOut, B)
		ns.g.adam(cfg.LR, step)
	}
	return ns, nil
}

func (ns *NetShare) fillNoise(gIn []float64, condOf []int) {
	w := ns.cfg.Noise + ns.conds
	for k, c := range condOf {
		row := gIn[k*w : (k+1)*w]
		clear(row)
		for i := 0; i < ns.cfg.Noise; i++ {
			row[i] = ns.r.NormFloat64()
		}
		row[ns.cfg.Noise+c] = 1
	}
}

// Generate draws n header records for condition c.
func (ns *NetShare) Generate(c, n int) []HeaderRecord {
	out := make([]HeaderRecord, 0, n)
	vec := make([]float64, nsOut)
	for n > 0 {
		b := min(n, ns.cfg.Batch)
		condOf := make([]int, b)
		for i := range condOf {
			condOf[i] = c
		}
		gIn := make([]float64, b*(ns.cfg.Noise+ns.conds))
		ns.fillNoise(gIn, condOf)
		raw := ns.g.forward(gIn, b)
		for k := 0; k < b; k++ {
			generatorOut(raw[k*nsOut:(k+1)*nsOut], vec)
			out = append(out, decodeHeader(vec))
		}
		n -= b
	}
	return out
}
