package trainer

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"
)

// TokenAccuracy counts the target tokens of b (padding excluded) that the
// model predicts with teacher forcing: the argmax at each position given the
// true prefix. It is the masked-span accuracy used as pretraining's
// validation measure (Table 13).
func (t *Trainer) TokenAccuracy(b Batch) (correct, total int, err error) {
	c := &t.Cfg
	if b.Rows <= 0 || len(b.Enc) != b.Rows*c.EncLen || len(b.Targets) != b.Rows*c.DecLen {
		return 0, 0, fmt.Errorf("trainer: accuracy batch has %d+%d ids, want %d rows of %d+%d", len(b.Enc), len(b.Targets), b.Rows, c.EncLen, c.DecLen)
	}
	encT := tensors.FromFlatDataAndDimensions(b.Enc, b.Rows, c.EncLen)
	states, err := t.encodeExec.Call(t.args(encT)...)
	if err != nil {
		return 0, 0, fmt.Errorf("trainer: encode: %w", err)
	}
	decIn := make([]int32, len(b.Targets))
	for r := 0; r < b.Rows; r++ {
		row := b.Targets[r*c.DecLen : (r+1)*c.DecLen]
		in := decIn[r*c.DecLen : (r+1)*c.DecLen]
		in[0] = c.PadID
		copy(in[1:], row[:c.DecLen-1])
	}
	res, err := t.decodeExec.Call(t.args(encT, states[0], tensors.FromFlatDataAndDimensions(decIn, b.Rows, c.DecLen))...)
	if err != nil {
		return 0, 0, fmt.Errorf("trainer: decode: %w", err)
	}
	pred := tensors.MustCopyFlatData[int32](res[0])
	for i, want := range b.Targets {
		if want == c.PadID {
			continue
		}
		total++
		if pred[i] == want {
			correct++
		}
	}
	return correct, total, nil
}
