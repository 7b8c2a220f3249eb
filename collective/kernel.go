//go:build !goexperiment.simd

package collective

// add sets dst[i] += src[i].
func add(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// addScale sets dst[i] = (dst[i] + src[i]) * s.
func addScale(dst, src []float32, s float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = (dst[i] + src[i]) * s
	}
}
