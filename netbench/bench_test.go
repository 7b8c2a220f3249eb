package netbench

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/dissect"
)

// BenchmarkFlows measures read + dissect + flow grouping of a capture named
// by $LENS_BENCH_CAPTURE (Debian pathspider's tests/data/real.pcap is the
// reference: `apt-get download pathspider` and unpack it).
func BenchmarkFlows(b *testing.B) {
	path := os.Getenv("LENS_BENCH_CAPTURE")
	if path == "" {
		b.Skip("set LENS_BENCH_CAPTURE to a capture file")
	}
	frames := 0
	b.ReportAllocs()
	for b.Loop() {
		r, err := capture.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		d := dissect.New(dissect.Config{})
		ft := NewFlowTable(FlowTableConfig{}, path, "", func(*Flow) error { return nil })
		var fr capture.Frame
		var p dissect.Packet
		frames = 0
		for {
			if err := r.Next(&fr); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				b.Fatal(err)
			}
			frames++
			d.Dissect(&fr, &p)
			ft.Add(&p, fr.Time)
		}
		ft.Close()
		r.Close()
	}
	b.ReportMetric(float64(frames)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
