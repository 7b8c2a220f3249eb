// Package masking turns a tokenized example into a T5-style
// (input, target) pair: the pretraining objectives of Lens as pluggable,
// configurable policies. KG-MSP (the paper's Section 3.2.1) masks whole
// fields by kind; T5 span corruption and single-token masking are the
// baselines of Table 12. Policies are declared in JSON files so that masking
// ablations are written as configs, not code. The package is pure Go.
package masking

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/lens-go/lens/netbench/span"
)

// Example is one tokenized example.
type Example struct {
	IDs []int32
	// Kinds and Fields describe each token: the kind of field it belongs to
	// and the field's id (tokens of one field share an id; -1 for literal
	// text). Both have len(IDs) entries.
	Kinds  []span.Kind
	Fields []int32
	// ContextStart is the index of the first token of the natural-language
	// context after <sep>, or len(IDs) when there is none. The token at
	// ContextStart-1 is <sep> and is never masked. IDs do not include the
	// closing </s>: Mask appends it.
	ContextStart int
}

// Validate checks that the per-token slices line up.
func (e *Example) Validate() error {
	n := len(e.IDs)
	if len(e.Kinds) != n || len(e.Fields) != n {
		return fmt.Errorf("masking: example has %d ids, %d kinds, %d field ids", n, len(e.Kinds), len(e.Fields))
	}
	if e.ContextStart < 0 || e.ContextStart > n {
		return fmt.Errorf("masking: context start %d outside [0,%d]", e.ContextStart, n)
	}
	return nil
}

// Masked is the result of masking one example.
type Masked struct {
	// Input is the example with each run of masked tokens replaced by one
	// sentinel, then </s>. Target is, for each run in order, its sentinel and
	// the masked tokens, then </s> (the paper's Eq. 1).
	Input, Target []int32
	// Mask tells which tokens of the example were masked.
	Mask []bool
	// Dropped counts masked runs left visible because the vocabulary has no
	// sentinel left for them.
	Dropped int
}

// Vocab is what a policy needs from the tokenizer.
type Vocab struct {
	Size int
	EOS  int32
	// Sentinels is the number of <extra_id_i> tokens; <extra_id_i> is id
	// Size-1-i, as T5 numbers them.
	Sentinels int
}

// Sentinel returns the id of <extra_id_i>.
func (v Vocab) Sentinel(i int) int32 { return int32(v.Size - 1 - i) }

// Policy masks examples. Mask is deterministic given r's state.
type Policy interface {
	Name() string
	Mask(ex Example, r *rand.Rand) (Masked, error)
}

// Config declares a policy; it is what a masking config file holds.
type Config struct {
	Name string `json:"name"`
	// Type is "kgmsp" (knowledge-guided), "span" (T5 span corruption) or
	// "token" (single tokens, ET-BERT style).
	Type string `json:"type"`
	// TargetRatio is the fraction of the traffic tokens to mask (0.15).
	TargetRatio float64 `json:"target_ratio"`
	// MeanSpanLength is the mean length of random spans (T5: 3).
	MeanSpanLength float64 `json:"mean_span_length"`
	// Groups (kgmsp only) mask whole fields of the listed kinds, each field
	// independently with probability Prob.
	Groups []Group `json:"groups,omitempty"`
	// Context says how the text after <sep> is masked; absent means like
	// the traffic for "span" and "token", and 15% spans for "kgmsp".
	Context *Region `json:"context,omitempty"`
}

// Group is a set of field kinds masked as whole fields with one probability.
type Group struct {
	// Param names the probability for sweeps ("theta", "k").
	Param string      `json:"param"`
	Kinds []span.Kind `json:"kinds"`
	Prob  float64     `json:"prob"`
}

// Region configures random masking of a region: Type "span" or "token".
type Region struct {
	Type           string  `json:"type"`
	Ratio          float64 `json:"ratio"`
	MeanSpanLength float64 `json:"mean_span_length"`
}

// Load reads a policy config from a JSON file.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("masking: %s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// Set changes a sweepable parameter: a group's Param name (e.g. "theta",
// "k"), "target_ratio" or "mean_span_length".
func (c *Config) Set(param string, value float64) error {
	switch param {
	case "target_ratio":
		c.TargetRatio = value
		return c.validate()
	case "mean_span_length":
		c.MeanSpanLength = value
		return c.validate()
	}
	found := false
	for i := range c.Groups {
		if c.Groups[i].Param == param {
			c.Groups[i].Prob = value
			found = true
		}
	}
	if !found {
		return fmt.Errorf("masking: policy %q has no parameter %q", c.Name, param)
	}
	return c.validate()
}

