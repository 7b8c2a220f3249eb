// lens: this file is not part of upstream gomlx/compute; see ../../README.lens.md.

//go:build goexperiment.simd && linux && amd64

package lenssafe

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"simd"
	"simd/archsimd"
	"testing"
)

const upstreamChildEnv = "LENSSAFE_UPSTREAM_CHILD"

// TestGuardPageUpstreamStillFaults shows why this package exists: the toolchain's own
// simd.LoadFloat32sPart, given 2 float32 that end at a PROT_NONE page, faults (in a child
// process). When a Go release stops faulting here, this test fails to say so: the patch may then
// be dropped once the GuardPage test of lens's trainer passes without it (README.lens.md).
func TestGuardPageUpstreamStillFaults(t *testing.T) {
	if os.Getenv(upstreamChildEnv) != "" {
		s := guarded[float32](t, 2)
		v, n := simd.LoadFloat32sPart(s) // reads a whole vector: faults
		t.Logf("loaded %d elements without a fault: %v", n, v)
		return
	}
	if !archsimd.X86.AVX2() {
		t.Skip("no AVX2: the simd package is emulated and loads element by element")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGuardPageUpstreamStillFaults$", "-test.count=1")
	cmd.Env = append(os.Environ(), upstreamChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%s: simd.LoadFloat32sPart no longer reads past a slice that ends at a guard page; "+
			"the lenssafe patch may be dropped (third_party/gomlx-compute/README.lens.md):\n%s", runtime.Version(), out)
	}
	if !bytes.Contains(out, []byte("unexpected fault address")) {
		t.Fatalf("the child failed, but not with a fault:\n%s", out)
	}
	t.Logf("%s: simd.LoadFloat32sPart at a guard page still faults (%v); the patch is needed", runtime.Version(), err)
}
