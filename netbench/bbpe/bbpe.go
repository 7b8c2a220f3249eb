// Package bbpe implements a byte-level byte-pair-encoding (BBPE) tokenizer
// whose files and token ids are interchangeable with those of Hugging Face
// tokenizers' BPE model behind a ByteLevel pre-tokenizer.
//
// Text is first split at added (special) tokens, which are never split or
// merged; each remaining piece is split into words by the GPT-2
// pre-tokenization pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// and each word's bytes are merged by rank with the learned merges. Any byte
// string, valid UTF-8 or not, encodes and decodes back to itself.
//
// The Lens vocabulary layout puts <pad>, </s>, <unk>, <sep>, <SIP> and <DIP>
// at ids 0 to 5, the 256 byte symbols and the learned merges after them, and
// the T5 sentinels <extra_id_0> ... <extra_id_99> at the highest ids:
// <extra_id_i> is VocabSize()-1-i.
package bbpe

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The Lens special tokens, at ids 0 to 5 in this order.
const (
	Pad = "<pad>"
	EOS = "</s>"
	Unk = "<unk>"
	Sep = "<sep>"
	SIP = "<SIP>"
	DIP = "<DIP>"
)

// Ids of the Lens special tokens in a tokenizer trained with the default
// special tokens.
const (
	PadID int32 = iota
	EOSID
	UnkID
	SepID
	SIPID
	DIPID
)

// NumSentinels is the number of T5 sentinel tokens in the Lens layout.
const NumSentinels = 100

// DefaultSpecialTokens are the special tokens given the lowest ids.
var DefaultSpecialTokens = []string{Pad, EOS, Unk, Sep, SIP, DIP}

// Sentinel returns the text of the i-th T5 sentinel token, "<extra_id_i>".
func Sentinel(i int) string { return "<extra_id_" + strconv.Itoa(i) + ">" }

// noRank marks a pair of symbols that has no merge.
const noRank = ^uint32(0)

// Tokenizer is a trained byte-level BPE tokenizer. It is safe for concurrent
// use by multiple goroutines.
type Tokenizer struct {
	tokens  []string         // id -> bytes of the token (content for added tokens)
	added   []bool           // id -> matched before pre-tokenization
	special []bool           // id -> added token marked special
	vocab   map[string]int32 // bytes -> id, for the BPE model's tokens
	merges  [][2]int32       // rank -> pair
	// mergeMap maps a packed pair of ids to rank<<32 | merged id.
	mergeMap     pairTable
	byteID       [256]int32
	ignoreMerges bool // HF's ignore_merges: a word in the vocabulary is one token
	matcher      addedMatcher

	// Meta describes how the tokenizer was trained.
	Meta Meta

	// bytePairs[a<<8|b] is the merge of bytes a and b, as in mergeMap, or
	// noMerge: the first round of lookups of every word.
	bytePairs []uint64

	mu   sync.Mutex
	free []*encoder // idle encoders, their caches kept warm
}

const noMerge = ^uint64(0)

// Meta describes how a tokenizer was trained. It is saved beside the
// Hugging Face files as lens_tokenizer_meta.json.
type Meta struct {
	Format        string   `json:"format"`
	VocabSize     int      `json:"vocab_size"`
	MinFrequency  int64    `json:"min_frequency"`
	NumMerges     int      `json:"num_merges"`
	SpecialTokens []string `json:"special_tokens"`
	Sentinels     int      `json:"sentinels"`
	Words         int64    `json:"words"`          // words counted in training
	DistinctWords int      `json:"distinct_words"` // distinct words counted
	Sources       []Source `json:"sources"`
}

// Source is one input the tokenizer was trained on.
type Source struct {
	Name    string `json:"name"`
	SHA256  string `json:"sha256"`
	Bytes   int64  `json:"bytes"`
	Lines   int64  `json:"lines"`
	Skipped int64  `json:"skipped,omitempty"` // malformed lines left out
}

const metaFormat = "lens-bbpe/1"

// VocabSize returns the number of token ids, added tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// NumMerges returns the number of learned merges.
func (t *Tokenizer) NumMerges() int { return len(t.merges) }

// Token returns the bytes of token id (the content of an added token), and
// false when id is out of range.
func (t *Tokenizer) Token(id int32) (string, bool) {
	if id < 0 || int(id) >= len(t.tokens) {
		return "", false
	}
	return t.tokens[id], true
}

// ID returns the id of a token given by its bytes, added tokens included.
func (t *Tokenizer) ID(token string) (int32, bool) {
	if id, ok := t.matcher.byContent[token]; ok {
		return id, true
	}
	id, ok := t.vocab[token]
	return id, ok
}

// IsSpecial reports whether id is an added token marked special.
func (t *Tokenizer) IsSpecial(id int32) bool {
	return id >= 0 && int(id) < len(t.special) && t.special[id]
}

// SentinelID returns the id of <extra_id_i>, or false when the tokenizer has
// no such token.
func (t *Tokenizer) SentinelID(i int) (int32, bool) {
	id, ok := t.matcher.byContent[Sentinel(i)]
	return id, ok
}

