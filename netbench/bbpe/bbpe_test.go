package bbpe

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testLines reads testdata/lines.txt: packet lines rendered from captures,
// English sentences, and lines that exercise the pre-tokenizer.
func testLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/lines.txt")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

var (
	testTokOnce sync.Once
	testTok     *Tokenizer
	testTokErr  error
)

// trained returns a tokenizer trained on testdata/lines.txt.
func trained(tb testing.TB) *Tokenizer {
	tb.Helper()
	testTokOnce.Do(func() {
		var tr *Trainer
		tr, testTokErr = NewTrainer(TrainConfig{VocabSize: 3000, MinFrequency: 2})
		if testTokErr != nil {
			return
		}
		if testTokErr = tr.AddFile("testdata/lines.txt"); testTokErr != nil {
			return
		}
		testTok, testTokErr = tr.Train()
	})
	if testTokErr != nil {
		tb.Fatal(testTokErr)
	}
	return testTok
}

func TestLayout(t *testing.T) {
	tok := trained(t)
	if tok.NumMerges() < 1000 {
		t.Fatalf("only %d merges learned", tok.NumMerges())
	}
	v := tok.VocabSize()
	if v != 6+256+tok.NumMerges()+NumSentinels {
		t.Errorf("vocab size %d, want %d", v, 6+256+tok.NumMerges()+NumSentinels)
	}
	for i, s := range DefaultSpecialTokens {
		if id, ok := tok.ID(s); !ok || id != int32(i) {
			t.Errorf("ID(%q) = %d, %v; want %d", s, id, ok, i)
		}
	}
	if id, _ := tok.ID(SIP); id != SIPID {
		t.Errorf("<SIP> = %d", id)
	}
	for i := range NumSentinels {
		want := int32(v - 1 - i)
		if id, ok := tok.SentinelID(i); !ok || id != want {
			t.Errorf("SentinelID(%d) = %d, %v; want %d", i, id, ok, want)
		}
		if id, _ := tok.ID(Sentinel(i)); id != want {
			t.Errorf("ID(%s) = %d; want %d", Sentinel(i), id, want)
		}
		if !tok.IsSpecial(want) {
			t.Errorf("%s not special", Sentinel(i))
		}
	}
	if got := tok.Meta.Sources; len(got) != 1 || got[0].Name != "testdata/lines.txt" || len(got[0].SHA256) != 64 || got[0].Lines != int64(len(testLines(t))) {
		t.Errorf("sources %+v", got)
	}
}

