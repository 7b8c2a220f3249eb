package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/lens-go/lens/trainer/trie"
)

// Decoder runs a trained model for inference with static shapes: every
// call encodes a fixed number of rows (padded with empty inputs) and the
// decoder is re-run on the whole padded prefix [rows, L] at each step,
// returning the next-token logits at one position per row (the go backend
// has no DynamicSlice for a KV cache; see GreedyDecode). Weights are graph
// inputs, so a Decoder sees the trainer's current weights.
type Decoder struct {
	t *Trainer
	// Rows is the number of rows per call; 0 means the model's BatchSize.
	Rows int

	stepExec *Exec
}

// NewDecoder returns a decoder over t's model.
func NewDecoder(t *Trainer) (*Decoder, error) {
	d := &Decoder{t: t, Rows: t.Cfg.BatchSize}
	cfg, specs, n := &t.Cfg, t.Specs, len(t.Specs)
	var err error
	// Inputs: params, enc ids [b, EncLen], encoder states, decoder inputs
	// [b, L], positions [b]. Output: logits [b, vocab] at the positions.
	d.stepExec, err = NewExec(t.Backend, func(in []*Node) []*Node {
		model := newT5(cfg, specs, in[:n], nil)
		dec := model.decode(in[n+2], in[n+1], model.keyMaskBias(in[n]))
		L := dec.Shape().Dim(1)
		sel := OneHot(in[n+3], L, dec.DType()) // [b, L]
		h := Einsum("bld,bl->bd", dec, sel)
		return []*Node{model.dense(h, model.w["lm_head"])}
	})
	if err != nil {
		return nil, err
	}
	d.stepExec.WithName("t5_step_logits")
	return d, nil
}

func (d *Decoder) rows() int {
	if d.Rows > 0 {
		return d.Rows
	}
	return max(d.t.Cfg.BatchSize, 1)
}

// session is one batch of encoded rows.
type session struct {
	d      *Decoder
	encT   *tensors.Tensor
	states *tensors.Tensor
	rows   int
	// L is the decoder length of this session's calls: the causal mask and
	// relative positions make the logits at a position independent of the
	// positions after it, so L only needs to hold the longest prefix plus
	// one, not DecLen (labels are a few tokens; DecLen may be 512).
	L int
	// host copies of encT and states, made on first use by gathers
	hostIDs    []int32
	hostStates []float32
}

// decLen is the decoder length for prefixes of up to n tokens: n+1
// rounded up to a multiple of 8 (few distinct shapes to compile), at most
// DecLen.
func (d *Decoder) decLen(n int) int {
	return min((n+1+7)/8*8, d.t.Cfg.DecLen)
}

func (d *Decoder) encode(enc [][]int32, L int) (*session, error) {
	c := &d.t.Cfg
	rows := d.rows()
	if len(enc) > rows {
		return nil, fmt.Errorf("trainer: %d inputs for a decoder of %d rows", len(enc), rows)
	}
	flat := make([]int32, rows*c.EncLen)
	for i := range flat {
		flat[i] = c.PadID
	}
	for r, ids := range enc {
		if len(ids) > c.EncLen {
			return nil, fmt.Errorf("trainer: input of %d tokens, the model's encoder length is %d", len(ids), c.EncLen)
		}
		copy(flat[r*c.EncLen:], ids)
	}
	encT := tensors.FromFlatDataAndDimensions(flat, rows, c.EncLen)
	out, err := d.t.encodeExec.Call(d.t.args(encT)...)
	if err != nil {
		return nil, fmt.Errorf("trainer: encode: %w", err)
	}
	return &session{d: d, encT: encT, states: out[0], rows: rows, L: L}, nil
}

