// Package detect holds the simple detectors of the fuzzing test (Figure 3):
// a decision tree (CART, Gini), a linear SVM (Pegasos, hinge loss) and a
// small MLP, trained on header fields as benign/malicious classifiers. Go
// has no well-kept library with all three that fits without cgo, so these
// are small implementations with tests against known results.
package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Detector is a binary classifier over numeric feature vectors (labels 0/1).
type Detector interface {
	Name() string
	Fit(X [][]float64, y []int) error
	Predict(x []float64) int
}

func checkXY(X [][]float64, y []int) error {
	if len(X) == 0 || len(X) != len(y) {
		return fmt.Errorf("detect: %d rows and %d labels", len(X), len(y))
	}
	d := len(X[0])
	for i, r := range X {
		if len(r) != d {
			return fmt.Errorf("detect: row %d has %d features, row 0 has %d", i, len(r), d)
		}
		if y[i] != 0 && y[i] != 1 {
			return fmt.Errorf("detect: label %d of row %d is not 0 or 1", y[i], i)
		}
	}
	return nil
}

// Tree is a CART decision tree with Gini impurity.
type Tree struct {
	MaxDepth, MinLeaf int
	root              *node
}

type node struct {
	feature   int
	threshold float64
	left      *node // x[feature] <= threshold
	right     *node
	leaf      bool
	class     int
}

// Name implements Detector.
func (t *Tree) Name() string { return "DT" }

// Gini is the Gini impurity of a set with pos positives out of n.
func Gini(pos, n int) float64 {
	if n == 0 {
		return 0
	}
	p := float64(pos) / float64(n)
	return 2 * p * (1 - p)
}

// Fit grows the tree.
func (t *Tree) Fit(X [][]float64, y []int) error {
	if err := checkXY(X, y); err != nil {
		return err
	}
	if t.MaxDepth <= 0 {
		t.MaxDepth = 8
	}
	if t.MinLeaf <= 0 {
		t.MinLeaf = 1
	}
	idx := make([]int, len(X))
	for i := range idx {
		idx[i] = i
	}
	t.root = t.grow(X, y, idx, 0)
	return nil
}

func majority(y []int, idx []int) (class, pos int) {
	for _, i := range idx {
		pos += y[i]
	}
	if 2*pos > len(idx) {
		return 1, pos
	}
	return 0, pos
}

func (t *Tree) grow(X [][]float64, y []int, idx []int, depth int) *node {
	cls, pos := majority(y, idx)
	if depth >= t.MaxDepth || pos == 0 || pos == len(idx) || len(idx) < 2*t.MinLeaf {
		return &node{leaf: true, class: cls}
	}
	best := math.Inf(1)
	bf, bt := -1, 0.0
	parent := Gini(pos, len(idx))
	order := make([]int, len(idx))
	for f := range X[0] {
		copy(order, idx)
		sort.Slice(order, func(a, b int) bool { return X[order[a]][f] < X[order[b]][f] })
		lp := 0
		for k := 0; k < len(order)-1; k++ {
			lp += y[order[k]]
			nl := k + 1
			if X[order[k]][f] == X[order[k+1]][f] || nl < t.MinLeaf || len(order)-nl < t.MinLeaf {
				continue
			}
			nr := len(order) - nl
			g := (float64(nl)*Gini(lp, nl) + float64(nr)*Gini(pos-lp, nr)) / float64(len(order))
			if g < best-1e-12 {
				best, bf, bt = g, f, (X[order[k]][f]+X[order[k+1]][f])/2
			}
		}
	}
	if bf < 0 || best >= parent {
		return &node{leaf: true, class: cls}
	}
	var l, r []int
	for _, i := range idx {
		if X[i][bf] <= bt {
			l = append(l, i)
		} else {
			r = append(r, i)
		}
	}
	return &node{feature: bf, threshold: bt, left: t.grow(X, y, l, depth+1), right: t.grow(X, y, r, depth+1)}
}

// Predict implements Detector.
func (t *Tree) Predict(x []float64) int {
	n := t.root
	for n != nil && !n.leaf {
		if x[n.feature] <= n.threshold {
			n = n.left
		} else {
			n = n.right
		}
	}
	if n == nil {
		return 0
	}
	return n.class
}

// scaler standardises features to zero mean and unit variance.
type scaler struct{ mean, std []float64 }

func fitScaler(X [][]float64) scaler {
	d := len(X[0])
	s := scaler{make([]float64, d), make([]float64, d)}
	for _, r := range X {
		for j, v := range r {
			s.mean[j] += v
		}
	}
	for j := range s.mean {
		s.mean[j] /= float64(len(X))
	}
	for _, r := range X {
		for j, v := range r {
			s.std[j] += (v - s.mean[j]) * (v - s.mean[j])
		}
	}
	for j := range s.std {
		s.std[j] = math.Sqrt(s.std[j] / float64(len(X)))
		if s.std[j] == 0 {
			s.std[j] = 1
		}
	}
	return s
}

func (s scaler) apply(x []float64, out []float64) []float64 {
	out = out[:0]
	for j, v := range x {
		out = append(out, (v-s.mean[j])/s.std[j])
	}
	return out
}

// SVM is a linear support vector machine trained with Pegasos (stochastic
// sub-gradient descent on the regularised hinge loss) on standardised
// features.
type SVM struct {
	Lambda float64 // regularisation; 0 means 1e-2
	Epochs int     // passes over the data; 0 means 50
	Seed   uint64
	w      []float64
	b      float64
	sc     scaler
}

