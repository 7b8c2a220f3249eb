//go:build goexperiment.simd

package collective

import "simd"

// add sets dst[i] += src[i], a vector at a time.
func add(dst, src []float32) {
	src = src[:len(dst)]
	var z simd.Float32s
	vlen := z.Len()
	i, n := 0, len(dst)
	for ; i+2*vlen <= n; i += 2 * vlen {
		a := simd.LoadFloat32s(dst[i:]).Add(simd.LoadFloat32s(src[i:]))
		b := simd.LoadFloat32s(dst[i+vlen:]).Add(simd.LoadFloat32s(src[i+vlen:]))
		a.Store(dst[i:])
		b.Store(dst[i+vlen:])
	}
	for ; i < n; i++ {
		dst[i] += src[i]
	}
}

// addScale sets dst[i] = (dst[i] + src[i]) * s, a vector at a time.
func addScale(dst, src []float32, s float32) {
	src = src[:len(dst)]
	sv := simd.BroadcastFloat32s(s)
	vlen := sv.Len()
	i, n := 0, len(dst)
	for ; i+vlen <= n; i += vlen {
		simd.LoadFloat32s(dst[i:]).Add(simd.LoadFloat32s(src[i:])).Mul(sv).Store(dst[i:])
	}
	for ; i < n; i++ {
		dst[i] = (dst[i] + src[i]) * s
	}
}