// logits returns the next-token logits after each prefix; row r of
// prefixes is decoded against encoded row src[r].
func (s *session) logits(prefixes [][]int32, src []int) ([][]float32, error) {
	c := &s.d.t.Cfg
	if len(prefixes) > s.rows {
		return nil, fmt.Errorf("trainer: %d prefixes for %d rows", len(prefixes), s.rows)
	}
	encT, states := s.encT, s.states
	if src != nil {
		// gather the encoder rows the prefixes belong to
		if s.hostIDs == nil {
			s.hostIDs = tensors.MustCopyFlatData[int32](s.encT)
			s.hostStates = tensors.MustCopyFlatData[float32](s.states)
		}
		ids, st := s.hostIDs, s.hostStates
		d := c.DModel
		gIDs := make([]int32, s.rows*c.EncLen)
		gSt := make([]float32, s.rows*c.EncLen*d)
		for r := range s.rows {
			from := 0
			if r < len(src) {
				from = src[r]
			}
			copy(gIDs[r*c.EncLen:(r+1)*c.EncLen], ids[from*c.EncLen:])
			copy(gSt[r*c.EncLen*d:(r+1)*c.EncLen*d], st[from*c.EncLen*d:])
		}
		encT = tensors.FromFlatDataAndDimensions(gIDs, s.rows, c.EncLen)
		states = tensors.FromFlatDataAndDimensions(gSt, s.rows, c.EncLen, d)
	}
	L := s.L
	dec := make([]int32, s.rows*L)
	pos := make([]int32, s.rows)
	for r, p := range prefixes {
		if len(p) >= L {
			return nil, fmt.Errorf("trainer: prefix of %d tokens, the decoder length is %d", len(p), L)
		}
		dec[r*L] = c.PadID
		copy(dec[r*L+1:], p)
		pos[r] = int32(len(p))
	}
	out, err := s.d.stepExec.Call(s.d.t.args(encT, states,
		tensors.FromFlatDataAndDimensions(dec, s.rows, L), tensors.FromFlatDataAndDimensions(pos, s.rows))...)
	if err != nil {
		return nil, fmt.Errorf("trainer: decode step: %w", err)
	}
	flat := tensors.MustCopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	v := c.VocabSize
	res := make([][]float32, len(prefixes))
	for r := range res {
		res[r] = flat[r*v : (r+1)*v]
	}
	return res, nil
}

// Classify decodes each input into one of labels (token sequences without
// </s>) with the prefix-trie constrained greedy decoder, so every output is
// a label. It returns the label index per input and, when withScores is
// set, every label's log-probability under the trie-restricted decoder.
func (d *Decoder) Classify(enc [][]int32, labels [][]int32, withScores bool) ([]int, [][]float64, error) {
	c := &d.t.Cfg
	tr, err := trie.New(labels, c.EOSID)
	if err != nil {
		return nil, nil, err
	}
	if tr.MaxLen() >= c.DecLen {
		return nil, nil, fmt.Errorf("trainer: the longest label has %d tokens with </s>, the decoder length is %d", tr.MaxLen(), c.DecLen)
	}
	rows := d.rows()
	pred := make([]int, 0, len(enc))
	var scores [][]float64
	for lo := 0; lo < len(enc); lo += rows {
		hi := min(lo+rows, len(enc))
		s, err := d.encode(enc[lo:hi], d.decLen(tr.MaxLen()-1))
		if err != nil {
			return nil, nil, err
		}
		p, err := tr.Greedy(hi-lo, func(prefixes [][]int32) ([][]float32, error) { return s.logits(prefixes, nil) })
		if err != nil {
			return nil, nil, err
		}
		pred = append(pred, p...)
		if withScores {
			for r := range hi - lo {
				sc, err := tr.Score(func(prefixes [][]int32) ([][]float32, error) {
					out := make([][]float32, 0, len(prefixes))
					for plo := 0; plo < len(prefixes); plo += rows {
						phi := min(plo+rows, len(prefixes))
						src := make([]int, phi-plo)
						for i := range src {
							src[i] = r
						}
						lg, err := s.logits(prefixes[plo:phi], src)
						if err != nil {
							return nil, err
						}
						out = append(out, lg...)
					}
					return out, nil
				})
				if err != nil {
					return nil, nil, err
				}
				scores = append(scores, sc)
			}
		}
	}
	return pred, scores, nil
}

