package metrics

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Values checked by hand (and against scikit-learn's definitions).
func TestClassify(t *testing.T) {
	labels := []string{"a", "b", "c"}
	truth := []string{"a", "a", "a", "b", "b", "c"}
	pred := []string{"a", "a", "b", "b", "c", "c"}
	c := Classify(labels, truth, pred)
	if !near(c.Accuracy, 4.0/6) {
		t.Errorf("accuracy %v", c.Accuracy)
	}
	// a: P=1 R=2/3 F1=0.8; b: P=1/2 R=1/2 F1=0.5; c: P=1/2 R=1 F1=2/3
	want := map[string][3]float64{"a": {1, 2.0 / 3, 0.8}, "b": {0.5, 0.5, 0.5}, "c": {0.5, 1, 2.0 / 3}}
	for l, w := range want {
		p := c.PerClass[l]
		if !near(p.Precision, w[0]) || !near(p.Recall, w[1]) || !near(p.F1, w[2]) {
			t.Errorf("%s: %+v, want %v", l, p, w)
		}
	}
	if !near(c.MacroF1, (0.8+0.5+2.0/3)/3) {
		t.Errorf("macro F1 %v", c.MacroF1)
	}
	if c.Confusion[0][1] != 1 || c.Confusion[1][2] != 1 || c.Confusion[2][2] != 1 {
		t.Errorf("confusion %v", c.Confusion)
	}
}

func TestJSDAndTVD(t *testing.T) {
	p := Empirical([]string{"80", "80", "443", "443"})
	q := Empirical([]string{"80", "53", "53", "53"})
	// p = {80: .5, 443: .5}, q = {80: .25, 53: .75}; m = {80: .375, 443: .25, 53: .375}
	want := 0.5*(0.5*math.Log(0.5/0.375)+0.5*math.Log(0.5/0.25)) + 0.5*(0.25*math.Log(0.25/0.375)+0.75*math.Log(0.75/0.375))
	if got := JSD(p, q); !near(got, want) {
		t.Errorf("JSD %v, want %v", got, want)
	}
	if got := TVD(p, q); !near(got, 0.75) { // (|.5-.25| + .5 + .75)/2
		t.Errorf("TVD %v, want 0.75", got)
	}
	if JSD(p, p) != 0 || TVD(p, p) != 0 {
		t.Error("distance of a distribution to itself must be 0")
	}
	disjoint := JSD(Empirical([]string{"x"}), Empirical([]string{"y"}))
	if !near(disjoint, math.Ln2) {
		t.Errorf("JSD of disjoint point masses %v, want ln 2", disjoint)
	}
}

func TestRankJSDIgnoresIdentity(t *testing.T) {
	real := []string{"10.0.0.1", "10.0.0.1", "10.0.0.2"}
	gen := []string{"1.1.1.1", "1.1.1.1", "2.2.2.2"} // other addresses, same popularity curve
	if got := RankJSD(real, gen); got != 0 {
		t.Errorf("rank JSD %v, want 0", got)
	}
	if JSD(Empirical(real), Empirical(gen)) == 0 {
		t.Error("exact-value JSD should see different addresses")
	}
}

func TestPairedBootstrap(t *testing.T) {
	a := make([]float64, 400)
	b := make([]float64, 400)
	for i := range a {
		a[i] = 1
		if i%4 == 0 {
			b[i] = 1 // b is right on a quarter of the examples, a on all
		}
	}
	iv := PairedBootstrap(a, b, Mean, 2000, 0.95, 1)
	if !near(iv.Diff, 0.75) || !iv.Significant() || iv.Lo < 0.65 || iv.Hi > 0.85 {
		t.Errorf("interval %+v", iv)
	}
	same := PairedBootstrap(b, b, Mean, 500, 0.95, 1)
	if same.Significant() {
		t.Errorf("a system against itself is significant: %+v", same)
	}
}
