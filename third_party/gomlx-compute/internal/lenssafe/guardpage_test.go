// lens: this file is not part of upstream gomlx/compute; see ../../README.lens.md.

//go:build goexperiment.simd && linux

package lenssafe

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"simd"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns n elements of fresh zeroed memory whose last element ends a page that is
// followed by a PROT_NONE page, so that reading even one byte past the slice faults.
func guarded[T any](t *testing.T, n int) []T {
	t.Helper()
	var zero T
	page := os.Getpagesize()
	size := n * int(unsafe.Sizeof(zero))
	span := (size + page - 1) / page * page
	if span == 0 {
		span = page
	}
	mem, err := syscall.Mmap(-1, 0, span+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	if err := syscall.Mprotect(mem[span:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[span-size])), n)
}

// checkLoad loads every tail length 0..2*lanes of a guard-page slice through load and checks
// the count and that lanes [0, count) hold the slice and the others zero.
func checkLoad[T comparable, V any](t *testing.T, name string, lanes int, value func(i int) T,
	load func([]T) (V, int), store func(V, []T)) {
	t.Helper()
	var zero T
	for n := 0; n <= 2*lanes; n++ {
		s := guarded[T](t, n)
		for i := range s {
			s[i] = value(i + 1)
		}
		v, count := load(s) // faults here if the load reads past s
		if want := min(n, lanes); count != want {
			t.Fatalf("%s(len %d): count %d, want %d", name, n, count, want)
		}
		got := make([]T, lanes)
		store(v, got)
		for i, g := range got {
			want := zero
			if i < n {
				want = s[i]
			}
			if g != want {
				t.Fatalf("%s(len %d): lane %d = %v, want %v", name, n, i, g, want)
			}
		}
	}
}

// TestGuardPageLoadPart checks every helper on slices that end at a PROT_NONE page.
func TestGuardPageLoadPart(t *testing.T) {
	checkLoad(t, "LoadFloat32sPart", simd.BroadcastFloat32s(0).Len(), func(i int) float32 { return float32(i) + 0.5 },
		LoadFloat32sPart, func(v simd.Float32s, s []float32) { v.Store(s) })
	checkLoad(t, "LoadFloat64sPart", simd.BroadcastFloat64s(0).Len(), func(i int) float64 { return float64(i) - 0.25 },
		LoadFloat64sPart, func(v simd.Float64s, s []float64) { v.Store(s) })
	checkLoad(t, "LoadInt32sPart", simd.BroadcastInt32s(0).Len(), func(i int) int32 { return int32(-i) },
		LoadInt32sPart, func(v simd.Int32s, s []int32) { v.Store(s) })
	checkLoad(t, "LoadUint32sPart", simd.BroadcastUint32s(0).Len(), func(i int) uint32 { return uint32(i) << 20 },
		LoadUint32sPart, func(v simd.Uint32s, s []uint32) { v.Store(s) })
	checkLoad(t, "LoadInt64sPart", simd.BroadcastInt64s(0).Len(), func(i int) int64 { return int64(-i) << 40 },
		LoadInt64sPart, func(v simd.Int64s, s []int64) { v.Store(s) })
	checkLoad(t, "LoadUint64sPart", simd.BroadcastUint64s(0).Len(), func(i int) uint64 { return uint64(i) << 50 },
		LoadUint64sPart, func(v simd.Uint64s, s []uint64) { v.Store(s) })
	checkLoad(t, "LoadUint16sPart", simd.BroadcastUint16s(0).Len(), func(i int) uint16 { return uint16(i) * 1001 },
		LoadUint16sPart, func(v simd.Uint16s, s []uint16) { v.Store(s) })
}

// checkStore writes a full vector with StorePart into guard-page slices of every length below
// lanes and checks that exactly len(s) elements were written and nothing faulted.
func checkStore[T comparable](t *testing.T, name string, lanes int, fill T, storePart func([]T) int) {
	t.Helper()
	for n := 1; n < lanes; n++ {
		mem := guarded[T](t, lanes) // the slice is the last n elements of this one
		s := mem[lanes-n:]
		if count := storePart(s); count != n { // faults here if the store touches the guard page
			t.Fatalf("%s(len %d): stored %d", name, n, count)
		}
		var zero T
		for i, x := range mem {
			want := zero // untouched elements before the slice
			if i >= lanes-n {
				want = fill
			}
			if x != want {
				t.Fatalf("%s(len %d): element %d = %v, want %v", name, n, i-(lanes-n), x, want)
			}
		}
	}
}

// TestGuardPageStorePart checks the claim the patch relies on: simd StorePart (a masked store)
// writes only inside the slice, so stores need no helper.
func TestGuardPageStorePart(t *testing.T) {
	checkStore(t, "Float32s.StorePart", simd.BroadcastFloat32s(0).Len(), float32(3),
		simd.BroadcastFloat32s(3).StorePart)
	checkStore(t, "Float64s.StorePart", simd.BroadcastFloat64s(0).Len(), float64(3),
		simd.BroadcastFloat64s(3).StorePart)
	checkStore(t, "Int32s.StorePart", simd.BroadcastInt32s(0).Len(), int32(3), simd.BroadcastInt32s(3).StorePart)
	checkStore(t, "Uint32s.StorePart", simd.BroadcastUint32s(0).Len(), uint32(3), simd.BroadcastUint32s(3).StorePart)
	checkStore(t, "Int64s.StorePart", simd.BroadcastInt64s(0).Len(), int64(3), simd.BroadcastInt64s(3).StorePart)
	checkStore(t, "Uint64s.StorePart", simd.BroadcastUint64s(0).Len(), uint64(3), simd.BroadcastUint64s(3).StorePart)
	checkStore(t, "Uint16s.StorePart", simd.BroadcastUint16s(0).Len(), uint16(3), simd.BroadcastUint16s(3).StorePart)
}

// unpatchedPartLoad matches a call of the toolchain's partial loads, which read past the slice.
var unpatchedPartLoad = regexp.MustCompile(`\b(simd|archsimd|bridge)\.Load\w*Part\(`)

// TestGuardPageNoUnpatchedPartLoads scans the module's non-test Go files: every partial load
// must go through this package. It catches call sites added by a future upstream merge.
func TestGuardPageNoUnpatchedPartLoads(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	self, _ := filepath.Abs(".")
	var found []string
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path == self {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for line := 1; sc.Scan(); line++ {
			if unpatchedPartLoad.MatchString(sc.Text()) {
				rel, _ := filepath.Rel(root, path)
				found = append(found, rel+":"+strconv.Itoa(line)+": "+strings.TrimSpace(sc.Text()))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("scanned only %d Go files under %s: wrong root?", files, root)
	}
	if len(found) > 0 {
		t.Errorf("%d partial loads read past their slice; call the lenssafe helper instead (README.lens.md):\n%s",
			len(found), strings.Join(found, "\n"))
	}
}