// SampleConfig sets how Sample draws tokens.
type SampleConfig struct {
	// Temperature divides the logits; 0 means greedy (argmax).
	Temperature float64
	// TopK keeps the k most likely tokens; 0 means the whole vocabulary.
	TopK int
	// Seed makes sampling deterministic: row i of the inputs draws from
	// its own stream (Seed, i), whatever the batching.
	Seed uint64
	// MaxLen bounds the generated tokens (prefix included, </s> included);
	// 0 and values above DecLen mean DecLen.
	MaxLen int
}

// Sample generates a sequence for each input by ancestral sampling with
// temperature and top-k, starting from prefix[i] when given (forced
// tokens, e.g. the mask token of a generation target). Each output starts
// with its prefix and ends with </s> unless MaxLen was reached.
func (d *Decoder) Sample(enc [][]int32, prefix [][]int32, sc SampleConfig) ([][]int32, error) {
	c := &d.t.Cfg
	maxLen := sc.MaxLen
	if maxLen <= 0 || maxLen > c.DecLen {
		maxLen = c.DecLen
	}
	rows := d.rows()
	out := make([][]int32, len(enc))
	for lo := 0; lo < len(enc); lo += rows {
		hi := min(lo+rows, len(enc))
		s, err := d.encode(enc[lo:hi], d.decLen(maxLen-1))
		if err != nil {
			return nil, err
		}
		rngs := make([]*rand.Rand, hi-lo)
		cur := make([][]int32, hi-lo)
		done := make([]bool, hi-lo)
		for r := range cur {
			rngs[r] = rand.New(rand.NewPCG(sc.Seed, uint64(lo+r)))
			if prefix != nil && lo+r < len(prefix) {
				cur[r] = append([]int32(nil), prefix[lo+r]...)
			}
			done[r] = len(cur[r]) >= maxLen
		}
		for {
			active := false
			for _, dn := range done {
				active = active || !dn
			}
			if !active {
				break
			}
			lg, err := s.logits(cur, nil)
			if err != nil {
				return nil, err
			}
			for r := range cur {
				if done[r] {
					continue
				}
				tok := sampleToken(lg[r], sc.Temperature, sc.TopK, rngs[r])
				cur[r] = append(cur[r], tok)
				if tok == c.EOSID || len(cur[r]) >= maxLen {
					done[r] = true
				}
			}
		}
		copy(out[lo:hi], cur)
	}
	return out, nil
}

// sampleToken draws a token from logits with temperature and top-k;
// temperature 0 is argmax (ties to the lower id).
func sampleToken(logits []float32, temperature float64, topK int, r *rand.Rand) int32 {
	if temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	return SampleAmong(logits, idx, temperature, topK, r)
}

// SampleAmong draws one of the candidate ids from logits: the topK most
// likely candidates (all when topK <= 0), weighted by softmax(logit /
// temperature). candidates is reordered.
func SampleAmong(logits []float32, candidates []int, temperature float64, topK int, r *rand.Rand) int32 {
	idx := candidates
	if topK > 0 && topK < len(idx) {
		sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
		idx = idx[:topK]
	}
	m := math.Inf(-1)
	for _, i := range idx {
		m = math.Max(m, float64(logits[i]))
	}
	w := make([]float64, len(idx))
	var z float64
	for k, i := range idx {
		w[k] = math.Exp((float64(logits[i]) - m) / temperature)
		z += w[k]
	}
	u := r.Float64() * z
	for k, i := range idx {
		u -= w[k]
		if u <= 0 {
			return int32(i)
		}
	}
	return int32(idx[len(idx)-1])
}

// BackendName is the backend the decoder's model runs on.
func (d *Decoder) BackendName() string { return d.t.BackendName }
