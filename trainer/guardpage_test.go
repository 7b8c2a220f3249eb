//go:build linux

package trainer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/shapes"
)

// The GuardPage test guards against issue 13's crash (docs/simd-guard.md): with GOEXPERIMENT=simd,
// Go 1.27.4's simd.Load*Part loads a whole vector from a short tail and masks it afterwards, so a
// kernel reads up to 60 bytes past its input; a buffer that ends at the end of a mapped page kills
// the process ("unexpected fault address"). Each case below places every input of one backend op
// so that its last element ends a page followed by a PROT_NONE page, runs the op in a child process
// (a fault cannot be recovered in-process) and requires the child to exit 0 with the same output as
// the op run on ordinary buffers. Without the patched compute (go.mod's replace line) about half
// of the cases crash on an AVX-512 machine, among them issue 13's scatter.

// guardCaseEnv names the environment variable that makes TestGuardPage run one case in-process.
const guardCaseEnv = "LENS_GUARDPAGE_CASE"

// guardInput is one input of a guard-page case: a shape and the value of element i.
type guardInput struct {
	shape shapes.Shape
	value func(i int) float64
}

// guardCase is one backend op run with every input at a guard page.
type guardCase struct {
	name   string
	inputs []guardInput
	build  func(f compute.Function, in []compute.Value) (compute.Value, error)
}

// Shapes of the cases: none is a multiple of a vector (16 float32 lanes on AVX-512, 8 on AVX2,
// 32 and 16 for 16-bit types), so every kernel ends on a partial vector at the end of its input.
const (
	guardN    = 37 // 1-D length: 2 full AVX-512 float32 vectors + 5
	guardRows = 3
	guardCols = 19
)

func guardPositive(i int) float64 { return 0.5 + float64((i*7)%11)*0.25 } // in [0.5, 3]
func guardSigned(i int) float64   { return float64((i*5)%13) - 6 }        // small integers in [-6, 6]
func guardSmall(i int) float64    { return float64(1 + (i*3)%7) }         // integers in [1, 7]

func guardIn1(dt dtypes.DType, v func(int) float64) guardInput {
	return guardInput{shapes.Make(dt, guardN), v}
}

func guardIn2(dt dtypes.DType, v func(int) float64) guardInput {
	return guardInput{shapes.Make(dt, guardRows, guardCols), v}
}

func guardUnary(name string, dt dtypes.DType, v func(int) float64,
	op func(f compute.Function, x compute.Value) (compute.Value, error)) guardCase {
	return guardCase{name + "/" + dt.String(), []guardInput{guardIn1(dt, v)},
		func(f compute.Function, in []compute.Value) (compute.Value, error) { return op(f, in[0]) }}
}

func guardBinary(name string, dt dtypes.DType, v func(int) float64,
	op func(f compute.Function, x, y compute.Value) (compute.Value, error)) guardCase {
	return guardCase{name + "/" + dt.String(), []guardInput{guardIn1(dt, v), guardIn1(dt, v)},
		func(f compute.Function, in []compute.Value) (compute.Value, error) { return op(f, in[0], in[1]) }}
}

// scatterCase scatters updates[k, cols] into operand[rows, cols] at rows given by indices[k, 1].
// With cols = 2 it is the shape of issue 13's crash (a 2-element slice at the end of a page).
func guardScatter(name string, dt dtypes.DType, rows, cols, k int, useMax bool) guardCase {
	return guardCase{
		name: fmt.Sprintf("%s-%dx%d/%s", name, rows, cols, dt),
		inputs: []guardInput{
			{shapes.Make(dt, rows, cols), guardSmall},
			{shapes.Make(dtypes.Int32, k, 1), func(i int) float64 { return float64((i*2 + 1) % rows) }},
			{shapes.Make(dt, k, cols), guardSmall},
		},
		build: func(f compute.Function, in []compute.Value) (compute.Value, error) {
			scatter := f.ScatterSum
			if useMax {
				scatter = f.ScatterMax
			}
			return scatter(in[0], in[1], in[2], 1, []int{1}, []int{0}, []int{0}, false, false)
		},
	}
}

