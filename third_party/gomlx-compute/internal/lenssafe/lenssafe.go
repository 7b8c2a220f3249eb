// lens: this file is not part of upstream gomlx/compute; see ../../README.lens.md.

//go:build goexperiment.simd

package lenssafe

import "simd"

// tailBytes is the size of the local array a short tail is copied into: one 512-bit vector, the
// widest on amd64. A wider vector (none exists on the targets Go supports today) takes a heap copy.
const tailBytes = 64

// LoadFloat32sPart is simd.LoadFloat32sPart without reading past s.
func LoadFloat32sPart(s []float32) (simd.Float32s, int) {
	n := simd.BroadcastFloat32s(0).Len()
	if len(s) >= n {
		return simd.LoadFloat32s(s), n
	}
	var buf [tailBytes / 4]float32
	t := buf[:]
	if n > len(t) {
		t = make([]float32, n)
	}
	copy(t, s)
	return simd.LoadFloat32s(t), len(s)
}

// LoadFloat64sPart is simd.LoadFloat64sPart without reading past s.
func LoadFloat64sPart(s []float64) (simd.Float64s, int) {
	n := simd.BroadcastFloat64s(0).Len()
	if len(s) >= n {
		return simd.LoadFloat64s(s), n
	}
	var buf [tailBytes / 8]float64
	t := buf[:]
	if n > len(t) {
		t = make([]float64, n)
	}
	copy(t, s)
	return simd.LoadFloat64s(t), len(s)
}

// LoadInt32sPart is simd.LoadInt32sPart without reading past s.
func LoadInt32sPart(s []int32) (simd.Int32s, int) {
	n := simd.BroadcastInt32s(0).Len()
	if len(s) >= n {
		return simd.LoadInt32s(s), n
	}
	var buf [tailBytes / 4]int32
	t := buf[:]
	if n > len(t) {
		t = make([]int32, n)
	}
	copy(t, s)
	return simd.LoadInt32s(t), len(s)
}

// LoadUint32sPart is simd.LoadUint32sPart without reading past s.
func LoadUint32sPart(s []uint32) (simd.Uint32s, int) {
	n := simd.BroadcastUint32s(0).Len()
	if len(s) >= n {
		return simd.LoadUint32s(s), n
	}
	var buf [tailBytes / 4]uint32
	t := buf[:]
	if n > len(t) {
		t = make([]uint32, n)
	}
	copy(t, s)
	return simd.LoadUint32s(t), len(s)
}

// LoadInt64sPart is simd.LoadInt64sPart without reading past s.
func LoadInt64sPart(s []int64) (simd.Int64s, int) {
	n := simd.BroadcastInt64s(0).Len()
	if len(s) >= n {
		return simd.LoadInt64s(s), n
	}
	var buf [tailBytes / 8]int64
	t := buf[:]
	if n > len(t) {
		t = make([]int64, n)
	}
	copy(t, s)
	return simd.LoadInt64s(t), len(s)
}

// LoadUint64sPart is simd.LoadUint64sPart without reading past s.
func LoadUint64sPart(s []uint64) (simd.Uint64s, int) {
	n := simd.BroadcastUint64s(0).Len()
	if len(s) >= n {
		return simd.LoadUint64s(s), n
	}
	var buf [tailBytes / 8]uint64
	t := buf[:]
	if n > len(t) {
		t = make([]uint64, n)
	}
	copy(t, s)
	return simd.LoadUint64s(t), len(s)
}

// LoadUint16sPart is simd.LoadUint16sPart without reading past s (used for bfloat16 and float16).
func LoadUint16sPart(s []uint16) (simd.Uint16s, int) {
	n := simd.BroadcastUint16s(0).Len()
	if len(s) >= n {
		return simd.LoadUint16s(s), n
	}
	var buf [tailBytes / 2]uint16
	t := buf[:]
	if n > len(t) {
		t = make([]uint16, n)
	}
	copy(t, s)
	return simd.LoadUint16s(t), len(s)
}
