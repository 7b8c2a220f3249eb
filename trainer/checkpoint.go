package trainer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
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
// directory, fsync, rename, fsync of the directory. Tensors are streamed one
// at a time, so memory stays near one tensor beyond the model.
func (t *Trainer) SaveCheckpoint(path string, data DataPosition, extra json.RawMessage) error {
	meta := CheckpointMeta{Config: t.Cfg, Backend: t.BackendName, Step: t.Step, Data: data, Saved: time.Now().UTC(), Extra: extra}
	for _, s := range t.Specs {
		meta.Params = append(meta.Params, ParamMeta{Name: s.Name, Dims: s.Dims})
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return writeAtomicFunc(path, func(file io.Writer) error {
		hash := sha256.New()
		w := io.MultiWriter(file, hash)
		var head []byte
		head = append(head, ckptMagic...)
		head = binary.LittleEndian.AppendUint32(head, ckptVersion)
		head = binary.LittleEndian.AppendUint64(head, uint64(len(metaJSON)))
		if _, err := w.Write(append(head, metaJSON...)); err != nil {
			return err
		}
		scratch := make([]byte, 0, 1<<16)
		for _, group := range [][]*tensors.Tensor{t.params, t.m, t.v} {
			for _, x := range group {
				values, err := tensors.CopyFlatData[float32](x)
				if err != nil {
					return err
				}
				for chunk := range slices.Chunk(values, 1<<14) {
					scratch = scratch[:0]
					for _, f := range chunk {
						scratch = binary.LittleEndian.AppendUint32(scratch, math.Float32bits(f))
					}
					if _, err := w.Write(scratch); err != nil {
						return err
					}
				}
			}
		}
		if _, err := file.Write(hash.Sum(nil)); err != nil {
			return err
		}
		_, err := io.WriteString(file, ckptEnd)
		return err
	})
}

func writeAtomic(path string, data []byte) error {
	return writeAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFunc has write fill a temporary file next to path, then syncs
// and renames it over path, so readers see the old file or the whole new one.
func writeAtomicFunc(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
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

// CorruptCheckpointError is ReadCheckpoint's error for a file that is not
// a whole checkpoint: cut short, torn by a lost write, or changed after it
// was written. ResumeCheckpoint falls back past such files.
type CorruptCheckpointError struct {
	Path   string
	Reason string // what is wrong, e.g. "sha256 mismatch"
}

func (e *CorruptCheckpointError) Error() string {
	return fmt.Sprintf("trainer: checkpoint %s is corrupt: %s", e.Path, e.Reason)
}

// ReadCheckpoint reads and verifies a checkpoint, streaming it through
// sha256. A truncated or corrupted file is refused with a
// *CorruptCheckpointError naming it.
func ReadCheckpoint(path string) (*CheckpointState, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return &CorruptCheckpointError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	const head = len(ckptMagic) + 4 + 8
	const tail = sha256.Size + len(ckptEnd)
	size := info.Size()
	if size < int64(head+tail) {
		return nil, bad("not a Lens checkpoint or truncated (%d bytes)", size)
	}
	footer := make([]byte, tail)
	if _, err := f.ReadAt(footer, size-int64(tail)); err != nil {
		return nil, err
	}
	if string(footer[sha256.Size:]) != ckptEnd {
		return nil, bad("missing end marker (truncated write?)")
	}
	hash := sha256.New()
	r := io.TeeReader(bufio.NewReaderSize(io.LimitReader(f, size-int64(tail)), 1<<20), hash)
	hdr := make([]byte, head)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, bad("%v", err)
	}
	if string(hdr[:len(ckptMagic)]) != ckptMagic {
		return nil, bad("not a Lens checkpoint")
	}
	version := binary.LittleEndian.Uint32(hdr[len(ckptMagic):])
	metaLen := binary.LittleEndian.Uint64(hdr[len(ckptMagic)+4:])
	if metaLen > uint64(size-int64(head+tail)) {
		return nil, bad("metadata length %d past the end", metaLen)
	}
	metaJSON := make([]byte, metaLen)
	if _, err := io.ReadFull(r, metaJSON); err != nil {
		return nil, bad("%v", err)
	}
	st := &CheckpointState{}
	total := int64(0)
	if err := json.Unmarshal(metaJSON, &st.Meta); err != nil {
		return nil, bad("metadata: %s", JSONPosition(metaJSON, err))
	}
	for _, p := range st.Meta.Params {
		total += int64(ParamSpec{Dims: p.Dims}.Size())
	}
	if want := size - int64(head+tail) - int64(metaLen); want != 3*4*total {
		return nil, bad("%d bytes of tensors, metadata describes %d", want, 3*4*total)
	}
	buf := make([]byte, 1<<16)
	read := func() ([][]float32, error) {
		out := make([][]float32, len(st.Meta.Params))
		for i, p := range st.Meta.Params {
			x := make([]float32, ParamSpec{Dims: p.Dims}.Size())
			for chunk := range slices.Chunk(x, len(buf)/4) {
				b := buf[:4*len(chunk)]
				if _, err := io.ReadFull(r, b); err != nil {
					return nil, err
				}
				for j := range chunk {
					chunk[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
				}
			}
			out[i] = x
		}
		return out, nil
	}
	for _, dst := range []*[][]float32{&st.Params, &st.M, &st.V} {
		if *dst, err = read(); err != nil {
			return nil, bad("%v", err)
		}
	}
	if !bytes.Equal(hash.Sum(nil), footer[:sha256.Size]) {
		return nil, bad("sha256 mismatch")
	}
	if version != ckptVersion {
		return nil, fmt.Errorf("trainer: checkpoint %s has version %d, this build reads %d", path, version, ckptVersion)
	}
	return st, nil
}

// LoadCheckpoint restores parameters, optimizer state and step from path
// into t; the model shape must match. It returns the checkpoint's metadata.
func (t *Trainer) LoadCheckpoint(path string) (CheckpointMeta, error) {
	st, err := ReadCheckpoint(path)
	if err != nil {
		return CheckpointMeta{}, err
	}
	return t.loadState(path, st)
}

// loadState restores st, read from path, into t.
func (t *Trainer) loadState(path string, st *CheckpointState) (CheckpointMeta, error) {
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
// when there is none. It does not read the file: see ResumeCheckpoint.
func LatestCheckpoint(dir string) (string, error) {
	names, err := checkpointPaths(dir)
	if err != nil || len(names) == 0 {
		return "", err
	}
	return names[0], nil
}

// checkpointPaths lists the checkpoints (step-*.ckpt) in dir, newest
// first; a missing dir has none.
func checkpointPaths(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "step-") && strings.HasSuffix(n, ".ckpt") {
			names = append(names, filepath.Join(dir, n))
		}
	}
	// Zero-padded step numbers sort in step order.
	slices.Sort(names)
	slices.Reverse(names)
	return names, nil
}
