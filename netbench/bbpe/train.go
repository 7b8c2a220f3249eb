package bbpe

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// TrainConfig configures training.
type TrainConfig struct {
	// VocabSize is the number of token ids wanted, added tokens included.
	// Training stops early when no pair is frequent enough; the sentinels then
	// follow the last learned token, so the ids stay contiguous.
	VocabSize int
	// MinFrequency is the least number of occurrences of a pair for it to be
	// merged (at least 1).
	MinFrequency int64
	// SpecialTokens take the lowest ids in order; nil means
	// DefaultSpecialTokens.
	SpecialTokens []string
	// Sentinels is the number of T5 sentinel tokens at the highest ids; 0
	// means NumSentinels and a negative value none.
	Sentinels int
	// Progress, when set, is called from time to time during counting and
	// training, never by two goroutines at once.
	Progress func(Progress)
}

// Progress reports how far training has got.
type Progress struct {
	Stage string // "count" while words are counted, "merge" while merges are learned
	Done  int64  // bytes read, or merges learned
	Total int64  // merges wanted in stage "merge"; 0 when unknown
}

// Format is the layout of a training input.
type Format int

const (
	// Lines is plain text, one document per line.
	Lines Format = iota
	// JSONLines is one JSON object per line; its "text" field is the document.
	JSONLines
)

// Trainer counts the words of training text and learns merges from them.
// Add, AddReader and AddFile may be called any number of times before Train;
// they may run concurrently.
type Trainer struct {
	cfg       TrainConfig
	specials  []string
	sentinels int
	matcher   addedMatcher

	mu      sync.Mutex
	words   map[string]int64
	total   int64
	read    int64
	sources []Source
}

// NewTrainer returns a trainer for cfg.
func NewTrainer(cfg TrainConfig) (*Trainer, error) {
	tr := &Trainer{cfg: cfg, specials: cfg.SpecialTokens, sentinels: cfg.Sentinels, words: map[string]int64{}}
	if tr.specials == nil {
		tr.specials = DefaultSpecialTokens
	}
	if tr.sentinels == 0 {
		tr.sentinels = NumSentinels
	} else if tr.sentinels < 0 {
		tr.sentinels = 0
	}
	if tr.cfg.MinFrequency < 1 {
		tr.cfg.MinFrequency = 1
	}
	var added []AddedToken
	seen := map[string]bool{}
	for i, s := range tr.allSpecials() {
		if s == "" || !utf8.ValidString(s) {
			return nil, fmt.Errorf("bbpe: special token %q is empty or not UTF-8", s)
		}
		if seen[s] {
			return nil, fmt.Errorf("bbpe: special token %q given twice", s)
		}
		seen[s] = true
		added = append(added, AddedToken{int32(i), s, true})
	}
	if least := len(added) + 256; cfg.VocabSize < least {
		return nil, fmt.Errorf("bbpe: vocabulary size %d is below the %d special and byte tokens", cfg.VocabSize, least)
	}
	tr.matcher = newAddedMatcher(added)
	return tr, nil
}

// allSpecials lists the special tokens and then the sentinels.
func (tr *Trainer) allSpecials() []string {
	s := slices.Clone(tr.specials)
	for i := range tr.sentinels {
		s = append(s, Sentinel(i))
	}
	return s
}

// countWords adds the words of text, less its special tokens, to m.
func (tr *Trainer) countWords(m map[string]int64, text []byte) int64 {
	var n int64
	for start := 0; start <= len(text); {
		pos, l, _ := tr.matcher.find(text, start)
		end := pos
		if pos < 0 {
			end = len(text)
		}
		seg := text[:end]
		for i := start; i < end; {
			j := nextWord(seg, i)
			m[string(text[i:j])]++
			n++
			i = j
		}
		if pos < 0 {
			break
		}
		start = pos + l
	}
	return n
}

// Add counts the words of one document. Unlike AddReader it records no
// source in the tokenizer's Meta.
func (tr *Trainer) Add(text []byte) {
	m := map[string]int64{}
	n := tr.countWords(m, text)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for w, c := range m {
		tr.words[w] += c
	}
	tr.total += n
}

// AddFile counts the words of a file, one document per line; a file whose
// name ends in .jsonl or .ndjson is read as JSON lines. The file's name and
// SHA-256 are recorded in the tokenizer's Meta.
func (tr *Trainer) AddFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	format := Lines
	if strings.HasSuffix(path, ".jsonl") || strings.HasSuffix(path, ".ndjson") {
		format = JSONLines
	}
	return tr.AddReader(path, f, format)
}

