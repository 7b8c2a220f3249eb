package netbench

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/dissect"
)

type dissectPacket = dissect.Packet

func forEachPacket(t *testing.T, path string, fn func(*dissect.Packet, time.Time)) {
	t.Helper()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := dissect.New(dissect.Config{})
	var fr capture.Frame
	var p dissect.Packet
	for {
		if err := r.Next(&fr); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatal(err)
		}
		d.Dissect(&fr, &p)
		fn(&p, fr.Time)
	}
}