func guardReduces(dt dtypes.DType) []guardCase {
	var cases []guardCase
	for _, r := range []struct {
		name string
		axes []int
	}{{"trailing", []int{1}}, {"leading", []int{0}}, {"all", []int{0, 1}}} {
		cases = append(cases,
			guardCase{"ReduceSum-" + r.name + "/" + dt.String(), []guardInput{guardIn2(dt, guardSmall)},
				func(f compute.Function, in []compute.Value) (compute.Value, error) {
					return f.ReduceSum(in[0], r.axes...)
				}},
			guardCase{"ReduceMax-" + r.name + "/" + dt.String(), []guardInput{guardIn2(dt, guardSmall)},
				func(f compute.Function, in []compute.Value) (compute.Value, error) {
					return f.ReduceMax(in[0], r.axes...)
				}})
	}
	return cases
}

// guardCases lists the ops the trainer's graphs run on the go backend (element-wise arithmetic,
// the unary math of GELU, softmax, layer norm and AdamW, reductions, gather and scatter of
// embeddings and their gradients, matmul), for float32 and for the other dtypes whose kernels
// have partial-vector tails.
func guardCases() []guardCase {
	f32 := dtypes.Float32
	cases := []guardCase{
		guardBinary("Add", f32, guardPositive, compute.Function.Add),
		guardBinary("Sub", f32, guardPositive, compute.Function.Sub),
		guardBinary("Mul", f32, guardPositive, compute.Function.Mul),
		guardBinary("Div", f32, guardPositive, compute.Function.Div),
		guardBinary("Max", f32, guardSigned, compute.Function.Max),
		guardBinary("Min", f32, guardSigned, compute.Function.Min),
		guardBinary("Pow", f32, guardPositive, compute.Function.Pow),
		guardUnary("MulScalar", f32, guardPositive, func(f compute.Function, x compute.Value) (compute.Value, error) {
			c, err := f.Constant([]float32{1.5})
			if err != nil {
				return nil, err
			}
			return f.Mul(x, c)
		}),
		{"AddRowBroadcast/Float32", []guardInput{guardIn2(f32, guardPositive), {shapes.Make(f32, guardCols), guardPositive}},
			func(f compute.Function, in []compute.Value) (compute.Value, error) {
				b, err := f.BroadcastInDim(in[1], shapes.Make(f32, guardRows, guardCols), []int{1})
				if err != nil {
					return nil, err
				}
				return f.Add(in[0], b)
			}},
		{"Where/Float32", []guardInput{guardIn1(f32, guardSigned), guardIn1(f32, guardPositive)},
			func(f compute.Function, in []compute.Value) (compute.Value, error) {
				cond, err := f.GreaterThan(in[0], in[1])
				if err != nil {
					return nil, err
				}
				return f.Where(cond, in[0], in[1])
			}},
		guardUnary("Exp", f32, guardSigned, compute.Function.Exp),
		guardUnary("Log", f32, guardPositive, compute.Function.Log),
		guardUnary("Log1p", f32, guardPositive, compute.Function.Log1p),
		guardUnary("Tanh", f32, guardSigned, compute.Function.Tanh),
		guardUnary("Sqrt", f32, guardPositive, compute.Function.Sqrt),
		guardUnary("Rsqrt", f32, guardPositive, compute.Function.Rsqrt),
		guardUnary("Logistic", f32, guardSigned, compute.Function.Logistic),
		guardUnary("Erf", f32, guardSigned, compute.Function.Erf),
		guardUnary("Abs", f32, guardSigned, compute.Function.Abs),
		guardUnary("Neg", f32, guardSigned, compute.Function.Neg),
		guardUnary("Sign", f32, guardSigned, compute.Function.Sign),
		guardUnary("ConvertToBFloat16", f32, guardSigned, func(f compute.Function, x compute.Value) (compute.Value, error) {
			return f.ConvertDType(x, dtypes.BFloat16)
		}),
		{"Softmax/Float32", []guardInput{guardIn2(f32, guardSigned)},
			func(f compute.Function, in []compute.Value) (compute.Value, error) { return f.FusedSoftmax(in[0], 1) }},
		{"LayerNorm/Float32", []guardInput{guardIn2(f32, guardSigned), {shapes.Make(f32, guardCols), guardPositive}, {shapes.Make(f32, guardCols), guardSigned}},
			func(f compute.Function, in []compute.Value) (compute.Value, error) {
				return f.FusedLayerNorm(in[0], []int{1}, 1e-6, in[1], in[2])
			}},
		{"Gather/Float32", []guardInput{guardIn2(f32, guardSigned), {shapes.Make(dtypes.Int32, 4, 1), func(i int) float64 { return float64((i + 2) % guardRows) }}},
			func(f compute.Function, in []compute.Value) (compute.Value, error) {
				return f.Gather(in[0], in[1], 1, []int{1}, []int{0}, []int{0}, []int{1, guardCols}, false)
			}},
		{"DotGeneral/Float32", []guardInput{guardIn2(f32, guardSigned), {shapes.Make(f32, guardCols, 21), guardPositive}},
			func(f compute.Function, in []compute.Value) (compute.Value, error) {
				return f.DotGeneral(in[0], []int{1}, nil, in[1], []int{0}, nil, compute.DotGeneralConfig{})
			}},
		guardScatter("ScatterSum", f32, 5, 2, 3, false),
		guardScatter("ScatterSum", f32, 4, guardCols, 3, false),
		guardScatter("ScatterMax", f32, 4, guardCols, 3, true),
	}
	for _, act := range []compute.ActivationType{compute.ActivationGelu, compute.ActivationGeluApproximate,
		compute.ActivationRelu, compute.ActivationSigmoid, compute.ActivationSilu, compute.ActivationTanh} {
		cfg := compute.ActivationConfig{Type: act}
		cases = append(cases,
			guardUnary("Activation-"+act.String(), f32, guardSigned, func(f compute.Function, x compute.Value) (compute.Value, error) {
				return f.FusedActivation(x, cfg)
			}),
			guardCase{"ActivationVJP-" + act.String() + "/Float32", []guardInput{guardIn1(f32, guardSigned), guardIn1(f32, guardSigned), guardIn1(f32, guardPositive)},
				func(f compute.Function, in []compute.Value) (compute.Value, error) {
					return f.FusedActivationVJP(in[0], in[1], in[2], cfg)
				}})
	}
	cases = append(cases, guardReduces(f32)...)

	// Other dtypes with partial-vector kernels: the float ones run the trainer's math, the
	// integer ones its index arithmetic.
	for _, dt := range []dtypes.DType{dtypes.Float64, dtypes.BFloat16, dtypes.Float16} {
		cases = append(cases,
			guardBinary("Add", dt, guardPositive, compute.Function.Add),
			guardBinary("Sub", dt, guardPositive, compute.Function.Sub),
			guardBinary("Mul", dt, guardPositive, compute.Function.Mul),
			guardBinary("Div", dt, guardPositive, compute.Function.Div),
			guardBinary("Max", dt, guardSigned, compute.Function.Max),
			guardUnary("Exp", dt, guardSigned, compute.Function.Exp),
			guardUnary("Tanh", dt, guardSigned, compute.Function.Tanh),
			guardUnary("Sqrt", dt, guardPositive, compute.Function.Sqrt),
			guardScatter("ScatterSum", dt, 5, 2, 3, false),
		)
		cases = append(cases, guardReduces(dt)...)
	}
	for _, dt := range []dtypes.DType{dtypes.Int32, dtypes.Int64, dtypes.Uint32, dtypes.Uint64} {
		cases = append(cases,
			guardBinary("Add", dt, guardSmall, compute.Function.Add),
			guardBinary("Sub", dt, guardSmall, compute.Function.Sub),
			guardBinary("Mul", dt, guardSmall, compute.Function.Mul),
			guardBinary("Max", dt, guardSmall, compute.Function.Max),
			guardScatter("ScatterSum", dt, 5, 2, 3, false),
		)
		cases = append(cases, guardReduces(dt)...)
	}
	return cases
}

