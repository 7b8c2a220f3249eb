package baselines

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
)

func TestHeaderEncodingRoundTrip(t *testing.T) {
	r := HeaderRecord{Src: netip.MustParseAddr("10.1.2.3"), Dst: netip.MustParseAddr("93.184.216.34"), SrcPort: 51234, DstPort: 443, Proto: 6, Len: 1514}
	v := make([]float64, nsOut)
	encodeHeader(r, v)
	if got := decodeHeader(v); got != r {
		t.Fatalf("round trip %+v -> %+v", r, got)
	}
}

// dist of one field's values
func dist(vals []string) map[string]float64 {
	d := map[string]float64{}
	for _, v := range vals {
		d[v] += 1 / float64(len(vals))
	}
	return d
}

func tvd(p, q map[string]float64) float64 {
	s := 0.0
	for k, v := range p {
		s += math.Abs(v - q[k])
	}
	for k, v := range q {
		if _, ok := p[k]; !ok {
			s += v
		}
	}
	return s / 2
}

// The GAN learns per-condition header distributions: condition 0 talks to
// port 443 over TCP, condition 1 to port 53 over UDP; after training, the
// generated destination ports and protocols follow the condition far better
// than before training.
func TestNetShareLearnsConditionalFields(t *testing.T) {
	var recs []HeaderRecord
	var cond []int
	for i := 0; i < 400; i++ {
		c := i % 2
		rec := HeaderRecord{Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%4)}), Dst: netip.MustParseAddr("8.8.8.8"),
			SrcPort: uint16(40000 + i%8), DstPort: 443, Proto: 6, Len: 1200 + i%50}
		if c == 1 {
			rec.DstPort, rec.Proto, rec.Len = 53, 17, 80+i%10
		}
		recs = append(recs, rec)
		cond = append(cond, c)
	}
	field := func(rs []HeaderRecord) []string {
		var s []string
		for _, r := range rs {
			s = append(s, fmt.Sprintf("%d/%d", r.DstPort, r.Proto))
		}
		return s
	}
	var recs0, recs1 []HeaderRecord
	for i, r := range recs {
		if cond[i] == 0 {
			recs0 = append(recs0, r)
		} else {
			recs1 = append(recs1, r)
		}
	}
	real0 := dist(field(recs0))
	real1 := dist(field(recs1))
	cfg := DefaultNetShareConfig()
	cfg.Hidden, cfg.Batch, cfg.LR = 64, 64, 1e-3
	cfg.Steps = 1
	untrained, err := TrainNetShare(recs, cond, 2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := tvd(real0, dist(field(untrained.Generate(0, 200)))) + tvd(real1, dist(field(untrained.Generate(1, 200))))
	cfg.Steps = 800
	ns, _ := TrainNetShare(recs, cond, 2, cfg)
	after := tvd(real0, dist(field(ns.Generate(0, 200)))) + tvd(real1, dist(field(ns.Generate(1, 200))))
	if after > 0.5*before || after > 0.8 {
		t.Errorf("TVD of (dst port, proto) per condition: %.3f after training, %.3f before", after, before)
	}
	t.Logf("TVD before %.3f after %.3f", before, after)
}
