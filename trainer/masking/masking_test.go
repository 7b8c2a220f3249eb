package masking

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lens-go/lens/netbench/span"
)

var vocab = Vocab{Size: 1000, EOS: 1, Sentinels: 100}

// lineExample builds lines of typed fields like a rendered packet line,
// followed by <sep> and ctxLen context tokens.
func lineExample(lines, ctxLen int) Example {
	var ex Example
	field := int32(0)
	id := int32(10)
	add := func(k span.Kind, tokens int) {
		f := int32(-1)
		if k != span.None {
			f = field
			field++
		}
		for range tokens {
			ex.IDs = append(ex.IDs, id)
			ex.Kinds = append(ex.Kinds, k)
			ex.Fields = append(ex.Fields, f)
			id = 10 + (id-9)%800
		}
	}
	for range lines {
		add(span.Address, 2)
		add(span.None, 1)
		add(span.Protocol, 1)
		add(span.FrameLen, 1)
		add(span.Port, 2)
		add(span.None, 1)
		add(span.Port, 1)
		add(span.Flags, 3)
		add(span.Seq, 2)
		add(span.Ack, 2)
		add(span.Window, 2)
		add(span.PayloadLen, 1)
		add(span.Option, 3)
		add(span.None, 1)
	}
	if ctxLen > 0 {
		add(span.None, 1) // <sep>
		ex.ContextStart = len(ex.IDs)
		add(span.Context, ctxLen)
	} else {
		ex.ContextStart = len(ex.IDs)
	}
	return ex
}

