package bbpe

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// hfNodeModules returns the node_modules folder that holds Hugging Face's
// tokenizers package, or skips the test.
func hfNodeModules(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node tokenizers not installed: node is not on PATH")
	}
	dirs := []string{"testdata"}
	if d := os.Getenv("LENS_HF_TOKENIZERS"); d != "" {
		dirs = []string{d}
	}
	for _, d := range dirs {
		nm, err := filepath.Abs(filepath.Join(d, "node_modules"))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(nm, "tokenizers", "package.json")); err == nil {
			return nm
		}
	}
	t.Skip("node tokenizers not installed: run npm install --no-save tokenizers@0.23.2 in netbench/bbpe/testdata, or set LENS_HF_TOKENIZERS to a folder holding node_modules/tokenizers")
	return ""
}

// hfEncode encodes texts with Hugging Face tokenizers through
// testdata/hf_encode.js.
func hfEncode(t *testing.T, nodeModules, tokenizerJSON string, texts []string) [][]int32 {
	t.Helper()
	var in bytes.Buffer
	for _, s := range texts {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(b)
		in.WriteByte('\n')
	}
	cmd := exec.Command("node", "testdata/hf_encode.js", tokenizerJSON, "--json")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hf_encode.js: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("hf_encode.js printed %d lines for %d texts", len(lines), len(texts))
	}
	ids := make([][]int32, len(lines))
	for i, l := range lines {
		for _, f := range strings.Fields(l) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("hf_encode.js line %d: %v", i+1, err)
			}
			ids[i] = append(ids[i], int32(n))
		}
	}
	return ids
}

// randomTexts returns texts built from pieces that stress the pre-tokenizer
// and the added-token matcher.
func randomTexts(n int) []string {
	pieces := []string{
		" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "'", "'s", "'t", "'re", "'ll", "'S",
		"a", "Seq", "Ack=1", "TCP", "→", " →", "0", "443", "½", "٣", "é", "中文", "🙂", "!", "?!", "[", "]",
		"<SIP>", "<DIP>", "<sep>", "<", ">", "<extra_id_", "<extra_id_5>", "</s>", "<pad", "\x0b", "\u0085",
		"0a1b", "ffff", "Win=", "HTTP/1.1", "GET", "_", "-", ".", "e\u0301",
	}
	r := rand.New(rand.NewPCG(5, 6))
	texts := make([]string, n)
	for i := range texts {
		var sb strings.Builder
		for range 1 + r.IntN(12) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		texts[i] = sb.String()
	}
	return texts
}

// TestHuggingFaceEquivalence saves a trained tokenizer, loads its
// tokenizer.json in Hugging Face tokenizers (npm package) and checks that both
// give the same ids for packet lines, English sentences and random texts.
func TestHuggingFaceEquivalence(t *testing.T) {
	nm := hfNodeModules(t)
	tok := trained(t)
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range testLines(t) {
		if utf8.Valid(l) { // JavaScript strings hold only valid text
			texts = append(texts, string(l))
		}
	}
	lines := len(texts)
	texts = append(texts, randomTexts(2000)...)
	compareHF(t, nm, tok, filepath.Join(dir, TokenizerFile), texts)
	t.Logf("%d lines from testdata and %d random texts encode identically", lines, len(texts)-lines)

	// The same with the model's ignore_merges set, where a word that is in
	// the vocabulary is one token whatever the merges say.
	data, err := os.ReadFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	ignoring := filepath.Join(dir, "ignore_merges.json")
	data = bytes.Replace(data, []byte(`"ignore_merges": false`), []byte(`"ignore_merges": true`), 1)
	if err := os.WriteFile(ignoring, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok2, err := LoadTokenizerJSON(ignoring)
	if err != nil {
		t.Fatal(err)
	}
	if !tok2.ignoreMerges {
		t.Fatal("ignore_merges not read")
	}
	compareHF(t, nm, tok2, ignoring, texts)
}

func compareHF(t *testing.T, nodeModules string, tok *Tokenizer, tokenizerJSON string, texts []string) {
	t.Helper()
	hf := hfEncode(t, nodeModules, tokenizerJSON, texts)
	bad := 0
	for i, s := range texts {
		if got := tok.EncodeString(s).IDs; !slices.Equal(got, hf[i]) {
			if bad++; bad <= 5 {
				t.Errorf("%q:\n ours %v\n   hf %v", s, got, hf[i])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d texts encode differently", filepath.Base(tokenizerJSON), bad, len(texts))
	}
}
