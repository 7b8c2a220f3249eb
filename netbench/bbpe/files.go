package bbpe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names written by Save.
const (
	TokenizerFile = "tokenizer.json"           // Hugging Face tokenizers' single-file format
	VocabFile     = "vocab.json"               // token -> id, GPT-2 format
	MergesFile    = "merges.txt"               // one merge per line, GPT-2 format
	MetaFile      = "lens_tokenizer_meta.json" // Meta
	mergesHeader  = "#version: 0.2"
)

// Save writes the tokenizer to dir, creating it if needed: tokenizer.json,
// vocab.json, merges.txt and lens_tokenizer_meta.json.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var vocab bytes.Buffer
	t.writeVocab(&vocab, "")
	vocab.WriteString("\n")
	var merges bytes.Buffer
	merges.WriteString(mergesHeader + "\n")
	for _, m := range t.merges {
		merges.WriteString(toByteLevel(t.tokens[m[0]]) + " " + toByteLevel(t.tokens[m[1]]) + "\n")
	}
	var meta bytes.Buffer
	enc := json.NewEncoder(&meta)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(t.Meta); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{TokenizerFile, t.tokenizerJSON()},
		{VocabFile, vocab.Bytes()},
		{MergesFile, merges.Bytes()},
		{MetaFile, meta.Bytes()},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// quote returns s as a JSON string, leaving <, > and & as they are.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// vocabString is the spelling of token id in a vocabulary file.
func (t *Tokenizer) vocabString(id int) string {
	if t.added[id] {
		return t.tokens[id]
	}
	return toByteLevel(t.tokens[id])
}

// writeVocab writes the vocabulary as a JSON object in id order, one entry a
// line after indent.
func (t *Tokenizer) writeVocab(b *bytes.Buffer, indent string) {
	b.WriteString("{")
	for id := range t.tokens {
		if id > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(b, "\n%s  %s: %d", indent, quote(t.vocabString(id)), id)
	}
	b.WriteString("\n" + indent + "}")
}

// tokenizerJSON renders Hugging Face tokenizers' tokenizer.json.
func (t *Tokenizer) tokenizerJSON() []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	first := true
	for id, added := range t.added {
		if !added {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": %t}",
			id, quote(t.tokens[id]), t.special[id])
	}
	b.WriteString("\n  ],\n  \"normalizer\": null,\n")
	b.WriteString("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n")
	b.WriteString("  \"post_processor\": null,\n")
	b.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	fmt.Fprintf(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": %t,\n    \"vocab\": ", t.ignoreMerges)
	t.writeVocab(&b, "    ")
	b.WriteString(",\n    \"merges\": [")
	for i, m := range t.merges {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n      [%s, %s]", quote(toByteLevel(t.tokens[m[0]])), quote(toByteLevel(t.tokens[m[1]])))
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes()
}