func TestSpecialTokensNeverSplit(t *testing.T) {
	tok := trained(t)
	v := int32(tok.VocabSize())
	for _, tc := range []struct {
		in   string
		want []int32 // nil: only check that no special token appears
	}{
		{"<SIP>", []int32{SIPID}},
		{"<SIP><DIP>", []int32{SIPID, DIPID}},
		{"<pad></s><unk><sep>", []int32{PadID, EOSID, UnkID, SepID}},
		{"<extra_id_0><extra_id_99><extra_id_10>", []int32{v - 1, v - 100, v - 11}},
	} {
		if got := tok.EncodeString(tc.in).IDs; !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// Special tokens inside other text keep their ids; the text around them
	// encodes as it would alone.
	for _, in := range []string{"x<SIP>y", "a <DIP> b", "<<SIP>>", "<SIP <DIP>", "1<extra_id_7>2", "<sep>It is VPN traffic"} {
		enc := tok.EncodeString(in)
		var want []int32
		rest := in
		for rest != "" {
			i := strings.IndexByte(rest, '<')
			found := false
			for i >= 0 && !found {
				for _, s := range tok.AddedTokens() {
					if strings.HasPrefix(rest[i:], s.Content) {
						want = append(want, tok.EncodeString(rest[:i]).IDs...)
						want = append(want, s.ID)
						rest = rest[i+len(s.Content):]
						found = true
						break
					}
				}
				if !found {
					j := strings.IndexByte(rest[i+1:], '<')
					if j < 0 {
						i = -1
					} else {
						i += 1 + j
					}
				}
			}
			if !found {
				want = append(want, tok.EncodeString(rest).IDs...)
				rest = ""
			}
		}
		if !slices.Equal(enc.IDs, want) {
			t.Errorf("Encode(%q) = %v, want %v", in, enc.IDs, want)
		}
	}
	// No ordinary text produces a special token's id.
	for _, l := range testLines(t) {
		clean := l
		for _, a := range tok.AddedTokens() {
			clean = bytes.ReplaceAll(clean, []byte(a.Content), nil)
		}
		for _, id := range tok.Encode(clean).IDs {
			if tok.IsSpecial(id) {
				t.Fatalf("%q encodes to special token %d", clean, id)
			}
		}
	}
}

func TestArrowAndAddressesTokenizeCleanly(t *testing.T) {
	tok := trained(t)
	// In packet lines the arrow always follows a space, which the
	// pre-tokenizer keeps with it: " →" is learned as one token.
	arrow, ok := tok.ID(" →")
	if !ok {
		t.Fatal(`" →" is not a token after training on packet lines`)
	}
	line := []byte("<SIP> → <DIP> TCP 60 34665 → 443 [SYN]")
	enc := tok.Encode(line)
	if enc.IDs[0] != SIPID {
		t.Errorf("first token %d, want <SIP>", enc.IDs[0])
	}
	for at := 0; ; {
		i := bytes.Index(line[at:], []byte("→"))
		if i < 0 {
			break
		}
		at += i
		lo, hi := enc.TokenRange(at, at+len("→"))
		if hi != lo+1 || enc.IDs[lo] != arrow {
			t.Errorf("arrow at byte %d is tokens %v", at, enc.IDs[lo:hi])
		}
		at += len("→")
	}
	// <SIP>, " →", " ", <DIP>: the space before an added token stays alone,
	// as in Hugging Face.
	if i := slices.Index(enc.IDs, DIPID); i != 3 {
		t.Errorf("<DIP> at token %d of %v, want 3", i, enc.IDs)
	}
}

func roundTrip(t *testing.T, tok *Tokenizer, in []byte) {
	t.Helper()
	enc := tok.Encode(in)
	out, err := tok.Decode(enc.IDs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("Decode(Encode(%q)) = %q", in, out)
	}
	if ids := tok.AppendIDs(nil, in); !slices.Equal(ids, enc.IDs) {
		t.Fatalf("AppendIDs(%q) = %v, Encode gives %v", in, ids, enc.IDs)
	}
	checkOffsets(t, tok, in, enc)
}

// checkOffsets checks that the offsets tile the input in order and that the
// input bytes under each token are the token's bytes.
func checkOffsets(t *testing.T, tok *Tokenizer, in []byte, enc Encoding) {
	t.Helper()
	if len(enc.Offsets) != len(enc.IDs) {
		t.Fatalf("%d offsets for %d ids", len(enc.Offsets), len(enc.IDs))
	}
	at := 0
	for i, o := range enc.Offsets {
		if int(o[0]) != at || o[1] <= o[0] || int(o[1]) > len(in) {
			t.Fatalf("%q: token %d has offsets %v after byte %d", in, i, o, at)
		}
		s, _ := tok.Token(enc.IDs[i])
		if string(in[o[0]:o[1]]) != s {
			t.Fatalf("%q: token %d (%d) is %q, input there is %q", in, i, enc.IDs[i], s, in[o[0]:o[1]])
		}
		at = int(o[1])
	}
	if at != len(in) {
		t.Fatalf("%q: offsets end at %d of %d", in, at, len(in))
	}
}

func TestRoundTrip(t *testing.T) {
	tok := trained(t)
	for _, l := range testLines(t) {
		roundTrip(t, tok, l)
	}
	for _, s := range []string{
		"", " ", "\n", "\x00", "\xff\xfe\xfd", "\xe2\x86", "→\xe2\x86<SIP>\x92", "a\x80b c\xc0\xafd",
		strings.Repeat("a", 1000), strings.Repeat("ab ", 300), strings.Repeat("\xff", 100),
		"<SIP", "<", "<extra_id_100>", "\r\n\t \u00a0\u3000x", strings.Repeat("0123456789abcdef", 20),
	} {
		roundTrip(t, tok, []byte(s))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(80))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		roundTrip(t, tok, b)
	}
}

func TestEncodeBatch(t *testing.T) {
	tok := trained(t)
	lines := testLines(t)
	batch := tok.EncodeBatch(lines)
	ids := tok.EncodeBatchIDs(lines)
	for i, l := range lines {
		one := tok.Encode(l)
		if !slices.Equal(batch[i].IDs, one.IDs) || !slices.Equal(batch[i].Offsets, one.Offsets) || !slices.Equal(ids[i], one.IDs) {
			t.Fatalf("line %d: batch and single encodings differ", i)
		}
	}
}

