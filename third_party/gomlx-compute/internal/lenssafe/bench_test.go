// lens: this file is not part of upstream gomlx/compute; see ../../README.lens.md.

//go:build goexperiment.simd

package lenssafe

import (
	"simd"
	"testing"
)

var benchSink float32

// BenchmarkTailLoad compares the patched tail load with the toolchain's on a 5-element tail of an
// ordinary slice (where the toolchain's over-read is harmless), then adds and stores it.
func BenchmarkTailLoad(b *testing.B) {
	s := make([]float32, 64)
	for i := range s {
		s[i] = float32(i)
	}
	tail := s[:5]
	out := make([]float32, 5)
	b.Run("lenssafe", func(b *testing.B) {
		for b.Loop() {
			v, _ := LoadFloat32sPart(tail)
			v.Add(v).StorePart(out)
		}
		benchSink = out[4]
	})
	b.Run("upstream", func(b *testing.B) {
		for b.Loop() {
			v, _ := simd.LoadFloat32sPart(tail)
			v.Add(v).StorePart(out)
		}
		benchSink = out[4]
	})
}
