// Package trie constrains a decoder to a closed set of outputs: a prefix
// trie over the label token sequences (as GENRE does) says which tokens may
// follow a prefix, so greedy or scored decoding can only ever produce one of
// the labels.
package trie

import (
	"fmt"
	"math"
	"sort"
)

// Trie is a prefix tree over token sequences, each ending with the EOS token.
type Trie struct {
	eos    int32
	root   *node
	labels [][]int32
}

type node struct {
	next  map[int32]*node
	label int // index of the label that ends here (after EOS), else -1
}

// New builds a trie over labels (token sequences without EOS); eos is
// appended to each. Two labels with the same tokens are refused.
func New(labels [][]int32, eos int32) (*Trie, error) {
	t := &Trie{eos: eos, root: &node{next: map[int32]*node{}, label: -1}}
	for li, l := range labels {
		seq := append(append([]int32(nil), l...), eos)
		n := t.root
		for _, tok := range seq {
			c := n.next[tok]
			if c == nil {
				c = &node{next: map[int32]*node{}, label: -1}
				n.next[tok] = c
			}
			n = c
		}
		if n.label >= 0 {
			return nil, fmt.Errorf("trie: labels %d and %d have the same tokens %v", n.label, li, l)
		}
		n.label = li
		t.labels = append(t.labels, seq)
	}
	return t, nil
}

// Len is the number of labels.
func (t *Trie) Len() int { return len(t.labels) }

// Sequence returns label i's tokens including EOS (the decoder's target).
func (t *Trie) Sequence(i int) []int32 { return t.labels[i] }

// MaxLen is the longest label sequence including EOS.
func (t *Trie) MaxLen() int {
	m := 0
	for _, l := range t.labels {
		m = max(m, len(l))
	}
	return m
}

// Allowed returns the tokens that may follow prefix (sorted), or nil if the
// prefix leaves the trie or is complete.
func (t *Trie) Allowed(prefix []int32) []int32 {
	n := t.walk(prefix)
	if n == nil {
		return nil
	}
	out := make([]int32, 0, len(n.next))
	for tok := range n.next {
		out = append(out, tok)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (t *Trie) walk(prefix []int32) *node {
	n := t.root
	for _, tok := range prefix {
		n = n.next[tok]
		if n == nil {
			return nil
		}
	}
	return n
}

// LogitsFunc returns the decoder's next-token logits for each prefix of a
// batch (one row per prefix).
type LogitsFunc func(prefixes [][]int32) ([][]float32, error)

// Greedy decodes a batch: at each step only the trie's allowed tokens
// compete, so every output is a label. It returns the label index per row.
func (t *Trie) Greedy(batch int, logits LogitsFunc) ([]int, error) {
	prefixes := make([][]int32, batch)
	done := make([]int, batch)
	for i := range done {
		done[i] = -1
	}
	for step := 0; step < t.MaxLen(); step++ {
		active := 0
		for _, d := range done {
			if d < 0 {
				active++
			}
		}
		if active == 0 {
			break
		}
		lg, err := logits(prefixes)
		if err != nil {
			return nil, err
		}
		for i := range prefixes {
			if done[i] >= 0 {
				continue
			}
			n := t.walk(prefixes[i])
			// the allowed token with the highest logit; ties go to the lower id
			best, bestTok := math.Inf(-1), int32(-1)
			for _, tok := range t.Allowed(prefixes[i]) {
				v := math.Inf(-1)
				if int(tok) < len(lg[i]) {
					v = float64(lg[i][tok])
				}
				if bestTok < 0 || v > best {
					best, bestTok = v, tok
				}
			}
			prefixes[i] = append(prefixes[i], bestTok)
			if c := n.next[bestTok]; c.label >= 0 {
				done[i] = c.label
			}
		}
	}
	for i, d := range done {
		if d < 0 {
			return nil, fmt.Errorf("trie: row %d did not finish within %d steps", i, t.MaxLen())
		}
	}
	return done, nil
}

// Score returns, for one example, the log-probability of every label under
// the decoder restricted to the trie (a softmax over the allowed tokens at
// each step), so scores sum to 1 over labels after exp. logits is called
// with every distinct prefix of the trie the labels need.
func (t *Trie) Score(logits LogitsFunc) ([]float64, error) {
	// collect prefixes breadth-first
	var prefixes [][]int32
	var nodes []*node
	var walk func(n *node, p []int32)
	walk = func(n *node, p []int32) {
		if len(n.next) == 0 {
			return
		}
		prefixes = append(prefixes, append([]int32(nil), p...))
		nodes = append(nodes, n)
		keys := make([]int32, 0, len(n.next))
		for k := range n.next {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, k := range keys {
			walk(n.next[k], append(p, k))
		}
	}
	walk(t.root, nil)
	lg, err := logits(prefixes)
	if err != nil {
		return nil, err
	}
	logp := map[*node]map[int32]float64{}
	for i, n := range nodes {
		m := math.Inf(-1)
		for tok := range n.next {
			m = math.Max(m, float64(lg[i][tok]))
		}
		var z float64
		for tok := range n.next {
			z += math.Exp(float64(lg[i][tok]) - m)
		}
		lp := map[int32]float64{}
		for tok := range n.next {
			lp[tok] = float64(lg[i][tok]) - m - math.Log(z)
		}
		logp[n] = lp
	}
	out := make([]float64, len(t.labels))
	for li, seq := range t.labels {
		n := t.root
		for _, tok := range seq {
			out[li] += logp[n][tok]
			n = n.next[tok]
		}
	}
	return out, nil
}
