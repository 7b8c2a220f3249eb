package baselines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// genToy makes n generation examples of a destination port whose
// distribution depends on a cue in the packet text: a web flow's port is 443
// (70%) or 80, a DNS flow's 53, a mail flow's 25 (50%), 587 or 993. The
// packet lines mimic Lens's (the field masked with <extra_id_0>).
func genToy(n int, seed uint64) []GenExample {
	r := rand.New(rand.NewPCG(seed, 7))
	var out []GenExample
	for i := range n {
		var cue, port string
		switch i % 3 {
		case 0:
			cue, port = "tls", "443"
			if r.Float64() < 0.3 {
				port = "80"
			}
		case 1:
			cue, port = "dns", "53"
		default:
			cue = "smtp"
			port = []string{"25", "25", "587", "993"}[r.IntN(4)]
		}
		pkt := fmt.Sprintf("ip <SIP> > <DIP> %s tcp %d > <extra_id_0> len %d", cue, 1024+r.IntN(60000), 40+r.IntN(1400))
		out = append(out, GenExample{Instruction: "Generate destination port for the ISCX-VPN network traffic:",
			Packet: pkt, Mask: "<extra_id_0>", Value: port})
	}
	return out
}

func TestGenPrompt(t *testing.T) {
	ex := GenExample{Instruction: "Gen:", Packet: "aaaa <extra_id_0> bbbb", Mask: "<extra_id_0>", Value: "1"}
	if got, cut := GenPrompt(ex, 100); got != "Gen:\naaaa <extra_id_0> bbbb" || cut {
		t.Errorf("GenPrompt %q %v", got, cut)
	}
	if got, _ := GenPrompt(ex, 22); got != "Gen:\naaaa <extra_id_0>" {
		t.Errorf("cut from the end: %q", got)
	}
	if got, cut := GenPrompt(ex, 17); got != "Gen:\n<extra_id_0>" || !cut {
		t.Errorf("cut keeping the mask: %q", got)
	}
	g, err := NewTrafficLLMGen(GenConfig{Config: Config{Preset: "smoke", Batch: 4}, MaxValue: 5})
	if err != nil {
		t.Fatal(err)
	}
	ids := g.encode(ex, true)
	if ids[g.P-1] != llmAnswer || ids[g.P-2] != 'b' || string(rune(ids[g.P])) != "1" || ids[g.P+1] != llmEnd || ids[0] != llmPad || ids[g.L-1] != llmPad {
		t.Errorf("layout %v", ids)
	}
	in := g.batch([][]int32{ids}, 1, true)
	wts := in[2].Value().([][]float32)[0]
	tg := in[1].Value().([][]int32)[0]
	var on []int
	for i, w := range wts {
		if w != 0 {
			on = append(on, i)
		}
	}
	if len(on) != 2 || on[0] != g.P-1 || tg[g.P-1] != '1' || tg[g.P] != llmEnd {
		t.Errorf("answer loss at %v (targets %v), want P-1=%d and P", on, tg[g.P-1:g.P+1], g.P-1)
	}
}

// TestTrafficLLMGenerationLearns: on the toy task the generated ports'
// distribution is far from the real one before tuning (random bytes) and
// close after it, and the ports follow the cue.
func TestTrafficLLMGenerationLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	train, test := genToy(240, 1), genToy(60, 2)
	cfg := GenConfig{Config: Config{Preset: "smoke", Epochs: 15, PretrainEpochs: -1, Batch: 16, LR: 5e-3, Seed: 1}, TopK: 20, MaxValue: 3}
	g, err := NewTrafficLLMGen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var real []string
	for _, ex := range test {
		real = append(real, ex.Value)
	}
	before, err := g.Sample(test)
	if err != nil {
		t.Fatal(err)
	}
	losses, err := g.Fit(context.Background(), train)
	if err != nil {
		t.Fatal(err)
	}
	after, err := g.Sample(test)
	if err != nil {
		t.Fatal(err)
	}
	tb, ta := tvd(dist(real), dist(before)), tvd(dist(real), dist(after))
	follows := 0
	for i, v := range after {
		cue := strings.Fields(test[i].Packet)[4]
		if map[string]map[string]bool{"tls": {"443": true, "80": true}, "dns": {"53": true}, "smtp": {"25": true, "587": true, "993": true}}[cue][v] {
			follows++
		}
	}
	t.Logf("losses %.3f; TVD before %.3f, after %.3f; %d/%d follow the cue; before %q; after %q", losses, tb, ta, follows, len(test), before[:6], after[:12])
	if tb < 0.9 || ta > 0.3 || ta > tb/3 {
		t.Errorf("TVD before %.3f, after %.3f: want before >= 0.9, after <= 0.3", tb, ta)
	}
	if follows < len(test)*8/10 {
		t.Errorf("%d of %d generated ports follow the cue", follows, len(test))
	}
}

// TrafficLLMGenerate end to end: the domain stage's loss falls, one value
// per test example, and the same seeds give the same values.
func TestTrafficLLMGenerateDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	train, test := genToy(48, 3), genToy(10, 4)
	cfg := GenConfig{Config: Config{Preset: "smoke", Epochs: 1, PretrainEpochs: 3, Batch: 16, Seed: 2}, Temperature: 0.8, TopK: 10}
	a, err := TrafficLLMGenerate(context.Background(), cfg, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Generated) != len(test) || len(a.PretrainLosses) != 3 || len(a.Losses) != 1 || a.ValueLen != 4 {
		t.Fatalf("%d values, losses %v / %v, value length %d", len(a.Generated), a.PretrainLosses, a.Losses, a.ValueLen)
	}
	if a.PretrainLosses[2] >= a.PretrainLosses[0] {
		t.Errorf("domain-stage losses %v do not fall", a.PretrainLosses)
	}
	b, err := TrafficLLMGenerate(context.Background(), cfg, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Generated, b.Generated) {
		t.Errorf("same seeds, different values: %q vs %q", a.Generated, b.Generated)
	}
	t.Logf("domain losses %.3f, generated %q", a.PretrainLosses, a.Generated)
}