// Name implements Detector.
func (s *SVM) Name() string { return "SVM" }

// Fit trains the SVM.
func (s *SVM) Fit(X [][]float64, y []int) error {
	if err := checkXY(X, y); err != nil {
		return err
	}
	if s.Lambda <= 0 {
		s.Lambda = 1e-2
	}
	if s.Epochs <= 0 {
		s.Epochs = 50
	}
	s.sc = fitScaler(X)
	Z := make([][]float64, len(X))
	for i := range X {
		Z[i] = s.sc.apply(X[i], nil)
	}
	d := len(X[0])
	s.w = make([]float64, d)
	s.b = 0
	r := rand.New(rand.NewPCG(s.Seed, 0x5f3))
	t := 1.0
	for e := 0; e < s.Epochs; e++ {
		for k := 0; k < len(Z); k++ {
			i := r.IntN(len(Z))
			yi := float64(2*y[i] - 1)
			eta := 1 / (s.Lambda * t)
			t++
			margin := yi * (dot(s.w, Z[i]) + s.b)
			for j := range s.w {
				s.w[j] *= 1 - eta*s.Lambda
			}
			if margin < 1 {
				for j := range s.w {
					s.w[j] += eta * yi * Z[i][j]
				}
				s.b += eta * yi
			}
		}
	}
	return nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Predict implements Detector.
func (s *SVM) Predict(x []float64) int {
	z := s.sc.apply(x, make([]float64, 0, len(x)))
	if dot(s.w, z)+s.b > 0 {
		return 1
	}
	return 0
}

// MLP is a one-hidden-layer perceptron (ReLU, sigmoid output, cross-entropy,
// Adam) on standardised features.
type MLP struct {
	Hidden int     // 0 means 32
	Epochs int     // 0 means 200
	LR     float64 // 0 means 0.01
	Seed   uint64
	w1     [][]float64
	b1, w2 []float64
	b2     float64
	sc     scaler
}

// Name implements Detector.
func (m *MLP) Name() string { return "MLP" }

// Fit trains the network with full-batch Adam.
func (m *MLP) Fit(X [][]float64, y []int) error {
	if err := checkXY(X, y); err != nil {
		return err
	}
	if m.Hidden <= 0 {
		m.Hidden = 32
	}
	if m.Epochs <= 0 {
		m.Epochs = 200
	}
	if m.LR <= 0 {
		m.LR = 0.01
	}
	m.sc = fitScaler(X)
	d, h := len(X[0]), m.Hidden
	r := rand.New(rand.NewPCG(m.Seed, 0x3170))
	m.w1 = make([][]float64, h)
	for i := range m.w1 {
		m.w1[i] = make([]float64, d)
		for j := range m.w1[i] {
			m.w1[i][j] = r.NormFloat64() * math.Sqrt(2/float64(d)) // He initialisation
		}
	}
	m.b1 = make([]float64, h)
	m.w2 = make([]float64, h)
	for i := range m.w2 {
		m.w2[i] = r.NormFloat64() * math.Sqrt(1/float64(h))
	}
	m.b2 = 0
	// parameters flattened for Adam
	n := h*d + h + h + 1
	mom, vel := make([]float64, n), make([]float64, n)
	grad := make([]float64, n)
	Z := make([][]float64, len(X))
	for i := range X {
		Z[i] = m.sc.apply(X[i], nil)
	}
	hid := make([]float64, h)
	const b1, b2, eps = 0.9, 0.999, 1e-8
	for e := 1; e <= m.Epochs; e++ {
		for i := range grad {
			grad[i] = 0
		}
		for i, z := range Z {
			for a := 0; a < h; a++ {
				hid[a] = math.Max(0, dot(m.w1[a], z)+m.b1[a])
			}
			p := sigmoid(dot(m.w2, hid) + m.b2)
			g := (p - float64(y[i])) / float64(len(Z)) // dL/dlogit
			for a := 0; a < h; a++ {
				grad[h*d+h+a] += g * hid[a]
				if hid[a] > 0 {
					gh := g * m.w2[a]
					for j := 0; j < d; j++ {
						grad[a*d+j] += gh * z[j]
					}
					grad[h*d+a] += gh
				}
			}
			grad[n-1] += g
		}
		c1, c2 := 1-math.Pow(b1, float64(e)), 1-math.Pow(b2, float64(e))
		k := 0
		step := func(p *float64) {
			mom[k] = b1*mom[k] + (1-b1)*grad[k]
			vel[k] = b2*vel[k] + (1-b2)*grad[k]*grad[k]
			*p -= m.LR * (mom[k] / c1) / (math.Sqrt(vel[k]/c2) + eps)
			k++
		}
		for a := 0; a < h; a++ {
			for j := 0; j < d; j++ {
				step(&m.w1[a][j])
			}
		}
		for a := 0; a < h; a++ {
			step(&m.b1[a])
		}
		for a := 0; a < h; a++ {
			step(&m.w2[a])
		}
		step(&m.b2)
	}
	return nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Predict implements Detector.
func (m *MLP) Predict(x []float64) int {
	z := m.sc.apply(x, make([]float64, 0, len(x)))
	var s float64
	for a := range m.w1 {
		s += m.w2[a] * math.Max(0, dot(m.w1[a], z)+m.b1[a])
	}
	if sigmoid(s+m.b2) > 0.5 {
		return 1
	}
	return 0
}
