package bbpe

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Encoding is the result of encoding one text.
type Encoding struct {
	IDs []int32
	// Offsets[i] is the byte range [start, end) of the input that token i
	// stands for. The ranges are in order, do not overlap and cover the input.
	// They are int32, as are the field spans of package span.
	Offsets [][2]int32
}

// TokenRange returns the tokens [lo, hi) whose bytes overlap the byte range
// [start, end) of the encoded text, so a field's byte span maps onto the
// tokens that carry it. A token that straddles a boundary of the range is
// included; an empty range gives lo == hi.
func (e *Encoding) TokenRange(start, end int) (lo, hi int) {
	lo = sort.Search(len(e.Offsets), func(i int) bool { return int(e.Offsets[i][1]) > start })
	if end <= start {
		return lo, lo
	}
	hi = sort.Search(len(e.Offsets), func(i int) bool { return int(e.Offsets[i][0]) >= end })
	return lo, hi
}

const (
	minCachedWord = 3       // shorter words merge faster than a cache lookup
	maxCachedWord = 256     // longer words are not cached, as in Hugging Face
	maxCacheWords = 1 << 14 // the cache is emptied when it reaches this size
	linearMax     = 48      // words up to this many bytes merge by linear scan
)

// encoder holds one goroutine's word cache and scratch space.
type encoder struct {
	cache *wordCache
	ids   []int32    // scratch output, copied out at the end of a call
	offs  [][2]int32 // scratch output
	sym   []int32
	rank  []uint32
	nid   []int32
	next  []int32
	prev  []int32
	heap  mergeHeap
}

func newEncoder() *encoder {
	return &encoder{cache: newWordCache()}
}

// maxIdleEncoders bounds the encoders, and so the caches, kept between calls.
const maxIdleEncoders = 16

// getEncoder takes an idle encoder, or makes one. Unlike a sync.Pool, the
// free list survives garbage collections, so the word caches stay warm.
func (t *Tokenizer) getEncoder() *encoder {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		e := t.free[n-1]
		t.free = t.free[:n-1]
		return e
	}
	return newEncoder()
}

func (t *Tokenizer) putEncoder(e *encoder) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.free) < maxIdleEncoders {
		t.free = append(t.free, e)
	}
}

// Encode encodes text into token ids with their byte offsets. No </s> is
// added. Texts of 2 GiB or more need AppendIDs, as offsets are int32.
func (t *Tokenizer) Encode(text []byte) Encoding {
	e := t.getEncoder()
	enc := t.encodeCopy(e, text)
	t.putEncoder(e)
	return enc
}

// encodeCopy encodes text into e's scratch buffers and returns copies of
// exactly the right size: two allocations.
func (t *Tokenizer) encodeCopy(e *encoder, text []byte) Encoding {
	e.ids, e.offs = t.encode(e, text, e.ids[:0], e.offs[:0], true)
	enc := Encoding{IDs: slices.Clone(e.ids), Offsets: slices.Clone(e.offs)}
	e.trim()
	return enc
}

// maxScratch bounds the scratch output an idle encoder keeps.
const maxScratch = 1 << 16

// trim lets go of scratch buffers grown large by a long text.
func (e *encoder) trim() {
	if cap(e.ids) > maxScratch {
		e.ids = nil
	}
	if cap(e.offs) > maxScratch {
		e.offs = nil
	}
	if cap(e.sym) > maxScratch { // a long word went through mergeHeap
		e.sym, e.rank, e.nid, e.next, e.prev, e.heap = nil, nil, nil, nil, nil, nil
	}
}

// EncodeString is Encode for a string.
func (t *Tokenizer) EncodeString(text string) Encoding {
	return t.Encode([]byte(text))
}

// AppendIDs appends the token ids of text to dst and returns the extended
// slice. It does not allocate when dst has room and the text's words are in
// the cache.
func (t *Tokenizer) AppendIDs(dst []int32, text []byte) []int32 {
	e := t.getEncoder()
	dst, _ = t.encode(e, text, dst, nil, false)
	e.trim()
	t.putEncoder(e)
	return dst
}