func (c *Config) validate() error {
	switch c.Type {
	case "kgmsp", "span", "token":
	default:
		return fmt.Errorf("masking: policy %q: unknown type %q (kgmsp, span, token)", c.Name, c.Type)
	}
	if c.TargetRatio <= 0 || c.TargetRatio >= 1 {
		return fmt.Errorf("masking: policy %q: target_ratio %g outside (0,1)", c.Name, c.TargetRatio)
	}
	if c.Type != "token" && c.MeanSpanLength < 1 {
		return fmt.Errorf("masking: policy %q: mean_span_length %g < 1", c.Name, c.MeanSpanLength)
	}
	if c.Type != "kgmsp" && len(c.Groups) > 0 {
		return fmt.Errorf("masking: policy %q: field groups need type kgmsp", c.Name)
	}
	for _, g := range c.Groups {
		if g.Prob < 0 || g.Prob > 1 {
			return fmt.Errorf("masking: policy %q: group %q probability %g outside [0,1]", c.Name, g.Param, g.Prob)
		}
	}
	if r := c.Context; r != nil {
		if r.Type != "span" && r.Type != "token" {
			return fmt.Errorf("masking: policy %q: context type %q (span, token)", c.Name, r.Type)
		}
		if r.Ratio < 0 || r.Ratio >= 1 || (r.Type == "span" && r.MeanSpanLength < 1) {
			return fmt.Errorf("masking: policy %q: bad context ratio or span length", c.Name)
		}
	}
	return nil
}

// Build returns the policy for a tokenizer's vocabulary.
func (c Config) Build(v Vocab) (Policy, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if v.Sentinels <= 0 || v.Sentinels >= v.Size {
		return nil, fmt.Errorf("masking: vocabulary of %d has %d sentinels", v.Size, v.Sentinels)
	}
	ctx := Region{Type: c.Type, Ratio: c.TargetRatio, MeanSpanLength: c.MeanSpanLength}
	if c.Type == "kgmsp" {
		ctx = Region{Type: "span", Ratio: 0.15, MeanSpanLength: 3}
	}
	if c.Context != nil {
		ctx = *c.Context
	}
	p := &policy{cfg: c, vocab: v, context: ctx}
	for _, g := range c.Groups {
		for _, k := range g.Kinds {
			p.kindProb[k] = g.Prob
			p.kindSet[k] = true
		}
	}
	return p, nil
}

type policy struct {
	cfg      Config
	vocab    Vocab
	context  Region
	kindProb [span.NumKinds]float64
	kindSet  [span.NumKinds]bool
}

func (p *policy) Name() string { return p.cfg.Name }

func (p *policy) Mask(ex Example, r *rand.Rand) (Masked, error) {
	if err := ex.Validate(); err != nil {
		return Masked{}, err
	}
	n := len(ex.IDs)
	mask := make([]bool, n)
	traffic := ex.ContextStart
	if traffic < n {
		traffic-- // <sep>
	}
	traffic = max(traffic, 0)
	switch p.cfg.Type {
	case "kgmsp":
		p.knowledgeGuided(ex, mask[:traffic], r)
	case "span":
		spanCorruption(mask[:traffic], p.cfg.TargetRatio, p.cfg.MeanSpanLength, r)
	case "token":
		singleTokens(mask[:traffic], p.cfg.TargetRatio, r)
	}
	if ex.ContextStart < n {
		maskRegion(mask[ex.ContextStart:], p.context, r)
	}
	return p.assemble(ex.IDs, mask), nil
}

// knowledgeGuided is KG-MSP on the traffic tokens: whole fields of the
// configured kinds (ports, protocols, flags, messages with theta;
// seq/ack/lengths with k), then random spans over the remaining tokens
// until TargetRatio of the traffic is masked.
func (p *policy) knowledgeGuided(ex Example, mask []bool, r *rand.Rand) {
	n := len(mask)
	if n == 0 {
		return
	}
	decided := map[int32]bool{} // field id -> masked
	masked := 0
	for i := range n {
		f, k := ex.Fields[i], ex.Kinds[i]
		if f < 0 || int(k) >= span.NumKinds || !p.kindSet[k] {
			continue
		}
		m, seen := decided[f]
		if !seen {
			m = r.Float64() < p.kindProb[k]
			decided[f] = m
		}
		if m {
			mask[i] = true
			masked++
		}
	}
	fillRandomSpans(mask, targetCount(n, p.cfg.TargetRatio)-masked, p.cfg.MeanSpanLength, r)
}

