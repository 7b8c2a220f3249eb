package bbpe

import (
	"bytes"
	"os"
	"testing"
)

// Benchmarks read testdata/lines.txt and train on it, unless
// LENS_BBPE_BENCH_LINES names another file of lines and LENS_BBPE_TOKENIZER a
// saved tokenizer, so that the numbers can be set beside those of
// testdata/hf_bench.js on the same files.

func benchSetup(b *testing.B) (*Tokenizer, [][]byte, int64) {
	b.Helper()
	tok := trained(b)
	if dir := os.Getenv("LENS_BBPE_TOKENIZER"); dir != "" {
		var err error
		if tok, err = Load(dir); err != nil {
			b.Fatal(err)
		}
	}
	lines := testLines(b)
	if f := os.Getenv("LENS_BBPE_BENCH_LINES"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		lines = bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	}
	var n int64
	for _, l := range lines {
		n += int64(len(l))
	}
	return tok, lines, n
}

func reportTokens(b *testing.B, tokens int64) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncode encodes every line, one call each, on one goroutine.
func BenchmarkEncode(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var ids []int32
	var tokens int64
	for b.Loop() {
		for _, l := range lines {
			ids = tok.AppendIDs(ids[:0], l)
			tokens += int64(len(ids))
		}
	}
	reportTokens(b, tokens)
}

// BenchmarkEncodeOffsets is BenchmarkEncode with offsets and a fresh
// Encoding per line.
func BenchmarkEncodeOffsets(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var tokens int64
	for b.Loop() {
		for _, l := range lines {
			tokens += int64(len(tok.Encode(l).IDs))
		}
	}
	reportTokens(b, tokens)
}

// BenchmarkEncodeBatch encodes all lines, ids only, on all cores.
func BenchmarkEncodeBatch(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var tokens int64
	for b.Loop() {
		for _, ids := range tok.EncodeBatchIDs(lines) {
			tokens += int64(len(ids))
		}
	}
	reportTokens(b, tokens)
}

// BenchmarkEncodeBatchOffsets encodes all lines with offsets on all cores.
func BenchmarkEncodeBatchOffsets(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var tokens int64
	for b.Loop() {
		for _, e := range tok.EncodeBatch(lines) {
			tokens += int64(len(e.IDs))
		}
	}
	reportTokens(b, tokens)
}

// BenchmarkTrain counts the words of the lines and learns a vocabulary of
// 8000 tokens (fewer if pairs run out below frequency 2).
func BenchmarkTrain(b *testing.B) {
	_, lines, size := benchSetup(b)
	b.SetBytes(size)
	var merges int
	for b.Loop() {
		tr, err := NewTrainer(TrainConfig{VocabSize: 8000, MinFrequency: 2})
		if err != nil {
			b.Fatal(err)
		}
		var all []byte
		for _, l := range lines {
			all = append(append(all, l...), '\n')
		}
		if err := tr.AddReader("lines", bytes.NewReader(all), Lines); err != nil {
			b.Fatal(err)
		}
		tok, err := tr.Train()
		if err != nil {
			b.Fatal(err)
		}
		merges = tok.NumMerges()
	}
	b.ReportMetric(float64(merges), "merges")
}