// EncodeBatch encodes texts on all cores. The result is in input order.
func (t *Tokenizer) EncodeBatch(texts [][]byte) []Encoding {
	out := make([]Encoding, len(texts))
	t.parallel(len(texts), func(e *encoder, i int) {
		out[i] = t.encodeCopy(e, texts[i])
	})
	return out
}

// EncodeBatchIDs encodes texts on all cores, ids only.
func (t *Tokenizer) EncodeBatchIDs(texts [][]byte) [][]int32 {
	out := make([][]int32, len(texts))
	t.parallel(len(texts), func(e *encoder, i int) {
		e.ids, _ = t.encode(e, texts[i], e.ids[:0], nil, false)
		out[i] = slices.Clone(e.ids)
		e.trim()
	})
	return out
}

// parallel runs f(e, i) for i in [0, n) on GOMAXPROCS goroutines, each with
// its own encoder.
func (t *Tokenizer) parallel(n int, f func(e *encoder, i int)) {
	const chunk = 32
	workers := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if workers <= 1 {
		e := t.getEncoder()
		for i := range n {
			f(e, i)
		}
		t.putEncoder(e)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			e := t.getEncoder()
			defer t.putEncoder(e)
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(e, i)
				}
			}
		})
	}
	wg.Wait()
}

// encode appends the ids of text to ids and, when withOffsets, their byte
// ranges to offs.
func (t *Tokenizer) encode(e *encoder, text []byte, ids []int32, offs [][2]int32, withOffsets bool) ([]int32, [][2]int32) {
	start := 0
	for start <= len(text) {
		pos, n, id := t.matcher.find(text, start)
		end := pos
		if pos < 0 {
			end = len(text)
		}
		seg := text[:end]
		for i := start; i < end; {
			j := nextWord(seg, i)
			k := len(ids)
			ids = t.word(e, text[i:j], ids)
			if withOffsets {
				at := i
				for _, id := range ids[k:] {
					l := len(t.tokens[id])
					offs = append(offs, [2]int32{int32(at), int32(at + l)})
					at += l
				}
			}
			i = j
		}
		if pos < 0 {
			break
		}
		ids = append(ids, id)
		if withOffsets {
			offs = append(offs, [2]int32{int32(pos), int32(pos + n)})
		}
		start = pos + n
	}
	return ids, offs
}

// word appends the ids of one pre-tokenized word.
func (t *Tokenizer) word(e *encoder, w []byte, ids []int32) []int32 {
	switch len(w) {
	case 1:
		return append(ids, t.byteID[w[0]])
	case 2:
		if t.ignoreMerges {
			break
		}
		if v := t.bytePairs[int(w[0])<<8|int(w[1])]; v != noMerge {
			return append(ids, int32(uint32(v)))
		}
		return append(ids, t.byteID[w[0]], t.byteID[w[1]])
	}
	if t.ignoreMerges {
		if id, ok := t.vocab[string(w)]; ok {
			return append(ids, id)
		}
	}
	cacheable := len(w) >= minCachedWord && len(w) <= maxCachedWord
	var h uint64
	var slot int
	if cacheable {
		var hit []int32
		if hit, h, slot = e.cache.get(w); hit != nil {
			return append(ids, hit...)
		}
	}
	var sym []int32
	if len(w) <= linearMax {
		sym = t.mergeLinear(e, w)
	} else {
		sym = t.mergeHeap(e, w)
	}
	if cacheable {
		e.cache.put(w, sym, h, slot)
	}
	return append(ids, sym...)
}

