package baselines

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/lens-go/lens/netbench"
)

// synthRecords: sources in two /24s, destinations among 4 servers, server
// ports 443 (60%), 80 (25%), 53 (15%), ephemeral source ports, lengths
// either small (40-100) or near the MTU (1400-1500).
func synthRecords(n int, seed uint64) []HeaderRecord {
	r := rand.New(rand.NewPCG(seed, 1))
	servers := []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("142.250.1.1"), netip.MustParseAddr("151.101.1.69")}
	out := make([]HeaderRecord, n)
	for i := range out {
		net := byte(1 + r.IntN(2))
		rec := HeaderRecord{
			SrcIP:   netip.AddrFrom4([4]byte{192, 168, net, byte(2 + r.IntN(30))}),
			DstIP:   servers[r.IntN(len(servers))],
			SrcPort: uint16(32768 + r.IntN(28000)),
		}
		switch x := r.Float64(); {
		case x < 0.6:
			rec.DstPort = 443
		case x < 0.85:
			rec.DstPort = 80
		default:
			rec.DstPort = 53
		}
		if r.IntN(2) == 0 {
			rec.Len = 40 + r.IntN(60)
		} else {
			rec.Len = 1400 + r.IntN(100)
		}
		out[i] = rec
	}
	return out
}

// tvd is the total variation distance between two samples' value histograms.
func tvd[K comparable](a, b []K) float64 {
	ca, cb := map[K]float64{}, map[K]float64{}
	for _, x := range a {
		ca[x] += 1 / float64(len(a))
	}
	for _, x := range b {
		cb[x] += 1 / float64(len(b))
	}
	d := 0.0
	for k, p := range ca {
		d += abs(p - cb[k])
	}
	for k, q := range cb {
		if _, ok := ca[k]; !ok {
			d += q
		}
	}
	return d / 2
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestRecordEncoding(t *testing.T) {
	r := HeaderRecord{SrcIP: netip.MustParseAddr("10.1.2.3"), DstIP: netip.MustParseAddr("8.8.4.4"), SrcPort: 51234, DstPort: 443, Len: 750}
	v := make([]float32, netshareBits+1)
	r.encode(v, 1500)
	if got := decodeRecord(v, 1500); got != r {
		t.Fatalf("round trip %+v, want %+v", got, r)
	}
}

// TestNetShareLearns trains the stand-in briefly and wants the generated
// destination ports, destination subnets and length classes closer to the
// real distribution (total variation) than an untrained generator's.
func TestNetShareLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a GAN")
	}
	real := synthRecords(2048, 1)
	test := synthRecords(1000, 2)
	fields := func(rs []HeaderRecord) (ports []uint16, dst []netip.Addr, big []bool) {
		for _, r := range rs {
			ports = append(ports, r.DstPort)
			dst = append(dst, r.DstIP)
			big = append(big, r.Len > 700)
		}
		return
	}
	rp, rd, rl := fields(test)
	score := func(epochs int) (float64, float64, float64) {
		g, err := TrainNetShare(context.Background(), Config{Preset: "smoke", Epochs: epochs, Batch: 64, Seed: 1, LR: 1e-3}, real)
		if err != nil {
			t.Fatal(err)
		}
		gen, err := g.Generate(1000, 7)
		if err != nil {
			t.Fatal(err)
		}
		gp, gd, gl := fields(gen)
		if epochs > 0 {
			t.Logf("generated: %v", topCounts(gp, 5))
			t.Logf("generated: %v", topCounts(gd, 5))
		}
		return tvd(gp, rp), tvd(gd, rd), tvd(gl, rl)
	}
	p0, d0, l0 := score(0)
	p1, d1, l1 := score(80)
	t.Logf("TVD untrained: dst port %.3f, dst ip %.3f, length class %.3f; trained: %.3f, %.3f, %.3f", p0, d0, l0, p1, d1, l1)
	if !(p1 < p0 && d1 < d0 && p1 < 0.5 && l1 < 0.3) {
		t.Errorf("training did not bring the generated ports/addresses closer to the real ones")
	}
}

func topCounts[K comparable](xs []K, n int) map[K]int {
	c := map[K]int{}
	for _, x := range xs {
		c[x]++
	}
	out := map[K]int{}
	for range n {
		var best K
		bc := 0
		for k, v := range c {
			if v > bc {
				best, bc = k, v
			}
		}
		if bc == 0 {
			break
		}
		out[best] = bc
		delete(c, best)
	}
	return out
}

func TestHeaderRecords(t *testing.T) {
	f := &netbench.Flow{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Headers: []netbench.Header{{Dir: 0, SrcPort: 5000, DstPort: 443, Proto: 6, Len: 74}, {Dir: 1, SrcPort: 443, DstPort: 5000, Proto: 6, Len: 1514}}}
	rs := HeaderRecords(f)
	want := []HeaderRecord{
		{SrcIP: f.Src, DstIP: f.Dst, SrcPort: 5000, DstPort: 443, Len: 74},
		{SrcIP: f.Dst, DstIP: f.Src, SrcPort: 443, DstPort: 5000, Len: 1514},
	}
	if len(rs) != 2 || rs[0] != want[0] || rs[1] != want[1] {
		t.Errorf("records %+v, want %+v", rs, want)
	}
}