func TestTokenRange(t *testing.T) {
	tok := trained(t)
	line := []byte("<SIP> → <DIP> TCP 60 34665 → 443 [SYN] Seq=0 Win=29200 Len=0")
	enc := tok.Encode(line)
	for _, field := range []string{"TCP", "34665", "443", "[SYN]", "29200", "<DIP>"} {
		start := bytes.Index(line, []byte(field))
		end := start + len(field)
		lo, hi := enc.TokenRange(start, end)
		if lo >= hi {
			t.Fatalf("%s: empty token range", field)
		}
		// The tokens cover the field, and each overlaps it.
		if int(enc.Offsets[lo][0]) > start || int(enc.Offsets[hi-1][1]) < end {
			t.Errorf("%s [%d,%d): tokens %d..%d cover [%d,%d)", field, start, end, lo, hi, enc.Offsets[lo][0], enc.Offsets[hi-1][1])
		}
		for i := lo; i < hi; i++ {
			if int(enc.Offsets[i][1]) <= start || int(enc.Offsets[i][0]) >= end {
				t.Errorf("%s: token %d %v does not overlap", field, i, enc.Offsets[i])
			}
		}
		if lo > 0 && int(enc.Offsets[lo-1][1]) > start || hi < len(enc.IDs) && int(enc.Offsets[hi][0]) < end {
			t.Errorf("%s: a neighbouring token overlaps too", field)
		}
	}
	if lo, hi := enc.TokenRange(3, 3); lo != hi {
		t.Errorf("empty range gives %d..%d", lo, hi)
	}
	if lo, hi := enc.TokenRange(0, len(line)); lo != 0 || hi != len(enc.IDs) {
		t.Errorf("whole line gives %d..%d of %d", lo, hi, len(enc.IDs))
	}
}

// TestPreTokenize checks the splitter against the GPT-2 pattern on cases
// where its alternatives and backtracking matter.
func TestPreTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"I'm don't they're we've I'll he'd it's", []string{"I", "'m", " don", "'t", " they", "'re", " we", "'ve", " I", "'ll", " he", "'d", " it", "'s"}},
		{"'sa ''s 'x", []string{"'s", "a", " ''", "s", " '", "x"}},
		{"IT'S", []string{"IT", "'", "S"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a   b", []string{"a", "  ", " b"}},
		{"a\tb", []string{"a", "\t", "b"}},
		{"a \tb", []string{"a", " ", "\t", "b"}},
		{"a\t\tb", []string{"a", "\t", "\t", "b"}},
		{"x  ", []string{"x", "  "}},
		{"  x", []string{" ", " x"}},
		{"abc123 456def", []string{"abc", "123", " 456", "def"}},
		{" !!x ?", []string{" !!", "x", " ?"}},
		{"<SIP> → <DIP>", []string{"<", "SIP", ">", " →", " <", "DIP", ">"}},
		{"a\u00a0b", []string{"a", "\u00a0", "b"}},
		{"a \u3000 b", []string{"a", " \u3000", " b"}},
		{"x\xffy \xfe", []string{"x", "\xff", "y", " \xfe"}},
		{"Ⅻ½ é", []string{"Ⅻ½", " é"}},
	} {
		var got []string
		for i := 0; i < len(tc.in); {
			j := nextWord([]byte(tc.in), i)
			got = append(got, tc.in[i:j])
			i = j
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("split %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMergeHeapMatchesLinear(t *testing.T) {
	tok := trained(t)
	e := newEncoder()
	check := func(w []byte) {
		lin := slices.Clone(tok.mergeLinear(e, w))
		hp := slices.Clone(tok.mergeHeap(e, w))
		if !slices.Equal(lin, hp) {
			t.Fatalf("%q: linear %v, heap %v", w, lin, hp)
		}
	}
	for _, l := range testLines(t) {
		for i := 0; i < len(l); {
			j := nextWord(l, i)
			check(l[i:j])
			i = j
		}
		check(l)
	}
	r := rand.New(rand.NewPCG(3, 4))
	alpha := []byte("0123456789abcdefSeqAckWinLen= →TCPUDP")
	for range 3000 {
		w := make([]byte, 2+r.IntN(120))
		for i := range w {
			w[i] = alpha[r.IntN(len(alpha))]
		}
		check(w)
	}
}

func TestSaveLoad(t *testing.T) {
	tok := trained(t)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.Meta.Sources[0].SHA256 != tok.Meta.Sources[0].SHA256 {
		t.Error("metadata not loaded")
	}
	fromVocab, err := LoadVocabMerges(filepath.Join(dir, VocabFile), filepath.Join(dir, MergesFile), tok.allAddedContents())
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, TokenizerFile))
	fromDir, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range testLines(t) {
		want := tok.Encode(l).IDs
		for name, other := range map[string]*Tokenizer{"tokenizer.json": fromJSON, "vocab+merges": fromVocab, "dir without tokenizer.json": fromDir} {
			if got := other.Encode(l).IDs; !slices.Equal(got, want) {
				t.Fatalf("%s: %q encodes to %v, want %v", name, l, got, want)
			}
		}
	}
	for _, other := range []*Tokenizer{fromJSON, fromVocab, fromDir} {
		if other.VocabSize() != tok.VocabSize() || !slices.Equal(other.merges, tok.merges) || !slices.Equal(other.tokens, tok.tokens) || !slices.Equal(other.special, tok.special) {
			t.Fatal("loaded tokenizer differs")
		}
	}
}

func (t *Tokenizer) allAddedContents() []string {
	var s []string
	for _, a := range t.AddedTokens() {
		s = append(s, a.Content)
	}
	return s
}

func TestTrainDeterministic(t *testing.T) {
	lines := testLines(t)[:500]
	var prev *Tokenizer
	for range 2 {
		tr, err := NewTrainer(TrainConfig{VocabSize: 800, MinFrequency: 2, SpecialTokens: []string{"<pad>"}, Sentinels: -1})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			tr.Add(l)
		}
		tok, err := tr.Train()
		if err != nil {
			t.Fatal(err)
		}
		if tok.VocabSize() != 800 || tok.NumMerges() != 800-1-256 {
			t.Fatalf("vocab %d, merges %d", tok.VocabSize(), tok.NumMerges())
		}
		if prev != nil && !slices.Equal(prev.merges, tok.merges) {
			t.Fatal("two trainings on the same text learned different merges")
		}
		prev = tok
	}
}

