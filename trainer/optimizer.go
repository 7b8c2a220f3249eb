package trainer

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// LearningRate is the schedule: linear warmup from 0 to cfg.LearningRate over
// WarmupSteps, then cosine decay to MinLRRatio*LearningRate ("cosine",
// pretraining), linear decay to 0 ("linear", finetuning) or flat
// ("constant"). step counts optimizer updates from 0.
func LearningRate(cfg *Config, step int) float64 {
	peak := cfg.LearningRate
	if step < cfg.WarmupSteps {
		return peak * float64(step+1) / float64(cfg.WarmupSteps)
	}
	decaySteps := max(cfg.Steps-cfg.WarmupSteps, 1)
	progress := math.Min(float64(step-cfg.WarmupSteps)/float64(decaySteps), 1)
	switch cfg.Schedule {
	case "linear":
		return peak * (1 - progress)
	case "cosine":
		floor := peak * cfg.MinLRRatio
		return floor + (peak-floor)*0.5*(1+math.Cos(math.Pi*progress))
	}
	return peak
}

// adamWGraph builds the update: global-norm clipping of grads at
// cfg.ClipNorm, then AdamW (decoupled weight decay only on parameters whose
// spec has Decay set). Inputs are params, first and second moments and grads
// (each len(specs)), then the scalars lr, 1-beta1^t and 1-beta2^t. Outputs
// are the new params, moments, then the gradient norm before clipping.
func adamWGraph(cfg *Config, specs []ParamSpec, inputs []*Node) []*Node {
	n := len(specs)
	params, m, v, grads := inputs[:n], inputs[n:2*n], inputs[2*n:3*n], inputs[3*n:4*n]
	lr, bc1, bc2 := inputs[4*n], inputs[4*n+1], inputs[4*n+2]
	g := lr.Graph()

	var sq *Node
	for _, gr := range grads {
		s := ReduceAllSum(Square(gr))
		if sq == nil {
			sq = s
		} else {
			sq = Add(sq, s)
		}
	}
	norm := Sqrt(sq)
	scale := ScalarOne(g, norm.DType())
	if cfg.ClipNorm > 0 {
		scale = Min(scale, Div(Scalar(g, norm.DType(), cfg.ClipNorm), AddScalar(norm, 1e-6)))
	}

	b1, b2 := cfg.Beta1, cfg.Beta2
	outP, outM, outV := make([]*Node, n), make([]*Node, n), make([]*Node, n)
	for i := range n {
		gr := Mul(grads[i], scale)
		outM[i] = Add(MulScalar(m[i], b1), MulScalar(gr, 1-b1))
		outV[i] = Add(MulScalar(v[i], b2), MulScalar(Square(gr), 1-b2))
		mHat := Div(outM[i], bc1)
		vHat := Div(outV[i], bc2)
		update := Div(mHat, AddScalar(Sqrt(vHat), cfg.AdamEpsilon))
		if specs[i].Decay && cfg.WeightDecay > 0 {
			update = Add(update, MulScalar(params[i], cfg.WeightDecay))
		}
		outP[i] = Sub(params[i], Mul(lr, update))
	}
	out := append(outP, outM...)
	out = append(out, outV...)
	return append(out, norm)
}