// hfTokenizer is the part of tokenizer.json that Load reads.
type hfTokenizer struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer *struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		UseRegex       *bool  `json:"use_regex"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type                    string           `json:"type"`
		Dropout                 *float64         `json:"dropout"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
		IgnoreMerges            bool             `json:"ignore_merges"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
	} `json:"model"`
}

// Load reads a tokenizer saved by Save from dir: tokenizer.json when present,
// else vocab.json and merges.txt with the special tokens named in
// lens_tokenizer_meta.json (or the Lens defaults). A tokenizer.json written by
// Hugging Face for a byte-level BPE model loads too.
func Load(dir string) (*Tokenizer, error) {
	var meta Meta
	if data, err := os.ReadFile(filepath.Join(dir, MetaFile)); err == nil {
		if err := json.Unmarshal(data, &meta); err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Join(dir, MetaFile), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var t *Tokenizer
	var err error
	path := filepath.Join(dir, TokenizerFile)
	if _, statErr := os.Stat(path); statErr == nil {
		t, err = LoadTokenizerJSON(path)
	} else {
		specials := meta.SpecialTokens
		if meta.Format == "" {
			specials = DefaultSpecialTokens
		}
		sentinels := meta.Sentinels
		if meta.Format == "" {
			sentinels = NumSentinels
		}
		for i := range sentinels {
			specials = append(specials[:len(specials):len(specials)], Sentinel(i))
		}
		t, err = LoadVocabMerges(filepath.Join(dir, VocabFile), filepath.Join(dir, MergesFile), specials)
	}
	if err != nil {
		return nil, err
	}
	if meta.Format != "" {
		t.Meta = meta
	}
	return t, nil
}

// LoadTokenizerJSON reads a Hugging Face tokenizer.json holding a BPE model
// with a ByteLevel pre-tokenizer (add_prefix_space false, use_regex true) and
// no normalizer.
func LoadTokenizerJSON(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h hfTokenizer
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: unsupported tokenizer: "+format, append([]any{path}, a...)...)
	}
	switch {
	case h.Model.Type != "BPE":
		return nil, bad("model type %q, want BPE", h.Model.Type)
	case h.Model.Dropout != nil:
		return nil, bad("BPE dropout")
	case h.Model.ContinuingSubwordPrefix != nil && *h.Model.ContinuingSubwordPrefix != "",
		h.Model.EndOfWordSuffix != nil && *h.Model.EndOfWordSuffix != "":
		return nil, bad("subword prefix or suffix")
	case len(h.Normalizer) > 0 && string(h.Normalizer) != "null":
		return nil, bad("a normalizer")
	case h.PreTokenizer == nil || h.PreTokenizer.Type != "ByteLevel" || h.PreTokenizer.AddPrefixSpace ||
		(h.PreTokenizer.UseRegex != nil && !*h.PreTokenizer.UseRegex):
		return nil, bad("pre-tokenizer other than ByteLevel without prefix space")
	}
	var merges [][2]string
	var pairs [][]string
	if err := json.Unmarshal(h.Model.Merges, &pairs); err == nil {
		for i, p := range pairs {
			if len(p) != 2 {
				return nil, fmt.Errorf("%s: merge %d has %d parts", path, i, len(p))
			}
			merges = append(merges, [2]string{p[0], p[1]})
		}
	} else {
		var lines []string
		if err := json.Unmarshal(h.Model.Merges, &lines); err != nil {
			return nil, fmt.Errorf("%s: model.merges: %v", path, err)
		}
		for i, l := range lines {
			a, b, ok := strings.Cut(l, " ")
			if !ok {
				return nil, fmt.Errorf("%s: merge %d %q has no space", path, i, l)
			}
			merges = append(merges, [2]string{a, b})
		}
	}
	var added []AddedToken
	for _, a := range h.AddedTokens {
		if a.SingleWord || a.LStrip || a.RStrip {
			return nil, bad("added token %q with single_word, lstrip or rstrip", a.Content)
		}
		added = append(added, AddedToken{a.ID, a.Content, a.Special})
	}
	t, err := newTokenizer(h.Model.Vocab, merges, added)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	t.ignoreMerges = h.Model.IgnoreMerges
	return t, nil
}

// LoadVocabMerges reads GPT-2 style vocab.json and merges.txt; the tokens in
// specials become added tokens marked special.
func LoadVocabMerges(vocabPath, mergesPath string, specials []string) (*Tokenizer, error) {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	var vocab map[string]int32
	if err := json.Unmarshal(data, &vocab); err != nil {
		return nil, fmt.Errorf("%s: %v", vocabPath, err)
	}
	f, err := os.Open(mergesPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var merges [][2]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSuffix(sc.Text(), "\r")
		if (line == 1 && strings.HasPrefix(l, "#version")) || l == "" {
			continue
		}
		a, b, ok := strings.Cut(l, " ")
		if !ok {
			return nil, fmt.Errorf("%s:%d: merge %q has no space", mergesPath, line, l)
		}
		merges = append(merges, [2]string{a, b})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", mergesPath, err)
	}
	var added []AddedToken
	for _, s := range specials {
		id, ok := vocab[s]
		if !ok {
			return nil, fmt.Errorf("%s: special token %q missing", vocabPath, s)
		}
		added = append(added, AddedToken{id, s, true})
	}
	t, err := newTokenizer(vocab, merges, added)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", vocabPath, err)
	}
	return t, nil
}

// newTokenizer builds a tokenizer from a byte-level vocabulary, merges in
// byte-level spelling, and added tokens.
func newTokenizer(vocab map[string]int32, merges [][2]string, added []AddedToken) (*Tokenizer, error) {
	n := len(vocab)
	isAdded := map[string]AddedToken{}
	for _, a := range added {
		if int(a.ID) >= n {
			n = int(a.ID) + 1
		}
		isAdded[a.Content] = a
	}
	t := &Tokenizer{tokens: make([]string, n), added: make([]bool, n), special: make([]bool, n)}
	set := make([]bool, n)
	for s, id := range vocab {
		if id < 0 || int(id) >= n {
			return nil, fmt.Errorf("token %q has id %d outside [0, %d)", s, id, n)
		}
		if set[id] {
			return nil, fmt.Errorf("id %d given to %q and %q", id, s, t.tokens[id])
		}
		set[id] = true
		if a, ok := isAdded[s]; ok && a.ID == id {
			continue
		}
		raw, ok := fromByteLevel(s)
		if !ok {
			return nil, fmt.Errorf("token %q (id %d) is neither byte-level nor an added token", s, id)
		}
		t.tokens[id] = raw
	}
	for _, a := range added {
		if set[a.ID] && !(vocab[a.Content] == a.ID) {
			return nil, fmt.Errorf("added token %q has id %d, which the vocabulary gives another token", a.Content, a.ID)
		}
		set[a.ID] = true
		t.tokens[a.ID], t.added[a.ID], t.special[a.ID] = a.Content, true, a.Special
	}
	for id, ok := range set {
		if !ok {
			return nil, fmt.Errorf("no token has id %d", id)
		}
	}
	for i, m := range merges {
		a, okA := vocab[m[0]]
		b, okB := vocab[m[1]]
		if !okA || !okB {
			return nil, fmt.Errorf("merge %d (%q %q) names a token not in the vocabulary", i, m[0], m[1])
		}
		t.merges = append(t.merges, [2]int32{a, b})
	}
	if err := t.build(); err != nil {
		return nil, err
	}
	return t, nil
}
