package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ParamSpec describes one trainable tensor of the model.
type ParamSpec struct {
	Name string
	Dims []int
	// Std is the standard deviation of the normal initialisation (Hugging
	// Face's T5 initialisation with factor 1); zero means "initialise to
	// ones" (RMSNorm scales).
	Std float64
	// BlockStd, when set, splits the last axis into len(BlockStd) equal
	// blocks initialised with these deviations (fused projections).
	BlockStd []float64
	// Decay tells AdamW to apply weight decay. It is false for the RMSNorm
	// scales and the relative position bias tables (nanoT5's no-decay rule).
	Decay bool
}

// Size is the number of elements of the tensor.
func (p ParamSpec) Size() int {
	n := 1
	for _, d := range p.Dims {
		n *= d
	}
	return n
}

// ParamSpecs lists the model's parameters in a fixed order (the order of
// gradients, checkpoints and optimizer state).
//
// Layout (names follow Hugging Face's T5 where a tensor maps one to one):
// the query, key and value projections of self-attention are one [d, 3*inner]
// matrix "qkv", the key and value projections of cross-attention one
// [d, 2*inner] matrix "kv", and the two gated-GELU input projections one
// [d, 2*ff] matrix "wi" (wi_0 then wi_1): fewer, larger matmuls.
func ParamSpecs(c *Config) []ParamSpec {
	d, inner, ff := c.DModel, c.NumHeads*c.DKV, c.DFF
	fd, finner, fff := float64(d), float64(inner), float64(ff)
	qStd, kvStd := math.Pow(fd*float64(c.DKV), -0.5), math.Pow(fd, -0.5)
	var specs []ParamSpec
	add := func(name string, std float64, decay bool, dims ...int) {
		specs = append(specs, ParamSpec{Name: name, Dims: dims, Std: std, Decay: decay})
	}
	add("shared", 1.0, true, c.VocabSize, d)
	for _, stack := range []string{"encoder", "decoder"} {
		layers := c.EncoderLayer
		if stack == "decoder" {
			layers = c.DecoderLayer
		}
		add(stack+".relative_attention_bias", math.Pow(fd, -0.5), false, c.RelBuckets, c.NumHeads)
		for i := range layers {
			p := fmt.Sprintf("%s.block.%d.", stack, i)
			add(p+"self_attn.norm", 0, false, d)
			add(p+"self_attn.qkv", 1, true, d, 3*inner)
			specs[len(specs)-1].BlockStd = []float64{qStd, kvStd, kvStd}
			add(p+"self_attn.o", math.Pow(finner, -0.5), true, inner, d)
			if stack == "decoder" {
				add(p+"cross_attn.norm", 0, false, d)
				add(p+"cross_attn.q", qStd, true, d, inner)
				add(p+"cross_attn.kv", kvStd, true, d, 2*inner)
				add(p+"cross_attn.o", math.Pow(finner, -0.5), true, inner, d)
			}
			add(p+"ff.norm", 0, false, d)
			add(p+"ff.wi", math.Pow(fd, -0.5), true, d, 2*ff)
			add(p+"ff.wo", math.Pow(fff, -0.5), true, ff, d)
		}
		add(stack+".final_norm", 0, false, d)
	}
	add("lm_head", 1.0, true, d, c.VocabSize)
	return specs
}

// NumParams is the total number of trainable parameters.
func NumParams(specs []ParamSpec) int {
	n := 0
	for _, s := range specs {
		n += s.Size()
	}
	return n
}

// InitParams returns freshly initialised parameters, deterministic in seed.
func InitParams(specs []ParamSpec, seed uint64) [][]float32 {
	values := make([][]float32, len(specs))
	for i, s := range specs {
		v := make([]float32, s.Size())
		if s.Std == 0 {
			for j := range v {
				v[j] = 1
			}
		} else {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			last := s.Dims[len(s.Dims)-1]
			for j := range v {
				std := s.Std
				if len(s.BlockStd) > 0 {
					std = s.BlockStd[(j%last)/(last/len(s.BlockStd))]
				}
				v[j] = float32(r.NormFloat64() * std)
			}
		}
		values[i] = v
	}
	return values
}