// AddedToken is a token matched in raw text before pre-tokenization.
type AddedToken struct {
	ID      int32
	Content string
	Special bool
}

// AddedTokens returns the added tokens in id order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	var a []AddedToken
	for id, ok := range t.added {
		if ok {
			a = append(a, AddedToken{int32(id), t.tokens[id], t.special[id]})
		}
	}
	return a
}

// build checks the tables of t and derives the lookup structures. tokens,
// added, special, merges and the flags must be set.
func (t *Tokenizer) build() error {
	n := len(t.tokens)
	if len(t.added) != n || len(t.special) != n {
		return errors.New("bbpe: inconsistent token tables")
	}
	t.vocab = make(map[string]int32, n)
	var added []AddedToken
	for id, tok := range t.tokens {
		if t.added[id] {
			if tok == "" {
				return fmt.Errorf("bbpe: added token %d is empty", id)
			}
			if !utf8.ValidString(tok) {
				return fmt.Errorf("bbpe: added token %d is not valid UTF-8", id)
			}
			added = append(added, AddedToken{int32(id), tok, t.special[id]})
			continue
		}
		if prev, dup := t.vocab[tok]; dup {
			return fmt.Errorf("bbpe: tokens %d and %d are both %q", prev, id, tok)
		}
		t.vocab[tok] = int32(id)
	}
	for b := 0; b < 256; b++ {
		id, ok := t.vocab[string([]byte{byte(b)})]
		if !ok {
			return fmt.Errorf("bbpe: vocabulary lacks byte %#02x (%q)", b, byteToRune[b])
		}
		t.byteID[b] = id
	}
	t.mergeMap = newPairTable(len(t.merges))
	for rank, p := range t.merges {
		a, b := p[0], p[1]
		if a < 0 || b < 0 || int(a) >= n || int(b) >= n || t.added[a] || t.added[b] {
			return fmt.Errorf("bbpe: merge %d refers to an unknown token", rank)
		}
		id, ok := t.vocab[t.tokens[a]+t.tokens[b]]
		if !ok {
			return fmt.Errorf("bbpe: merge %d (%q %q) makes a token not in the vocabulary",
				rank, toByteLevel(t.tokens[a]), toByteLevel(t.tokens[b]))
		}
		// On a repeated pair the first (lowest) rank wins, as in Hugging Face.
		t.mergeMap.put(pack(a, b), uint64(rank)<<32|uint64(uint32(id)))
	}
	t.bytePairs = make([]uint64, 1<<16)
	for i := range t.bytePairs {
		v, ok := t.mergeMap.get(pack(t.byteID[i>>8], t.byteID[i&0xff]))
		if !ok {
			v = noMerge
		}
		t.bytePairs[i] = v
	}
	t.matcher = newAddedMatcher(added)
	return nil
}

func pack(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// lookup returns the rank of the merge of a and b and the merged id.
func (t *Tokenizer) lookup(a, b int32) (uint32, int32) {
	v, ok := t.mergeMap.get(pack(a, b))
	if !ok {
		return noRank, -1
	}
	return uint32(v >> 32), int32(uint32(v))
}

// addedMatcher finds added tokens in raw text, leftmost and then longest
// first, like Hugging Face's AddedVocabulary.
type addedMatcher struct {
	byContent map[string]int32
	first     [256]bool // bytes that start some added token
	lengths   []int     // distinct token lengths, longest first
	oneFirst  int       // the only first byte when all tokens share it, else -1
}

func newAddedMatcher(tokens []AddedToken) addedMatcher {
	m := addedMatcher{byContent: make(map[string]int32, len(tokens)), oneFirst: -1}
	seen := map[int]bool{}
	firsts := 0
	for _, a := range tokens {
		m.byContent[a.Content] = a.ID
		if !m.first[a.Content[0]] {
			firsts++
			m.oneFirst = int(a.Content[0])
		}
		m.first[a.Content[0]] = true
		if !seen[len(a.Content)] {
			seen[len(a.Content)] = true
			m.lengths = append(m.lengths, len(a.Content))
		}
	}
	if firsts != 1 {
		m.oneFirst = -1
	}
	for i := 1; i < len(m.lengths); i++ { // insertion sort, longest first
		for j := i; j > 0 && m.lengths[j] > m.lengths[j-1]; j-- {
			m.lengths[j], m.lengths[j-1] = m.lengths[j-1], m.lengths[j]
		}
	}
	return m
}

// find returns the position, length and id of the leftmost-longest added
// token in s at or after i, or pos == -1.
func (m *addedMatcher) find(s []byte, i int) (pos, n int, id int32) {
	if len(m.lengths) == 0 {
		return -1, 0, 0
	}
	for i < len(s) {
		if m.oneFirst >= 0 {
			j := bytes.IndexByte(s[i:], byte(m.oneFirst))
			if j < 0 {
				return -1, 0, 0
			}
			i += j
		} else if !m.first[s[i]] {
			i++
			continue
		}
		for _, l := range m.lengths {
			if i+l <= len(s) {
				if id, ok := m.byContent[string(s[i:i+l])]; ok {
					return i, l, id
				}
			}
		}
		i++
	}
	return -1, 0, 0
}
