package bbpe

import (
	"bytes"
	"os"
	"testing"
	"time"
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

// meter reports throughput per second of wall time and per second of CPU
// time (all threads), the latter steady on a machine shared with other work.
type meter struct {
	cpu0 time.Duration
}

func startMeter(b *testing.B) *meter {
	b.ResetTimer()
	return &meter{cpu0: cpuTime()}
}

func (m *meter) report(b *testing.B, tokens, size int64) {
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
	if cpu := cpuTime() - m.cpu0; cpu > 0 && m.cpu0 > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

// BenchmarkEncode encodes every line, one call each, on one goroutine.
func BenchmarkEncode(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var ids []int32
	var tokens int64
	m := startMeter(b)
	for b.Loop() {
		for _, l := range lines {
			ids = tok.AppendIDs(ids[:0], l)
			tokens += int64(len(ids))
		}
	}
	m.report(b, tokens, size)
}

// BenchmarkEncodeWhole encodes the lines joined by newlines as one text, with
// offsets, as hf_bench.js's "whole file as one text".
func BenchmarkEncodeWhole(b *testing.B) {
	tok, lines, _ := benchSetup(b)
	whole := bytes.Join(lines, []byte("\n"))
	size := int64(len(whole))
	b.SetBytes(size)
	var tokens int64
	m := startMeter(b)
	for b.Loop() {
		tokens += int64(len(tok.Encode(whole).IDs))
	}
	m.report(b, tokens, size)
}

// BenchmarkEncodeOffsets is BenchmarkEncode with offsets and a fresh
// Encoding per line.
func BenchmarkEncodeOffsets(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var tokens int64
	m := startMeter(b)
	for b.Loop() {
		for _, l := range lines {
			tokens += int64(len(tok.Encode(l).IDs))
		}
	}
	m.report(b, tokens, size)
}

// BenchmarkEncodeBatch encodes all lines, ids only, on all cores.
func BenchmarkEncodeBatch(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var tokens int64
	m := startMeter(b)
	for b.Loop() {
		for _, ids := range tok.EncodeBatchIDs(lines) {
			tokens += int64(len(ids))
		}
	}
	m.report(b, tokens, size)
}

// BenchmarkEncodeBatchOffsets encodes all lines with offsets on all cores.
func BenchmarkEncodeBatchOffsets(b *testing.B) {
	tok, lines, size := benchSetup(b)
	b.SetBytes(size)
	var tokens int64
	m := startMeter(b)
	for b.Loop() {
		for _, e := range tok.EncodeBatch(lines) {
			tokens += int64(len(e.IDs))
		}
	}
	m.report(b, tokens, size)
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
