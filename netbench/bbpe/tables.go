package bbpe

import (
	"bytes"
	"hash/maphash"
)

// pairTable maps a packed pair of token ids to its merge (rank<<32 | merged
// id). It is an open-addressing hash table with linear probing: one probe
// reads one slot, key and value together, which matters when the table is
// larger than the processor's caches.
type pairTable struct {
	slots []pairSlot
	shift uint
}

type pairSlot struct{ key, val uint64 }

const emptyKey = ^uint64(0) // no packed pair of ids below 2^31 is all ones

func newPairTable(n int) pairTable {
	size, bits := 16, uint(4)
	for size < 2*n {
		size, bits = size*2, bits+1
	}
	t := pairTable{slots: make([]pairSlot, size), shift: 64 - bits}
	for i := range t.slots {
		t.slots[i].key = emptyKey
	}
	return t
}

func (t *pairTable) index(key uint64) int { return int((key * 0x9E3779B97F4A7C15) >> t.shift) }

// get returns the value of key and whether it is present.
func (t *pairTable) get(key uint64) (uint64, bool) {
	mask := len(t.slots) - 1
	for i := t.index(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == key {
			return s.val, true
		}
		if s.key == emptyKey {
			return 0, false
		}
	}
}

// put sets key to val unless key is present; the table must have room.
func (t *pairTable) put(key, val uint64) bool {
	mask := len(t.slots) - 1
	for i := t.index(key); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == key {
			return false
		}
		if s.key == emptyKey {
			s.key, s.val = key, val
			return true
		}
	}
}

// wordCache remembers the ids of recently encoded words. It is a hash table
// of fixed size whose entries point into two arenas, the words' bytes and
// their ids, so neither a hit nor an insertion allocates once the arenas have
// grown; when full it is emptied.
type wordCache struct {
	slots []cacheSlot
	shift uint
	n     int
	words []byte
	ids   []int32
	seed  maphash.Seed
}

type cacheSlot struct {
	hash uint64 // 0: empty
	word uint32 // offset of the word in words
	ids  uint32 // offset of its ids in ids
	wlen uint16
	ilen uint16
}

func newWordCache() *wordCache {
	size, bits := 1, uint(0)
	for size < 2*maxCacheWords {
		size, bits = size*2, bits+1
	}
	return &wordCache{slots: make([]cacheSlot, size), shift: 64 - bits, seed: maphash.MakeSeed()}
}

// get returns the ids of w, or nil and the slot where w would go.
func (c *wordCache) get(w []byte) (ids []int32, h uint64, slot int) {
	h = maphash.Bytes(c.seed, w) | 1
	mask := len(c.slots) - 1
	for i := int(h >> c.shift); ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.hash == 0 {
			return nil, h, i
		}
		if s.hash == h && int(s.wlen) == len(w) && bytes.Equal(c.words[s.word:s.word+uint32(s.wlen)], w) {
			return c.ids[s.ids : s.ids+uint32(s.ilen)], h, i
		}
	}
}

// put stores the ids of w in the slot get returned for it.
func (c *wordCache) put(w []byte, ids []int32, h uint64, slot int) {
	if c.n >= maxCacheWords {
		clear(c.slots)
		c.n, c.words, c.ids = 0, c.words[:0], c.ids[:0]
		_, _, slot = c.get(w)
	}
	c.slots[slot] = cacheSlot{hash: h, word: uint32(len(c.words)), ids: uint32(len(c.ids)), wlen: uint16(len(w)), ilen: uint16(len(ids))}
	c.words = append(c.words, w...)
	c.ids = append(c.ids, ids...)
	c.n++
}
