package netbench

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/klauspost/compress/zstd"
)

// ManifestName is the manifest file of a corpus directory.
const ManifestName = "manifest.json"

// CorpusFormat is the version of the on-disk corpus layout.
const CorpusFormat = 1

// Manifest describes a corpus: what went in, what came out, and a content
// hash that names the data exactly (the SHA-256 of the shard hashes, each
// over the shard's uncompressed JSON lines, so it does not depend on the
// compressor).
type Manifest struct {
	Format      int            `json:"format"`
	CodeVersion string         `json:"code_version"`
	ContentHash string         `json:"content_hash"`
	Captures    int            `json:"captures"`
	Frames      int64          `json:"frames"`
	Flows       int64          `json:"flows"`
	Skipped     map[string]int `json:"skipped"` // frames or captures left out, by reason
	Errors      []string       `json:"errors,omitempty"`
	// Dataset is the dataset of a corpus of one's own captures (lens
	// ingest --dataset): its classes are the input's folder names and its
	// registry is the corpus's RegistryName file.
	Dataset string `json:"dataset,omitempty"`
	// FlowTable records how frames were grouped into flows.
	FlowTable FlowTableRecord  `json:"flow_table"`
	Labels    map[string]int64 `json:"labels,omitempty"` // flows per label
	Sources   []Source         `json:"sources"`
	Shards    []Shard          `json:"shards"`
}

// FlowTableRecord is the flow table configuration a corpus was made with.
type FlowTableRecord struct {
	IdleTimeout string `json:"idle_timeout"` // a Go duration, or "none"
	MaxFlows    int    `json:"max_flows"`
}

func recordFlowTable(cfg FlowTableConfig) FlowTableRecord {
	cfg = cfg.withDefaults()
	r := FlowTableRecord{IdleTimeout: cfg.IdleTimeout.String(), MaxFlows: cfg.MaxFlows}
	if cfg.IdleTimeout < 0 {
		r.IdleTimeout = "none"
	}
	return r
}

// Source is one input capture (or one file of flows already rendered as
// text). Its flows are a run of the corpus: a source's flows follow those of
// the sources before it, Flows of them.
type Source struct {
	Path string `json:"path"`
	// Name is how the source's flows name their capture: unique among the
	// corpus's sources, independent of where the inputs lie.
	Name   string `json:"name,omitempty"`
	Label  string `json:"label,omitempty"`
	Split  string `json:"split,omitempty"` // the split the input gives it (train/, test/ folders; file names)
	Frames int64  `json:"frames"`
	Flows  int64  `json:"flows"`
	Error  string `json:"error,omitempty"`
}

// name is the source's Name, or its path for corpora made before names.
func (s *Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	return filepath.ToSlash(s.Path)
}

// givenSplits reports whether the corpus's inputs gave some flows a split.
func (m *Manifest) givenSplits() bool {
	for i := range m.Sources {
		if m.Sources[i].Split != "" {
			return true
		}
	}
	return false
}

// sourceCursor maps corpus flows, in order, to the index of their source
// in the manifest (-1 past the sources' flows).
type sourceCursor struct {
	srcs []Source
	i    int
	left int64
}

func newSourceCursor(m *Manifest) *sourceCursor { return &sourceCursor{srcs: m.Sources, i: -1} }

func (c *sourceCursor) next() int {
	for c.left == 0 {
		if c.i+1 >= len(c.srcs) {
			c.i = len(c.srcs)
			return -1
		}
		c.i++
		c.left = c.srcs[c.i].Flows
	}
	c.left--
	return c.i
}

// Shard is one compressed file of flows (JSON lines, zstd).
type Shard struct {
	Name   string `json:"name"`
	Flows  int64  `json:"flows"`
	SHA256 string `json:"sha256"` // of the uncompressed content
}

// CorpusWriter writes flows to numbered shards in a directory.
type CorpusWriter struct {
	dir        string
	created    bool // NewCorpusWriter made dir
	shardFlows int64
	m          Manifest

	f    *os.File
	bw   *bufio.Writer
	zw   *zstd.Encoder
	h    hash.Hash
	cur  Shard
	line []byte
}

// MaxErrorsKept bounds the error messages kept in a manifest.
const MaxErrorsKept = 100

