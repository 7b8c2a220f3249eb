package trainer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Checkpoint file layout (little-endian):
//
//	"LENSCKPT" | uint32 version | uint64 n | n bytes of JSON metadata |
//	float32 parameters, then AdamW first and second moments, in ParamSpecs
//	order | sha256 of everything before it (32 bytes) | "LENSEND\n"
const (
	ckptMagic   = "LENSCKPT"
	ckptEnd     = "LENSEND\n"
	ckptVersion = 1
)

// CheckpointMeta is the JSON header of a checkpoint.
type CheckpointMeta struct {
	Config  Config       `json:"config"`
	Backend string       `json:"backend"`
	Step    int          `json:"step"`
	Data    DataPosition `json:"data"`
	Params  []ParamMeta  `json:"params"`
	Saved   time.Time    `json:"saved"`
	// Extra holds run-level fields (e.g. the masking policy) for the reader.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// ParamMeta names one stored tensor.
type ParamMeta struct {
	Name string `json:"name"`
	Dims []int  `json:"dims"`
}

// CheckpointName is the file name of the checkpoint after step optimizer steps.
func CheckpointName(step int) string { return fmt.Sprintf("step-%09d.ckpt", step) }

// SaveCheckpoint writes the trainer's parameters, optimizer state and step,
// with the data position, to path atomically: a temporary file in the same
// directory, fsync, rename, fsync of the directory.
func (t *Trainer) SaveCheckpoint(path string, data DataPosition, extra json.RawMessage) error {
	params, err := fromTensors(t.params)
	if err != nil {
		return err
	}
	m, err := fromTensors(t.m)
	if err != nil {
		return err
	}
	v, err := fromTensors(t.v)
	if err != nil {
		return err
	}
	meta := CheckpointMeta{Config: t.Cfg, Backend: t.BackendName, Step: t.Step, Data: data, Saved: time.Now().UTC(), Extra: extra}
	for _, s := range t.Specs {
		meta.Params = append(meta.Params, ParamMeta{Name: s.Name, Dims: s.Dims})
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return err
	}

	var buf bytes.Buffer
	buf.WriteString(ckptMagic)
	_ = binary.Write(&buf, binary.LittleEndian, uint32(ckptVersion))
	_ = binary.Write(&buf, binary.LittleEndian, uint64(len(metaJSON)))
	buf.Write(metaJSON)
	scratch := make([]byte, 0, 1<<16)
	for _, group := range [][][]float32{params, m, v} {
		for _, x := range group {
			for chunk := range slices.Chunk(x, 1<<14) {
				scratch = scratch[:0]
				for _, f := range chunk {
					scratch = binary.LittleEndian.AppendUint32(scratch, math.Float32bits(f))
				}
				buf.Write(scratch)
			}
		}
	}
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	buf.WriteString(ckptEnd)
	return writeAtomic(path, buf.Bytes())
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// CheckpointState is a decoded checkpoint.
type CheckpointState struct {
	Meta         CheckpointMeta
	Params, M, V [][]float32
}

// ReadCheckpoint reads and verifies a checkpoint. A truncated or corrupted
// file is refused with an error naming it.
func ReadCheckpoint(path string) (*CheckpointState, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("trainer: checkpoint %s is corrupt: %s", path, fmt.Sprintf(format, args...))
	}
	const head = len(ckptMagic) + 4 + 8
	const tail = sha256.Size + len(ckptEnd)
	if len(raw) < head+tail || string(raw[:len(ckptMagic)]) != ckptMagic {
		return nil, bad("not a Lens checkpoint or truncated (%d bytes)", len(raw))
	}
	if string(raw[len(raw)-len(ckptEnd):]) != ckptEnd {
		return nil, bad("missing end marker (truncated write?)")
	}
	body := raw[:len(raw)-tail]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], raw[len(body):len(body)+sha256.Size]) {
		return nil, bad("sha256 mismatch")
	}
	if v := binary.LittleEndian.Uint32(raw[len(ckptMagic):]); v != ckptVersion {
		return nil, fmt.Errorf("trainer: checkpoint %s has version %d, this build reads %d", path, v, ckptVersion)
	}
	metaLen := binary.LittleEndian.Uint64(raw[len(ckptMagic)+4:])
	if metaLen > uint64(len(body)-head) {
		return nil, bad("metadata length %d past the end", metaLen)
	}
	st := &CheckpointState{}
	if err := json.Unmarshal(body[head:head+int(metaLen)], &st.Meta); err != nil {
		return nil, bad("metadata: %v", err)
	}
	data := body[head+int(metaLen):]
	total := 0
	for _, p := range st.Meta.Params {
		total += ParamSpec{Dims: p.Dims}.Size()
	}
	if len(data) != 3*4*total {
		return nil, bad("%d bytes of tensors, want %d", len(data), 3*4*total)
	}
	read := func() [][]float32 {
		out := make([][]float32, len(st.Meta.Params))
		for i, p := range st.Meta.Params {
			x := make([]float32, ParamSpec{Dims: p.Dims}.Size())
			for j := range x {
				x[j] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*j:]))
			}
			data = data[4*len(x):]
			out[i] = x
		}
		return out
	}
	st.Params, st.M, st.V = read(), read(), read()
	return st, nil
}

// LoadCheckpoint restores parameters, optimizer state and step from path
// into t; the model shape must match. It returns the checkpoint's metadata.
func (t *Trainer) LoadCheckpoint(path string) (CheckpointMeta, error) {
	st, err := ReadCheckpoint(path)
	if err != nil {
		return CheckpointMeta{}, err
	}
	if len(st.Meta.Params) != len(t.Specs) {
		return CheckpointMeta{}, fmt.Errorf("trainer: checkpoint %s has %d tensors, model has %d", path, len(st.Meta.Params), len(t.Specs))
	}
	for i, p := range st.Meta.Params {
		if p.Name != t.Specs[i].Name || !slices.Equal(p.Dims, t.Specs[i].Dims) {
			return CheckpointMeta{}, fmt.Errorf("trainer: checkpoint %s tensor %d is %s%v, model has %s%v",
				path, i, p.Name, p.Dims, t.Specs[i].Name, t.Specs[i].Dims)
		}
	}
	if err := t.SetParams(st.Params); err != nil {
		return CheckpointMeta{}, err
	}
	t.m, t.v = t.toTensors(st.M), t.toTensors(st.V)
	t.Step = st.Meta.Step
	return st.Meta, nil
}

// LatestCheckpoint returns the path of the newest checkpoint in dir, or ""
// when there is none.
func LatestCheckpoint(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil
		}
		return "", err
	}
	latest := ""
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "step-") && strings.HasSuffix(n, ".ckpt") && n > latest {
			latest = n
		}
	}
	if latest == "" {
		return "", nil
	}
	return filepath.Join(dir, latest), nil
}