// AddReader counts the words of r, one document per line, on all cores and
// records name, with the SHA-256 of what was read, in the tokenizer's Meta.
// A JSON line that does not parse is skipped and counted; the first such line
// is reported in the error returned after the rest of r has been read.
func (tr *Trainer) AddReader(name string, r io.Reader, format Format) error {
	const chunkSize = 1 << 20
	type chunk struct {
		data      []byte
		firstLine int64
	}
	hash := sha256.New()
	src := Source{Name: name}
	chunks := make(chan chunk, 4)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstBad error
		badLine  int64
		skipped  int64
	)
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		wg.Go(func() {
			m := map[string]int64{}
			var n, skip int64
			var doc struct {
				Text *string `json:"text"`
			}
			var bad error
			var badAt int64
			for c := range chunks {
				line := c.firstLine
				for data := c.data; len(data) > 0; line++ {
					l, rest, _ := bytes.Cut(data, []byte{'\n'})
					data = rest
					l = bytes.TrimSuffix(l, []byte{'\r'})
					if format == JSONLines {
						if len(bytes.TrimSpace(l)) == 0 {
							continue
						}
						doc.Text = nil
						if err := json.Unmarshal(l, &doc); err != nil || doc.Text == nil {
							if err == nil {
								err = errors.New(`no "text" field`)
							}
							skip++
							if bad == nil || line < badAt {
								bad, badAt = err, line
							}
							continue
						}
						l = []byte(*doc.Text)
					}
					n += tr.countWords(m, l)
				}
				tr.mu.Lock()
				tr.read += int64(len(c.data))
				if tr.cfg.Progress != nil {
					tr.cfg.Progress(Progress{Stage: "count", Done: tr.read})
				}
				tr.mu.Unlock()
			}
			tr.mu.Lock()
			for w, c := range m {
				tr.words[w] += c
			}
			tr.total += n
			tr.mu.Unlock()
			mu.Lock()
			skipped += skip
			if bad != nil && (firstBad == nil || badAt < badLine) {
				firstBad, badLine = bad, badAt
			}
			mu.Unlock()
		})
	}
	br := bufio.NewReaderSize(r, chunkSize)
	var readErr error
	line := int64(1)
	for {
		buf := make([]byte, chunkSize)
		n, err := io.ReadFull(br, buf)
		buf = buf[:n]
		if err == nil { // finish the last line of the chunk
			tail, err2 := br.ReadBytes('\n')
			buf = append(buf, tail...)
			if err2 != nil && err2 != io.EOF {
				err = err2
			}
		}
		if len(buf) > 0 {
			hash.Write(buf)
			src.Bytes += int64(len(buf))
			lines := int64(bytes.Count(buf, []byte{'\n'}))
			if buf[len(buf)-1] != '\n' {
				lines++
			}
			chunks <- chunk{buf, line}
			line += lines
			src.Lines += lines
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(chunks)
	wg.Wait()
	src.SHA256 = hex.EncodeToString(hash.Sum(nil))
	src.Skipped = skipped
	tr.mu.Lock()
	tr.sources = append(tr.sources, src)
	tr.mu.Unlock()
	if readErr != nil {
		return fmt.Errorf("%s: %w", name, readErr)
	}
	if firstBad != nil {
		return fmt.Errorf("%s:%d: %v (%d lines skipped)", name, badLine, firstBad, skipped)
	}
	return nil
}

// trainWord is a distinct word being merged: its symbols and its count.
type trainWord struct {
	sym   []int32
	count int64
}

type pairCount struct {
	count int64
	pair  uint64
}

// before orders the queue of pairs: the highest count first, then the lowest
// pair of ids, as Hugging Face's BpeTrainer does.
func (a pairCount) less(b pairCount) bool {
	return a.count > b.count || a.count == b.count && a.pair < b.pair
}

type pairQueue = binHeap[pairCount]

// Train learns merges from the words counted so far and returns the
// tokenizer. Merges are learned greedily: the pair of adjacent tokens with the
// highest count over all words is merged next, ties going to the pair with
// the lowest ids, until the vocabulary is full or no pair occurs
// MinFrequency times.
func (tr *Trainer) Train() (*Tokenizer, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	t := &Tokenizer{}
	addToken := func(s string, added bool) int32 {
		t.tokens = append(t.tokens, s)
		t.added = append(t.added, added)
		t.special = append(t.special, added)
		return int32(len(t.tokens) - 1)
	}
	for _, s := range tr.specials {
		addToken(s, true)
	}
	// The byte alphabet, in the order of its byte-level spelling as Hugging
	// Face's trainer sorts its alphabet.
	bytesByRune := make([]int, 256)
	for b := range bytesByRune {
		bytesByRune[b] = b
	}
	slices.SortFunc(bytesByRune, func(a, b int) int { return int(byteToRune[a] - byteToRune[b]) })
	vocab := map[string]int32{}
	var byteID [256]int32
	for _, b := range bytesByRune {
		s := string([]byte{byte(b)})
		byteID[b] = addToken(s, false)
		vocab[s] = byteID[b]
	}
	forbidden := map[string]bool{} // merged tokens that would spell a special token
	for _, s := range tr.allSpecials() {
		forbidden[s] = true
	}

	// Words, in a fixed order so that training is deterministic.
	keys := make([]string, 0, len(tr.words))
	for w := range tr.words {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	words := make([]trainWord, len(keys))
	counts := map[uint64]int64{}
	where := map[uint64][]int32{}
	for wi, k := range keys {
		w := &words[wi]
		w.count = tr.words[k]
		w.sym = make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			w.sym[i] = byteID[k[i]]
		}
		for i := 0; i+1 < len(w.sym); i++ {
			p := pack(w.sym[i], w.sym[i+1])
			counts[p] += w.count
			where[p] = append(where[p], int32(wi))
		}
	}
	var q pairQueue
	for p, c := range counts {
		q.push(pairCount{c, p})
	}

	want := tr.cfg.VocabSize - tr.sentinels
	total := int64(want - len(t.tokens))
	seen := make([]int32, len(words)) // merge number that last visited a word
	grown := map[uint64]bool{}
	step := int32(0)
	for len(t.tokens) < want && len(q) > 0 {
		top := q.pop()
		cur := counts[top.pair]
		if cur != top.count {
			if cur > 0 {
				q.push(pairCount{cur, top.pair})
			}
			continue
		}
		if top.count < tr.cfg.MinFrequency {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		s := t.tokens[a] + t.tokens[b]
		if forbidden[s] {
			counts[top.pair] = 0
			continue
		}
		id, ok := vocab[s]
		if !ok {
			id = addToken(s, false)
			vocab[s] = id
		}
		t.merges = append(t.merges, [2]int32{a, b})
		step++
		for _, wi := range where[top.pair] {
			if seen[wi] == step {
				continue
			}
			seen[wi] = step
			w := &words[wi]
			sym := w.sym
			for i := 0; i+1 < len(sym); i++ {
				if sym[i] != a || sym[i+1] != b {
					continue
				}
				if i > 0 {
					counts[pack(sym[i-1], a)] -= w.count
					p := pack(sym[i-1], id)
					counts[p] += w.count
					where[p] = append(where[p], wi)
					grown[p] = true
				}
				if i+2 < len(sym) {
					counts[pack(b, sym[i+2])] -= w.count
					p := pack(id, sym[i+2])
					counts[p] += w.count
					where[p] = append(where[p], wi)
					grown[p] = true
				}
				sym[i] = id
				sym = append(sym[:i+1], sym[i+2:]...)
			}
			w.sym = sym
		}
		counts[top.pair] = 0
		delete(where, top.pair)
		for p := range grown {
			if c := counts[p]; c > 0 {
				q.push(pairCount{c, p})
			}
		}
		clear(grown)
		if tr.cfg.Progress != nil && (step%256 == 0 || len(t.tokens) == want) {
			tr.cfg.Progress(Progress{Stage: "merge", Done: int64(step), Total: total})
		}
	}
	if tr.cfg.Progress != nil {
		tr.cfg.Progress(Progress{Stage: "merge", Done: int64(step), Total: total})
	}
	for i := range tr.sentinels {
		addToken(Sentinel(tr.sentinels-1-i), true)
	}
	t.Meta = Meta{
		Format:        metaFormat,
		VocabSize:     len(t.tokens),
		MinFrequency:  tr.cfg.MinFrequency,
		NumMerges:     len(t.merges),
		SpecialTokens: slices.Clone(tr.specials),
		Sentinels:     tr.sentinels,
		Words:         tr.total,
		DistinctWords: len(tr.words),
		Sources:       slices.Clone(tr.sources),
	}
	if err := t.build(); err != nil {
		return nil, err
	}
	return t, nil
}
