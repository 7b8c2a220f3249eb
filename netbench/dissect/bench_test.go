package dissect

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lens-go/lens/netbench/capture"
)

// benchCaptures are the captures BenchmarkDissect reads: the testdata ones,
// and with LENS_SHARED set (or ../shared beside the repository) a few larger
// real captures of the differential test.
func benchCaptures(b *testing.B) [][]byte {
	var paths []string
	if d := os.Getenv("LENS_SHARED"); d != "" {
		for _, f := range []string{"ndpi/alexa-app.pcapng", "ndpi/bitcoin.pcap", "ndpi/wechat.pcap"} {
			paths = append(paths, filepath.Join(d, "pcaps", f))
		}
	} else {
		paths, _ = filepath.Glob("testdata/*.pcap*")
	}
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// BenchmarkDissect reads and renders whole captures from memory on one
// goroutine and reports frames per second.
func BenchmarkDissect(b *testing.B) {
	caps := benchCaptures(b)
	var (
		fr     capture.Frame
		p      Packet
		frames int
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		for _, data := range caps {
			r, err := capture.NewReader("bench", bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			d := New(Config{})
			for {
				if err := r.Next(&fr); err != nil {
					if !errors.Is(err, io.EOF) {
						b.Fatal(err)
					}
					break
				}
				d.Dissect(&fr, &p)
				frames++
			}
		}
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
	if cpu := processCPU() - cpu0; cpu > 0 {
		// The benchmark runs on one goroutine; with GC work on other
		// threads this slightly understates the single-core rate.
		b.ReportMetric(float64(frames)/cpu.Seconds(), "frames/cpu-s")
	}
	b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
}