// TestGuardPage runs every guard case in its own child process and requires each to exit 0.
// The "control" case reads one byte past a guard buffer and must crash: it shows that the
// guard page would catch an over-read.
func TestGuardPage(t *testing.T) {
	if name := os.Getenv(guardCaseEnv); name != "" {
		runGuardCaseInProcess(t, name)
		return
	}
	if testing.Short() {
		t.Skip("-short: the guard-page cases run in child processes (about a minute)")
	}
	t.Run("control", func(t *testing.T) {
		out, err := runGuardChild(guardControlCase)
		if err == nil || !bytes.Contains(out, []byte("fault")) {
			t.Fatalf("reading past a guard buffer did not fault (err=%v); the guard page does not work, so the other cases prove nothing:\n%s",
				err, guardChildExcerpt(out))
		}
	})
	for _, c := range guardCases() {
		t.Run(c.name, func(t *testing.T) {
			out, err := runGuardChild(c.name)
			if err != nil {
				t.Errorf("%s with inputs ending at a PROT_NONE page: child %v (a fault means a kernel read past its buffer, see docs/simd-guard.md):\n%s",
					c.name, err, guardChildExcerpt(out))
			}
		})
	}
}

const guardControlCase = "control"

// runGuardChild re-executes the test binary to run one case and returns its output.
func runGuardChild(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestGuardPage$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), guardCaseEnv+"="+name)
	return cmd.CombinedOutput()
}