func targetCount(n int, ratio float64) int {
	if n == 0 {
		return 0
	}
	return max(1, int(math.Round(float64(n)*ratio)))
}

// fillRandomSpans masks budget more tokens in random spans (geometric
// lengths of the given mean) that start at random unmasked positions.
func fillRandomSpans(mask []bool, budget int, meanLen float64, r *rand.Rand) {
	free := make([]int, 0, len(mask))
	for i, m := range mask {
		if !m {
			free = append(free, i)
		}
	}
	for budget > 0 && len(free) > 0 {
		j := r.IntN(len(free))
		length := 1
		for r.Float64() < 1-1/meanLen {
			length++
		}
		for pos := free[j]; length > 0 && budget > 0 && pos < len(mask) && !mask[pos]; pos++ {
			mask[pos] = true
			length--
			budget--
		}
		free = free[:0]
		for i, m := range mask {
			if !m {
				free = append(free, i)
			}
		}
	}
}

func maskRegion(mask []bool, reg Region, r *rand.Rand) {
	if reg.Ratio == 0 {
		return
	}
	if reg.Type == "token" {
		singleTokens(mask, reg.Ratio, r)
	} else {
		spanCorruption(mask, reg.Ratio, reg.MeanSpanLength, r)
	}
}

// singleTokens masks round(ratio*n) tokens (at least one) chosen uniformly.
func singleTokens(mask []bool, ratio float64, r *rand.Rand) {
	n := len(mask)
	k := min(targetCount(n, ratio), n)
	for _, i := range r.Perm(n)[:k] {
		mask[i] = true
	}
}

// spanCorruption is T5's random_spans_noise_mask: round(n*density) noise
// tokens in round(noise/meanLen) spans, noise and non-noise span lengths
// drawn as random segmentations and interleaved starting with non-noise.
func spanCorruption(mask []bool, density, meanLen float64, r *rand.Rand) {
	n := len(mask)
	if n < 2 {
		return
	}
	noise := min(max(int(math.Round(float64(n)*density)), 1), n-1)
	spans := max(int(math.Round(float64(noise)/meanLen)), 1)
	spans = min(spans, noise, n-noise)
	noiseLens := randomSegmentation(noise, spans, r)
	keepLens := randomSegmentation(n-noise, spans, r)
	pos := 0
	for s := range spans {
		pos += keepLens[s]
		for range noiseLens[s] {
			mask[pos] = true
			pos++
		}
	}
}

// randomSegmentation splits items into segments non-empty parts at random.
func randomSegmentation(items, segments int, r *rand.Rand) []int {
	first := make([]bool, items-1) // first[i]: item i+1 starts a segment
	for i := range segments - 1 {
		first[i] = true
	}
	r.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	lens := make([]int, 0, segments)
	cur := 1
	for _, f := range first {
		if f {
			lens = append(lens, cur)
			cur = 0
		}
		cur++
	}
	return append(lens, cur)
}

// assemble collapses each run of masked tokens into one sentinel.
func (p *policy) assemble(ids []int32, mask []bool) Masked {
	out := Masked{Mask: mask, Input: make([]int32, 0, len(ids)+1), Target: make([]int32, 0, len(ids)/4+2)}
	next := 0
	for i := 0; i < len(ids); {
		if !mask[i] {
			out.Input = append(out.Input, ids[i])
			i++
			continue
		}
		j := i
		for j < len(ids) && mask[j] {
			j++
		}
		if next >= p.vocab.Sentinels {
			for k := i; k < j; k++ {
				mask[k] = false
			}
			out.Input = append(out.Input, ids[i:j]...)
			out.Dropped++
		} else {
			s := p.vocab.Sentinel(next)
			next++
			out.Input = append(out.Input, s)
			out.Target = append(out.Target, s)
			out.Target = append(out.Target, ids[i:j]...)
		}
		i = j
	}
	out.Input = append(out.Input, p.vocab.EOS)
	out.Target = append(out.Target, p.vocab.EOS)
	return out
}