// NewCorpusWriter creates dir (which must not hold a corpus already) and
// writes shards of at most shardFlows flows.
func NewCorpusWriter(dir string, shardFlows int) (*CorpusWriter, error) {
	if shardFlows <= 0 {
		shardFlows = 10000
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); err == nil {
		return nil, fmt.Errorf("%s: already holds a corpus (remove it or choose another --out)", dir)
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &CorpusWriter{dir: dir, created: statErr != nil, shardFlows: int64(shardFlows), m: Manifest{Format: CorpusFormat, Skipped: map[string]int{}}}, nil
}

// Abort gives up a corpus being written: it removes the shards written so
// far, and the directory if NewCorpusWriter created it and nothing else is
// in it, so that no partial or empty corpus is left behind.
func (w *CorpusWriter) Abort() {
	if w.zw != nil {
		w.zw.Close()
		w.f.Close()
		os.Remove(filepath.Join(w.dir, w.cur.Name+".tmp"))
		w.zw = nil
	}
	for _, s := range w.m.Shards {
		os.Remove(filepath.Join(w.dir, s.Name))
	}
	if w.created {
		os.Remove(w.dir) // only if empty
	}
}

// Manifest gives access to the manifest being built (counts, sources).
func (w *CorpusWriter) Manifest() *Manifest { return &w.m }

// Write appends one flow.
func (w *CorpusWriter) Write(f *Flow) error {
	if w.zw == nil {
		if err := w.openShard(); err != nil {
			return err
		}
	}
	var err error
	w.line, err = appendJSON(w.line[:0], f)
	if err != nil {
		return err
	}
	w.line = append(w.line, '\n')
	w.h.Write(w.line)
	if _, err := w.zw.Write(w.line); err != nil {
		return fmt.Errorf("%s: %w", w.cur.Name, err)
	}
	w.cur.Flows++
	w.m.Flows++
	if w.cur.Flows >= w.shardFlows {
		return w.closeShard()
	}
	return nil
}

func appendJSON(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	return append(b, j...), err
}

func (w *CorpusWriter) openShard() error {
	w.cur = Shard{Name: fmt.Sprintf("flows-%05d.jsonl.zst", len(w.m.Shards))}
	f, err := os.Create(filepath.Join(w.dir, w.cur.Name+".tmp"))
	if err != nil {
		return err
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, 1<<20)
	w.zw, err = zstd.NewWriter(w.bw, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	w.h = sha256.New()
	return nil
}

func (w *CorpusWriter) closeShard() error {
	if w.zw == nil {
		return nil
	}
	err := w.zw.Close()
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(filepath.Join(w.dir, w.cur.Name+".tmp"), filepath.Join(w.dir, w.cur.Name))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(w.dir, w.cur.Name), err)
	}
	w.cur.SHA256 = hex.EncodeToString(w.h.Sum(nil))
	w.m.Shards = append(w.m.Shards, w.cur)
	w.zw = nil
	return nil
}

// Close finishes the last shard and writes the manifest atomically.
func (w *CorpusWriter) Close(codeVersion string) error {
	if err := w.closeShard(); err != nil {
		return err
	}
	w.m.CodeVersion = codeVersion
	h := sha256.New()
	for _, s := range w.m.Shards {
		io.WriteString(h, s.SHA256)
	}
	w.m.ContentHash = hex.EncodeToString(h.Sum(nil))
	return writeJSONAtomic(filepath.Join(w.dir, ManifestName), &w.m)
}

// writeJSONAtomic writes v as indented JSON to path via a synced temporary
// file and a rename, so a crash leaves either the old file or the new one.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes b to path via a synced temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	return err
}

// Corpus is a corpus directory opened for reading.
type Corpus struct {
	Dir      string
	Manifest Manifest
}

// OpenCorpus reads a corpus directory's manifest.
func OpenCorpus(dir string) (*Corpus, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("%s: not a corpus: %w", dir, err)
	}
	c := &Corpus{Dir: dir}
	if err := json.Unmarshal(b, &c.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	if c.Manifest.Format != CorpusFormat {
		return nil, fmt.Errorf("%s: corpus format %d, this program reads %d", dir, c.Manifest.Format, CorpusFormat)
	}
	return c, nil
}

// ErrStop may be returned by a Flows callback to stop early without error.
var ErrStop = errors.New("stop")

// Flows streams every flow of the corpus, in order, to fn, verifying each
// shard's content hash as it goes.
func (c *Corpus) Flows(fn func(*Flow) error) error {
	for _, s := range c.Manifest.Shards {
		if err := c.readShard(s, fn); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (c *Corpus) readShard(s Shard, fn func(*Flow) error) error {
	path := filepath.Join(c.Dir, s.Name)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(bufio.NewReaderSize(f, 1<<20), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(zr, h), 1<<20)
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			var fl Flow
			if jerr := json.Unmarshal(b, &fl); jerr != nil {
				return fmt.Errorf("%s: line %d: %w", path, line, jerr)
			}
			if ferr := fn(&fl); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", path, line+1, err)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
		return fmt.Errorf("%s: content hash %s does not match the manifest's %s: the shard is corrupt", path, got[:12], s.SHA256[:12])
	}
	return nil
}

// sortedReasons lists skip reasons by count (for summaries).
func sortedReasons(m map[string]int) []string {
	r := make([]string, 0, len(m))
	for k := range m {
		r = append(r, k)
	}
	sort.Slice(r, func(i, j int) bool {
		if m[r[i]] != m[r[j]] {
			return m[r[i]] > m[r[j]]
		}
		return r[i] < r[j]
	})
	return r
}