// guardChildExcerpt returns the part of a child's output worth reading: from the fault message, the
// faulting goroutine's first frames (the goroutine dump that follows is left out); else the
// output's last lines.
func guardChildExcerpt(out []byte) string {
	const n = 24
	text := string(out)
	if i := strings.Index(text, "unexpected fault address"); i >= 0 {
		lines := strings.Split(text[i:], "\n")
		return strings.Join(lines[:min(n, len(lines))], "\n") + "\n..."
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// runGuardCaseInProcess is the child's side: it runs the named case on guard-page inputs and on
// ordinary inputs and requires the same output bytes.
func runGuardCaseInProcess(t *testing.T, name string) {
	if name == guardControlCase {
		mem := guardedBytes(t, 4)
		past := unsafe.Add(unsafe.Pointer(unsafe.SliceData(mem)), len(mem))
		t.Logf("read past the guard buffer: %d", *(*byte)(past)) // must fault
		t.Fatalf("read one byte past a guard buffer without a fault")
	}
	var c *guardCase
	for _, gc := range guardCases() {
		if gc.name == name {
			c = &gc
			break
		}
	}
	if c == nil {
		t.Fatalf("no guard case named %q", name)
	}
	backend, _, err := NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	exe := buildGuardCase(t, backend, c)

	flats := make([]any, len(c.inputs))
	plain := make([]compute.Buffer, len(c.inputs))
	guarded := make([]compute.Buffer, len(c.inputs))
	for i, in := range c.inputs {
		flats[i] = guardValues(t, in)
		if plain[i], err = backend.BufferFromFlatData(0, flats[i], in.shape); err != nil {
			t.Fatal(err)
		}
		guarded[i] = guardBuffer(t, backend, in.shape, flats[i])
	}
	want := executeGuardCase(t, exe, plain)
	got := executeGuardCase(t, exe, guarded)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: output with guard-page inputs differs from the output with ordinary inputs", name)
	}
	t.Logf("%s: %d output bytes, equal to the run on ordinary buffers", name, len(got))
}

func buildGuardCase(t *testing.T, backend compute.Backend, c *guardCase) compute.Executable {
	t.Helper()
	b := backend.Builder("guardpage")
	f := b.Main()
	params := make([]compute.Value, len(c.inputs))
	for i, in := range c.inputs {
		p, err := f.Parameter(fmt.Sprintf("x%d", i), in.shape, nil)
		if err != nil {
			t.Fatalf("%s: parameter %d: %v", c.name, i, err)
		}
		params[i] = p
	}
	out, err := c.build(f, params)
	if err != nil {
		t.Fatalf("%s: building the op: %v", c.name, err)
	}
	if err := f.Return([]compute.Value{out}, nil); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	exe, err := b.Compile()
	if err != nil {
		t.Fatalf("%s: compile: %v", c.name, err)
	}
	return exe
}

// executeGuardCase runs exe on inputs (none donated) and returns the output's bytes.
func executeGuardCase(t *testing.T, exe compute.Executable, inputs []compute.Buffer) []byte {
	t.Helper()
	outs, err := exe.Execute(inputs, nil, 0)
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	shape, err := outs[0].Shape()
	if err != nil {
		t.Fatal(err)
	}
	flat := reflect.MakeSlice(reflect.SliceOf(shape.DType.GoType()), shape.Size(), shape.Size())
	if err := outs[0].ToFlatData(flat.Interface()); err != nil {
		t.Fatal(err)
	}
	return unsafe.Slice((*byte)(flat.UnsafePointer()), int(shape.ByteSize()))
}

// guardValues returns the flat values of one input as a slice of its dtype.
func guardValues(t *testing.T, in guardInput) any {
	n := in.shape.Size()
	switch in.shape.DType {
	case dtypes.Float32:
		return guardFill(n, in.value, func(v float64) float32 { return float32(v) })
	case dtypes.Float64:
		return guardFill(n, in.value, func(v float64) float64 { return v })
	case dtypes.BFloat16:
		return guardFill(n, in.value, func(v float64) bfloat16.BFloat16 { return bfloat16.FromFloat32(float32(v)) })
	case dtypes.Float16:
		return guardFill(n, in.value, func(v float64) float16.Float16 { return float16.FromFloat32(float32(v)) })
	case dtypes.Int32:
		return guardFill(n, in.value, func(v float64) int32 { return int32(v) })
	case dtypes.Int64:
		return guardFill(n, in.value, func(v float64) int64 { return int64(v) })
	case dtypes.Uint32:
		return guardFill(n, in.value, func(v float64) uint32 { return uint32(v) })
	case dtypes.Uint64:
		return guardFill(n, in.value, func(v float64) uint64 { return uint64(v) })
	}
	t.Fatalf("guard case input of dtype %s: no values", in.shape.DType)
	return nil
}

func guardFill[T any](n int, value func(int) float64, conv func(float64) T) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = conv(value(i))
	}
	return s
}

