package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

func accuracy(d Detector, X [][]float64, y []int) float64 {
	ok := 0
	for i := range X {
		if d.Predict(X[i]) == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(X))
}

func TestGini(t *testing.T) {
	if Gini(0, 4) != 0 || Gini(2, 4) != 0.5 || math.Abs(Gini(1, 4)-0.375) > 1e-12 {
		t.Fatal("Gini of (0/4, 2/4, 1/4) must be 0, 0.5, 0.375")
	}
}

func TestTreeFindsTheKnownSplit(t *testing.T) {
	// Label is 1 exactly when feature 1 > 2.5; feature 0 is noise.
	X := [][]float64{{5, 1}, {1, 2}, {4, 3}, {2, 4}, {3, 0}, {0, 5}}
	y := []int{0, 0, 1, 1, 0, 1}
	tr := &Tree{MaxDepth: 3}
	if err := tr.Fit(X, y); err != nil {
		t.Fatal(err)
	}
	if tr.root.leaf || tr.root.feature != 1 || tr.root.threshold != 2.5 {
		t.Fatalf("root split feature %d at %v, want feature 1 at 2.5", tr.root.feature, tr.root.threshold)
	}
	if !tr.root.left.leaf || !tr.root.right.leaf {
		t.Error("one split separates the data: both children must be leaves")
	}
	if accuracy(tr, [][]float64{{9, 2.4}, {9, 2.6}}, []int{0, 1}) != 1 {
		t.Error("wrong side of the threshold")
	}
}

func blobs(n int, seed uint64) ([][]float64, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	var X [][]float64
	var y []int
	for i := 0; i < n; i++ {
		c := i % 2
		X = append(X, []float64{float64(c)*4 + r.NormFloat64(), float64(c)*-3 + r.NormFloat64(), r.NormFloat64() * 100})
		y = append(y, c)
	}
	return X, y
}

func TestSVMSeparatesSeparableData(t *testing.T) {
	X, y := blobs(400, 1)
	s := &SVM{Seed: 1}
	if err := s.Fit(X, y); err != nil {
		t.Fatal(err)
	}
	Xt, yt := blobs(200, 2)
	if a := accuracy(s, Xt, yt); a < 0.97 {
		t.Errorf("SVM accuracy %.3f on well-separated blobs", a)
	}
	// The noise feature (scaled 100x) must carry little weight after standardising.
	if math.Abs(s.w[2]) > 0.3*math.Abs(s.w[0]) {
		t.Errorf("weights %v: the noise feature should not dominate", s.w)
	}
}

func TestMLPLearnsXOR(t *testing.T) {
	X := [][]float64{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
	y := []int{0, 1, 1, 0}
	// repeat so the full-batch gradient is well defined
	var XX [][]float64
	var yy []int
	for i := 0; i < 25; i++ {
		XX = append(XX, X...)
		yy = append(yy, y...)
	}
	m := &MLP{Hidden: 16, Epochs: 500, LR: 0.05, Seed: 3}
	if err := m.Fit(XX, yy); err != nil {
		t.Fatal(err)
	}
	if a := accuracy(m, X, y); a != 1 {
		t.Errorf("MLP accuracy on XOR %.2f, want 1 (a linear model cannot exceed 0.75)", a)
	}
	s := &SVM{Seed: 1}
	s.Fit(XX, yy)
	if a := accuracy(s, X, y); a > 0.75 {
		t.Errorf("a linear SVM got %.2f on XOR, which is impossible", a)
	}
}

func TestBadInputRefused(t *testing.T) {
	for _, d := range []Detector{&Tree{}, &SVM{}, &MLP{}} {
		if err := d.Fit([][]float64{{1}, {1, 2}}, []int{0, 1}); err == nil {
			t.Errorf("%s accepted ragged rows", d.Name())
		}
		if err := d.Fit([][]float64{{1}}, []int{2}); err == nil {
			t.Errorf("%s accepted label 2", d.Name())
		}
	}
}
