package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench/bbpe"
)

func TestTokenizerTrainEncode(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "docs.jsonl")
	if err := os.WriteFile(text, []byte("{\"text\": \"It is VPN network traffic data.\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tok")
	err := tokenizerTrain([]string{"--lines", "../../netbench/bbpe/testdata/lines.txt", "--text", text,
		"--vocab", "1000", "--min-freq", "2", "--out", out})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := bbpe.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 1000 || len(tok.Meta.Sources) != 2 || tok.Meta.Sources[1].Name != text {
		t.Fatalf("vocab %d, sources %+v", tok.VocabSize(), tok.Meta.Sources)
	}
	in := "<SIP> → <DIP> TCP 60 34665 → 443 [SYN]\r\nIt is VPN traffic<sep>\n\nno newline at end"
	var got bytes.Buffer
	if err := encodeLines(tok, strings.NewReader(in), &got); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n")
	want := []string{"<SIP> → <DIP> TCP 60 34665 → 443 [SYN]", "It is VPN traffic<sep>", "", "no newline at end"}
	if len(lines) != len(want) {
		t.Fatalf("%d output lines, want %d:\n%s", len(lines), len(want), got.String())
	}
	for i, w := range want {
		var ids []string
		for _, id := range tok.EncodeString(w).IDs {
			ids = append(ids, strconv.Itoa(int(id)))
		}
		if lines[i] != strings.Join(ids, " ") {
			t.Errorf("line %d: %q, want %q", i, lines[i], strings.Join(ids, " "))
		}
	}
	if !strings.HasPrefix(lines[0], strconv.Itoa(int(bbpe.SIPID))+" ") {
		t.Errorf("line 0 does not start with <SIP>: %s", lines[0])
	}
	// --corpus names a folder that is not a corpus: a clear error naming it.
	if err := tokenizerTrain([]string{"--corpus", dir, "--out", out}); err == nil || !strings.Contains(err.Error(), "not a corpus") || !strings.Contains(err.Error(), dir) {
		t.Errorf("--corpus on a non-corpus: %v", err)
	}
}
