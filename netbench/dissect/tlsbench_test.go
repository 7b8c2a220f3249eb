package dissect

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/lens-go/lens/netbench/capture"
)

// BenchmarkTLSCapture renders a TLS-heavy capture (ndpi/opera-vpn).
func BenchmarkTLSCapture(b *testing.B) {
	r, err := capture.Open(filepath.Join(sharedDir(b), "pcaps", "ndpi", "opera-vpn.pcapng"))
	if err != nil {
		b.Skip(err)
	}
	var frames []capture.Frame
	for {
		var fr capture.Frame
		if err := r.Next(&fr); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			b.Fatal(err)
		}
		fr.Data = append([]byte(nil), fr.Data...)
		frames = append(frames, fr)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var p Packet
	for i := 0; i < b.N; i++ {
		d := New(Config{})
		for j := range frames {
			d.Dissect(&frames[j], &p)
		}
	}
	b.ReportMetric(float64(b.N*len(frames))/b.Elapsed().Seconds(), "frames/s")
}
