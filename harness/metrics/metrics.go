// Package metrics computes the paper's evaluation measures: accuracy,
// macro-F1 and per-class precision/recall/F1 with the confusion matrix for
// classification; Jensen-Shannon divergence and total variation distance
// between generated and real field values for generation (plus NetShare's
// popularity-rank JSD for IP addresses); and a paired bootstrap confidence
// interval for the difference between two systems on the same test set.
package metrics

import (
	"math"
	"math/rand/v2"
	"sort"
)

// PRF is one class's precision, recall, F1 and support.
type PRF struct {
	Precision, Recall, F1 float64
	Support               int
}

// Classification is the evaluation of predicted against true labels.
type Classification struct {
	Labels    []string // the label set, in the task's order
	Accuracy  float64
	MacroF1   float64 // unweighted mean of per-class F1 over classes with support or predictions
	PerClass  map[string]PRF
	Confusion [][]int // [true][predicted], indexed like Labels
	N         int
}

// Classify evaluates predictions. Labels not in labels (impossible with the
// constrained decoder, possible for baselines) count as wrong.
func Classify(labels, truth, pred []string) Classification {
	idx := map[string]int{}
	for i, l := range labels {
		idx[l] = i
	}
	k := len(labels)
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	correct := 0
	tp := make([]int, k)
	fp := make([]int, k)
	fn := make([]int, k)
	for i := range truth {
		t, tok := idx[truth[i]]
		p, pok := idx[pred[i]]
		if truth[i] == pred[i] {
			correct++
		}
		if tok && pok {
			conf[t][p]++
		}
		switch {
		case tok && pok && t == p:
			tp[t]++
		default:
			if tok {
				fn[t]++
			}
			if pok {
				fp[p]++
			}
		}
	}
	c := Classification{Labels: labels, PerClass: map[string]PRF{}, Confusion: conf, N: len(truth)}
	if len(truth) > 0 {
		c.Accuracy = float64(correct) / float64(len(truth))
	}
	var f1sum float64
	counted := 0
	for i, l := range labels {
		var pr PRF
		pr.Support = tp[i] + fn[i]
		if tp[i]+fp[i] > 0 {
			pr.Precision = float64(tp[i]) / float64(tp[i]+fp[i])
		}
		if pr.Support > 0 {
			pr.Recall = float64(tp[i]) / float64(pr.Support)
		}
		if pr.Precision+pr.Recall > 0 {
			pr.F1 = 2 * pr.Precision * pr.Recall / (pr.Precision + pr.Recall)
		}
		c.PerClass[l] = pr
		// As scikit-learn's f1_score(average="macro") on the labels present
		// in truth or predictions.
		if pr.Support > 0 || tp[i]+fp[i] > 0 {
			f1sum += pr.F1
			counted++
		}
	}
	if counted > 0 {
		c.MacroF1 = f1sum / float64(counted)
	}
	return c
}

// Distribution is an empirical distribution over exact values.
type Distribution map[string]float64

// Empirical counts values into a normalised distribution.
func Empirical(values []string) Distribution {
	d := Distribution{}
	for _, v := range values {
		d[v]++
	}
	for k := range d {
		d[k] /= float64(len(values))
	}
	return d
}

// JSD is the Jensen-Shannon divergence between p and q over the union of
// their supports, in nats (natural log, as scipy.spatial.distance's
// jensenshannon squared with its default base, which NetShare uses): 0 for
// equal distributions, at most ln 2.
func JSD(p, q Distribution) float64 {
	var js float64
	for _, k := range union(p, q) {
		a, b := p[k], q[k]
		m := (a + b) / 2
		if a > 0 {
			js += 0.5 * a * math.Log(a/m)
		}
		if b > 0 {
			js += 0.5 * b * math.Log(b/m)
		}
	}
	if js < 0 {
		return 0
	}
	return js
}

// TVD is the total variation distance: half the L1 distance, in [0, 1].
func TVD(p, q Distribution) float64 {
	var s float64
	for _, k := range union(p, q) {
		s += math.Abs(p[k] - q[k])
	}
	return s / 2
}

func union(p, q Distribution) []string {
	keys := make([]string, 0, len(p)+len(q))
	for k := range p {
		keys = append(keys, k)
	}
	for k := range q {
		if _, ok := p[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // fixed summation order: the same inputs give the same bits
	return keys
}

// RankJSD is NetShare's variant for IP addresses: each side's values are
// replaced by their popularity rank (1 = most frequent, ties broken by
// value), and the JSD is taken between the two rank distributions, so it
// measures the shape of the popularity curve, not the addresses themselves.
func RankJSD(real, gen []string) float64 {
	return JSD(rankDist(real), rankDist(gen))
}

func rankDist(values []string) Distribution {
	d := Empirical(values)
	type kv struct {
		k string
		v float64
	}
	var s []kv
	for k, v := range d {
		s = append(s, kv{k, v})
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].v != s[j].v {
			return s[i].v > s[j].v
		}
		return s[i].k < s[j].k
	})
	out := Distribution{}
	for i, e := range s {
		out[rankKey(i+1)] = e.v
	}
	return out
}

func rankKey(r int) string {
	b := make([]byte, 0, 8)
	for r > 0 {
		b = append([]byte{byte('0' + r%10)}, b...)
		r /= 10
	}
	return string(b)
}

// Interval is a two-sided confidence interval.
type Interval struct {
	Diff, Lo, Hi float64
	Level        float64
}

// Significant reports whether the interval excludes zero.
func (i Interval) Significant() bool { return i.Lo > 0 || i.Hi < 0 }

// PairedBootstrap estimates a confidence interval for metric(a) - metric(b)
// where a and b are two systems' per-example outcomes on the same test
// examples (resampled together), using n resamples.
func PairedBootstrap(a, b []float64, metric func(x []float64, idx []int) float64, n int, level float64, seed uint64) Interval {
	all := make([]int, len(a))
	for i := range all {
		all[i] = i
	}
	iv := Interval{Diff: metric(a, all) - metric(b, all), Level: level}
	if len(a) == 0 {
		return iv
	}
	r := rand.New(rand.NewPCG(seed, 0xb007))
	diffs := make([]float64, n)
	idx := make([]int, len(a))
	for s := 0; s < n; s++ {
		for i := range idx {
			idx[i] = r.IntN(len(a))
		}
		diffs[s] = metric(a, idx) - metric(b, idx)
	}
	sort.Float64s(diffs)
	lo := int(math.Floor((1 - level) / 2 * float64(n)))
	hi := int(math.Ceil((1+level)/2*float64(n))) - 1
	if hi >= n {
		hi = n - 1
	}
	iv.Lo, iv.Hi = diffs[lo], diffs[hi]
	return iv
}

// Mean is a metric for PairedBootstrap over per-example scores (1 correct, 0 wrong: accuracy).
func Mean(x []float64, idx []int) float64 {
	var s float64
	for _, i := range idx {
		s += x[i]
	}
	return s / float64(len(idx))
}