func loadPolicy(t *testing.T, name string) Config {
	t.Helper()
	c, err := Load(filepath.Join("..", "..", "configs", "masking", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func build(t *testing.T, c Config) Policy {
	t.Helper()
	p, err := c.Build(vocab)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fieldState reports for each field id of kind k whether it is fully
// masked, and fails if a field is only partly masked.
func fieldsMasked(t *testing.T, ex Example, mask []bool, k span.Kind) (full, total int) {
	t.Helper()
	state := map[int32][2]int{}
	for i := range ex.ContextStart {
		if ex.Kinds[i] != k {
			continue
		}
		s := state[ex.Fields[i]]
		s[1]++
		if mask[i] {
			s[0]++
		}
		state[ex.Fields[i]] = s
	}
	for _, s := range state {
		total++
		if s[0] == s[1] {
			full++
		} else if s[0] != 0 {
			t.Fatalf("a %s field is partly masked (%d of %d tokens)", k, s[0], s[1])
		}
	}
	return full, total
}

func TestKGMSPMasksWholeFieldsAtConfiguredRates(t *testing.T) {
	c := loadPolicy(t, "kgmsp")
	// theta and k high enough that fields alone exceed 15%: no random
	// fill, so every field is all or nothing and rates are exact Bernoulli.
	if err := c.Set("theta", 0.6); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("k", 0.3); err != nil {
		t.Fatal(err)
	}
	p := build(t, c)
	ex := lineExample(20, 0)
	want := map[span.Kind]float64{
		span.Port: 0.6, span.Protocol: 0.6, span.Flags: 0.6,
		span.Seq: 0.3, span.Ack: 0.3, span.FrameLen: 0.3, span.PayloadLen: 0.3,
		span.Window: 0, span.Address: 0, span.Option: 0,
	}
	full := map[span.Kind]int{}
	total := map[span.Kind]int{}
	const samples = 500
	for s := range samples {
		m, err := p.Mask(ex, rand.New(rand.NewPCG(1, uint64(s))))
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			f, n := fieldsMasked(t, ex, m.Mask, k)
			full[k] += f
			total[k] += n
		}
	}
	for k, p := range want {
		got := float64(full[k]) / float64(total[k])
		sd := math.Sqrt(p*(1-p)/float64(total[k])) + 1e-9
		if math.Abs(got-p) > 5*sd+1e-9 {
			t.Errorf("%s fields masked at rate %.4f, want %.2f (n=%d)", k, got, p, total[k])
		}
	}
}

func TestKGMSPReachesTargetRatio(t *testing.T) {
	for _, theta := range []float64{0, 0.1, 0.5} {
		c := loadPolicy(t, "kgmsp")
		if err := c.Set("theta", theta); err != nil {
			t.Fatal(err)
		}
		if err := c.Set("k", 0); err != nil {
			t.Fatal(err)
		}
		p := build(t, c)
		ex := lineExample(10, 40)
		traffic := ex.ContextStart - 1
		for s := range 200 {
			m, err := p.Mask(ex, rand.New(rand.NewPCG(2, uint64(s))))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, b := range m.Mask[:traffic] {
				if b {
					n++
				}
			}
			want := int(math.Round(0.15 * float64(traffic)))
			if n < want {
				t.Fatalf("theta %.1f: %d of %d traffic tokens masked, want at least %d", theta, n, traffic, want)
			}
			if theta == 0 && n != want {
				t.Fatalf("theta 0: %d masked, want exactly %d random tokens", n, want)
			}
			if m.Mask[traffic] {
				t.Fatal("<sep> was masked")
			}
			ctx := 0
			for _, b := range m.Mask[ex.ContextStart:] {
				if b {
					ctx++
				}
			}
			if ctx != 6 { // round(0.15 * 40)
				t.Fatalf("context: %d of 40 tokens masked, want 6", ctx)
			}
		}
	}
}

func TestRandomSpanDensity(t *testing.T) {
	p := build(t, loadPolicy(t, "random"))
	ex := lineExample(10, 0) // 230 tokens
	n := len(ex.IDs)
	runs := 0
	for s := range 100 {
		m, err := p.Mask(ex, rand.New(rand.NewPCG(3, uint64(s))))
		if err != nil {
			t.Fatal(err)
		}
		masked := 0
		for i, b := range m.Mask {
			if b {
				masked++
				if i == 0 || !m.Mask[i-1] {
					runs++
				}
			}
		}
		if want := int(math.Round(0.15 * float64(n))); masked != want {
			t.Fatalf("span corruption masked %d of %d, want %d", masked, n, want)
		}
	}
	// round(35/3) = 12 spans per example, always separated by kept tokens.
	if runs != 100*12 {
		t.Fatalf("got %d spans in 100 examples, want 1200 (mean span length 3)", runs)
	}
}

func TestSingleTokenDensity(t *testing.T) {
	p := build(t, loadPolicy(t, "token"))
	ex := lineExample(10, 20)
	m, err := p.Mask(ex, rand.New(rand.NewPCG(4, 0)))
	if err != nil {
		t.Fatal(err)
	}
	count := func(b []bool) (n int) {
		for _, x := range b {
			if x {
				n++
			}
		}
		return n
	}
	if got, want := count(m.Mask[:ex.ContextStart-1]), int(math.Round(0.15*float64(ex.ContextStart-1))); got != want {
		t.Fatalf("traffic: %d tokens masked, want %d", got, want)
	}
	if got := count(m.Mask[ex.ContextStart:]); got != 3 {
		t.Fatalf("context: %d tokens masked, want 3", got)
	}
}

// TestSentinelsAndReconstruction checks T5's sentinel numbering and that
// input and target together give back the example.
func TestSentinelsAndReconstruction(t *testing.T) {
	for _, name := range []string{"kgmsp", "random", "token"} {
		p := build(t, loadPolicy(t, name))
		ex := lineExample(8, 30)
		m, err := p.Mask(ex, rand.New(rand.NewPCG(5, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if m.Input[len(m.Input)-1] != vocab.EOS || m.Target[len(m.Target)-1] != vocab.EOS {
			t.Fatalf("%s: input and target must end with </s>", name)
		}
		isSentinel := func(id int32) bool { return id > int32(vocab.Size-1-vocab.Sentinels) }
		// Sentinels appear in order 999, 998, ... in both sequences.
		var inS, tgS []int32
		for _, id := range m.Input {
			if isSentinel(id) {
				inS = append(inS, id)
			}
		}
		for _, id := range m.Target {
			if isSentinel(id) {
				tgS = append(tgS, id)
			}
		}
		if len(inS) == 0 || !slices.Equal(inS, tgS) {
			t.Fatalf("%s: sentinels in input %v and target %v differ", name, inS, tgS)
		}
		for i, s := range inS {
			if s != int32(vocab.Size-1-i) {
				t.Fatalf("%s: sentinel %d is %d, want <extra_id_%d> = %d", name, i, s, i, vocab.Size-1-i)
			}
		}
		// Reconstruct.
		spans := map[int32][]int32{}
		var cur int32
		for _, id := range m.Target[:len(m.Target)-1] {
			if isSentinel(id) {
				cur = id
				continue
			}
			spans[cur] = append(spans[cur], id)
		}
		var rebuilt []int32
		for _, id := range m.Input[:len(m.Input)-1] {
			if isSentinel(id) {
				rebuilt = append(rebuilt, spans[id]...)
			} else {
				rebuilt = append(rebuilt, id)
			}
		}
		if !slices.Equal(rebuilt, ex.IDs) {
			t.Fatalf("%s: input+target do not rebuild the example", name)
		}
	}
}

func TestDeterministicGivenSeed(t *testing.T) {
	p := build(t, loadPolicy(t, "kgmsp"))
	ex := lineExample(10, 20)
	a, _ := p.Mask(ex, rand.New(rand.NewPCG(9, 9)))
	b, _ := p.Mask(ex, rand.New(rand.NewPCG(9, 9)))
	c, _ := p.Mask(ex, rand.New(rand.NewPCG(9, 10)))
	if !slices.Equal(a.Input, b.Input) || !slices.Equal(a.Target, b.Target) {
		t.Fatal("same seed gave different masks")
	}
	if slices.Equal(a.Input, c.Input) {
		t.Fatal("different seeds gave the same mask")
	}
}

func TestSentinelOverflowLeavesRunsVisible(t *testing.T) {
	small := vocab
	small.Sentinels = 3
	p, err := Config{Name: "t", Type: "token", TargetRatio: 0.5}.Build(small)
	if err != nil {
		t.Fatal(err)
	}
	ex := lineExample(4, 0)
	m, err := p.Mask(ex, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Dropped == 0 {
		t.Fatal("expected runs beyond 3 sentinels to be dropped")
	}
	if got := len(m.Target); got > len(ex.IDs) {
		t.Fatalf("target too long: %d", got)
	}
}

func TestBadConfigs(t *testing.T) {
	bad := []Config{
		{Name: "a", Type: "bogus", TargetRatio: 0.15},
		{Name: "b", Type: "span", TargetRatio: 1.5, MeanSpanLength: 3},
		{Name: "c", Type: "span", TargetRatio: 0.15, MeanSpanLength: 3, Groups: []Group{{Param: "theta", Prob: 0.5}}},
		{Name: "d", Type: "kgmsp", TargetRatio: 0.15, MeanSpanLength: 3, Groups: []Group{{Param: "theta", Prob: 2}}},
	}
	for _, c := range bad {
		if _, err := c.Build(vocab); err == nil {
			t.Errorf("config %s accepted", c.Name)
		}
	}
	c := loadPolicy(t, "kgmsp")
	if err := c.Set("nope", 0.1); err == nil {
		t.Error("unknown sweep parameter accepted")
	}
}
