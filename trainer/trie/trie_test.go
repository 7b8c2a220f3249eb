package trie

import (
	"math"
	"math/rand/v2"
	"testing"
)

func labelsFor(r *rand.Rand, n, vocab int) [][]int32 {
	seen := map[string]bool{}
	var out [][]int32
	for len(out) < n {
		l := make([]int32, 1+r.IntN(4))
		for i := range l {
			l[i] = int32(3 + r.IntN(vocab-3)) // 0..2 are special
		}
		k := ""
		for _, x := range l {
			k += string(rune(x)) + ","
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, l)
		}
	}
	return out
}

// Property: with random logits the decoder only ever emits a label.
func TestGreedyAlwaysEmitsALabel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		vocab := 8 + r.IntN(40)
		labels := labelsFor(r, 1+r.IntN(20), vocab)
		tr, err := New(labels, 1)
		if err != nil {
			t.Fatal(err)
		}
		batch := 1 + r.IntN(6)
		got, err := tr.Greedy(batch, func(p [][]int32) ([][]float32, error) {
			out := make([][]float32, len(p))
			for i := range out {
				out[i] = make([]float32, vocab)
				for j := range out[i] {
					out[i][j] = float32(r.NormFloat64() * 10)
				}
			}
			return out, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if g < 0 || g >= len(labels) {
				t.Fatalf("trial %d: decoded %d, not one of %d labels", trial, g, len(labels))
			}
		}
	}
}

func TestGreedyFollowsLogitsWithinTrie(t *testing.T) {
	// labels: [5], [5 6], [7]; logits prefer 6 then EOS after 5
	tr, _ := New([][]int32{{5}, {5, 6}, {7}}, 1)
	got, err := tr.Greedy(1, func(p [][]int32) ([][]float32, error) {
		l := make([]float32, 10)
		l[9] = 100 // the best token overall is not allowed anywhere
		switch len(p[0]) {
		case 0:
			l[5], l[7] = 2, 1
		case 1:
			l[6], l[1] = 3, 2
		case 2:
			l[1] = 1
		}
		return [][]float32{l}, nil
	})
	if err != nil || got[0] != 1 {
		t.Fatalf("got label %v (%v), want 1 ([5 6])", got, err)
	}
}

func TestScoreIsADistributionOverLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	labels := labelsFor(r, 12, 20)
	tr, _ := New(labels, 1)
	s, err := tr.Score(func(p [][]int32) ([][]float32, error) {
		out := make([][]float32, len(p))
		for i := range out {
			out[i] = make([]float32, 20)
			for j := range out[i] {
				out[i][j] = float32(r.NormFloat64())
			}
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, v := range s {
		sum += math.Exp(v)
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("label probabilities sum to %v", sum)
	}
}

func TestDuplicateLabelsRefused(t *testing.T) {
	if _, err := New([][]int32{{4, 5}, {4, 5}}, 1); err == nil {
		t.Fatal("duplicate label accepted")
	}
}