func TestTrainMinFrequency(t *testing.T) {
	tr, err := NewTrainer(TrainConfig{VocabSize: 10000, MinFrequency: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr.Add([]byte("abab abab abab cd"))
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	// "ab" occurs 6 times, then "ab ab" 3 times; " ab" (2) and everything
	// with c or d (1) stay below 3.
	for _, m := range tok.merges {
		s := tok.tokens[m[0]] + tok.tokens[m[1]]
		if strings.Contains(s, "c") || strings.Contains(s, "d") {
			t.Errorf("merged %q, seen fewer than 3 times", s)
		}
	}
	if tok.NumMerges() != 2 {
		t.Errorf("%d merges, want 2 (ab, abab)", tok.NumMerges())
	}
	for _, w := range []string{"ab", "abab"} {
		if _, ok := tok.ID(w); !ok {
			t.Errorf("%q not learned", w)
		}
	}
	if id, _ := tok.SentinelID(0); int(id) != tok.VocabSize()-1 {
		t.Error("sentinels do not follow the learned tokens")
	}
}

func TestAddReaderJSONLines(t *testing.T) {
	tr, err := NewTrainer(TrainConfig{VocabSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	in := "{\"text\": \"hello hello\"}\n\n{\"nope\": 1}\nnot json\n{\"text\": \"world\"}\n"
	err = tr.AddReader("docs.jsonl", strings.NewReader(in), JSONLines)
	if err == nil || !strings.Contains(err.Error(), "docs.jsonl:3") || !strings.Contains(err.Error(), "2 lines skipped") {
		t.Fatalf("error %v, want one naming docs.jsonl:3 and 2 skipped lines", err)
	}
	if tr.words["hello"] != 1 || tr.words[" hello"] != 1 || tr.words["world"] != 1 || tr.total != 3 {
		t.Errorf("counted %v", tr.words)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(in))
	if s := tok.Meta.Sources; len(s) != 1 || s[0].Name != "docs.jsonl" || s[0].Skipped != 2 || s[0].Lines != 5 ||
		s[0].Bytes != int64(len(in)) || s[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("source %+v", s)
	}
}

func FuzzRoundTrip(f *testing.F) {
	tok := trained(f)
	for _, l := range testLines(f)[:50] {
		f.Add(l)
	}
	f.Add([]byte("\xff\xfe<SIP>\xe2\x86 →"))
	f.Fuzz(func(t *testing.T, in []byte) {
		enc := tok.Encode(in)
		out, err := tok.Decode(enc.IDs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("Decode(Encode(%q)) = %q", in, out)
		}
		checkOffsets(t, tok, in, enc)
		if ids := tok.AppendIDs(nil, in); !slices.Equal(ids, enc.IDs) {
			t.Fatalf("AppendIDs(%q) = %v, Encode gives %v", in, ids, enc.IDs)
		}
	})
}
