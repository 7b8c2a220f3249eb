// lens: this package is not part of upstream gomlx/compute; see ../../README.lens.md.

// Package lenssafe loads the tail of a slice into a SIMD vector without reading past the slice.
//
// It is the lens project's patch to gomlx/compute v0.1.14. In Go 1.27.4 with GOEXPERIMENT=simd,
// simd.Load<T>sPart (archsimd Load<T>x16Part on AVX-512, Load<T>x8Part on AVX2, and the other
// element widths) loads a whole vector from the address of a short slice and masks the lanes
// afterwards, so it reads up to one vector minus one element past the slice's end. When the slice
// ends at the end of a mapped page the process dies with "unexpected fault address". Every
// function here has the signature and result of its simd counterpart (lanes past len(s) are zero,
// the count is min(len(s), lanes)), but a short tail is first copied into a zeroed local array and
// the whole vector is loaded from there. Full vectors are loaded directly, as before.
//
// Stores need no such helper: StorePart writes through a masked store (AVX-512 and AVX2 VMASKMOV
// for 32- and 64-bit lanes) or element by element (16-bit lanes on AVX2), and masked-off lanes do
// not fault; the GuardPage tests check that too.
package lenssafe