// mergeLinear applies the merges to w, always the lowest rank first and the
// leftmost of equal ranks, finding each by a scan of the pairs. It gives the
// same result as Hugging Face's priority queue.
func (t *Tokenizer) mergeLinear(e *encoder, w []byte) []int32 {
	sym, rank, nid := e.sym[:0], e.rank[:0], e.nid[:0]
	for _, b := range w {
		sym = append(sym, t.byteID[b])
	}
	for i := 0; i+1 < len(w); i++ {
		v := t.bytePairs[int(w[i])<<8|int(w[i+1])]
		rank = append(rank, uint32(v>>32))
		nid = append(nid, int32(uint32(v)))
	}
	for {
		best, br := -1, noRank
		for i, r := range rank {
			if r < br {
				best, br = i, r
			}
		}
		if best < 0 {
			break
		}
		sym[best] = nid[best]
		sym = append(sym[:best+1], sym[best+2:]...)
		rank = append(rank[:best], rank[best+1:]...)
		nid = append(nid[:best], nid[best+1:]...)
		if best > 0 {
			rank[best-1], nid[best-1] = t.lookup(sym[best-1], sym[best])
		}
		if best < len(sym)-1 {
			rank[best], nid[best] = t.lookup(sym[best], sym[best+1])
		}
	}
	e.sym, e.rank, e.nid = sym, rank, nid
	return sym
}

// mergeHeap is mergeLinear for long words: Hugging Face's algorithm, a
// priority queue of candidate merges ordered by rank and then position over a
// linked list of symbols.
func (t *Tokenizer) mergeHeap(e *encoder, w []byte) []int32 {
	n := len(w)
	sym, next, prev := e.sym[:0], e.next[:0], e.prev[:0]
	for i, b := range w {
		sym = append(sym, t.byteID[b])
		next = append(next, int32(i+1))
		prev = append(prev, int32(i-1))
	}
	next[n-1] = -1
	h := e.heap[:0]
	for i := 0; i+1 < n; i++ {
		if r, id := t.lookup(sym[i], sym[i+1]); r != noRank {
			h.push(mergeItem{r, int32(i), id})
		}
	}
	for len(h) > 0 {
		m := h.pop()
		p := m.pos
		if sym[p] < 0 || next[p] < 0 {
			continue // merged into its left neighbour, or now last
		}
		q := next[p]
		if r, id := t.lookup(sym[p], sym[q]); r != m.rank || id != m.id {
			continue // the pair has changed since it was queued
		}
		sym[p] = m.id
		sym[q] = -1
		next[p] = next[q]
		if next[q] >= 0 {
			prev[next[q]] = p
		}
		if pp := prev[p]; pp >= 0 {
			if r, id := t.lookup(sym[pp], sym[p]); r != noRank {
				h.push(mergeItem{r, pp, id})
			}
		}
		if nn := next[p]; nn >= 0 {
			if r, id := t.lookup(sym[p], sym[nn]); r != noRank {
				h.push(mergeItem{r, p, id})
			}
		}
	}
	out := sym[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, sym[i])
	}
	e.sym, e.next, e.prev, e.heap = sym, next, prev, h
	return out
}

type mergeItem struct {
	rank uint32
	pos  int32
	id   int32
}

func (a mergeItem) less(b mergeItem) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// mergeHeap is a binary min-heap of merge candidates.
type mergeHeap = binHeap[mergeItem]

// Decode returns the bytes that ids stand for, added tokens included: the
// inverse of Encode.
func (t *Tokenizer) Decode(ids []int32) ([]byte, error) {
	return t.AppendDecode(nil, ids, false)
}

// AppendDecode appends the bytes that ids stand for to dst. When skipSpecial
// is set, added tokens marked special are left out.
func (t *Tokenizer) AppendDecode(dst []byte, ids []int32, skipSpecial bool) ([]byte, error) {
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.tokens) {
			return dst, fmt.Errorf("bbpe: token id %d out of range [0, %d)", id, len(t.tokens))
		}
		if skipSpecial && t.special[id] {
			continue
		}
		dst = append(dst, t.tokens[id]...)
	}
	return dst, nil
}