// guardedBytes returns size bytes of fresh memory whose last byte ends a page that is followed by
// a PROT_NONE page, so that reading even one byte past the slice faults.
func guardedBytes(t *testing.T, size int) []byte {
	t.Helper()
	page := os.Getpagesize()
	span := (size + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, span+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap %d bytes: %v", span+page, err)
	}
	if err := syscall.Mprotect(mem[span:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect the guard page: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	return mem[span-size : span : span]
}

// guardBuffer returns a go-backend buffer holding flat whose storage ends at a guard page. The go
// backend copies every slice it is given into its own memory, so the test takes a shared buffer
// and points its storage (the exported fields Flat and RawBytes of gobackend.Buffer) at
// guard-page memory through reflection.
func guardBuffer(t *testing.T, backend compute.Backend, shape shapes.Shape, flat any) compute.Buffer {
	t.Helper()
	buf, _, err := backend.NewSharedBuffer(0, shape)
	if err != nil {
		t.Fatalf("shared buffer %s: %v", shape, err)
	}
	src := reflect.ValueOf(flat)
	mem := guardedBytes(t, int(shape.ByteSize()))
	dst := reflect.SliceAt(src.Type().Elem(), unsafe.Pointer(unsafe.SliceData(mem)), src.Len())
	reflect.Copy(dst, src)
	v := reflect.ValueOf(buf)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("go backend buffer is a %T, not a pointer to a struct: the GuardPage test cannot place its data", buf)
	}
	for name, value := range map[string]reflect.Value{"Flat": dst, "RawBytes": reflect.ValueOf(mem)} {
		field := v.Elem().FieldByName(name)
		if !field.IsValid() || !field.CanSet() || !value.Type().AssignableTo(field.Type()) {
			t.Fatalf("go backend buffer %T has no settable field %s of a matching type: update guardBuffer (docs/simd-guard.md)", buf, name)
		}
		field.Set(value)
	}
	return buf
}
