package baselines

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/dissect"
)

// realFlows reads a capture from ../shared/pcaps into flows.
func realFlows(t *testing.T, rel string) []*netbench.Flow {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "pcaps", rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found (a fresh clone has no ../shared)", path)
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var flows []*netbench.Flow
	ft := netbench.NewFlowTable(netbench.FlowTableConfig{RawPackets: 10, RawBytes: 1500}, path, "", func(f *netbench.Flow) error {
		flows = append(flows, f)
		return nil
	})
	d := dissect.New(dissect.Config{})
	var fr capture.Frame
	var p dissect.Packet
	for r.Next(&fr) == nil {
		d.Dissect(&fr, &p)
		ft.Add(&p, fr.Time)
	}
	ft.Close()
	return flows
}

func packetsOf(f *netbench.Flow) []Packet {
	var out []Packet
	for i, b := range f.Raw {
		out = append(out, Packet{Dir: int(f.Headers[i].Dir), IP: b})
	}
	return out
}

// TestRepresentationsOnRealCapture builds every baseline input from the
// HTTP flow of a real capture (Wireshark's http.cap sample).
func TestRepresentationsOnRealCapture(t *testing.T) {
	flows := realFlows(t, "debian/pathspider__tcp_http.pcap")
	var http *netbench.Flow
	for _, f := range flows {
		if f.DstPort == 80 && f.Packets > 10 {
			http = f
			break
		}
	}
	if http == nil {
		t.Fatal("no HTTP flow in the capture")
	}
	pk := packetsOf(http)
	// Packet 4 is the GET request: ET-BERT's bigrams start "GE", "ET", "T ".
	toks := ETBERTTokens(pk[3:], 1, 64, 100, 10, 3)
	if toks[0] != 10+0x4745 || toks[1] != 10+0x4554 || toks[2] != 10+0x5420 {
		t.Errorf("ET-BERT bigrams of the GET: %v", toks[:3])
	}
	// YaTC: 40x40, addresses and ports zeroed, TCP header length kept, payload after byte 80.
	m := YaTCMatrix(pk)
	if len(m) != 1600 {
		t.Fatalf("YaTC matrix %d cells", len(m))
	}
	row := m[3*320 : 4*320]
	for i := 12; i < 24; i++ {
		if row[i] != 0 {
			t.Fatalf("YaTC address/port byte %d = %v, want 0", i, row[i])
		}
	}
	if row[0] != float32(0x45)/255 || row[80] != float32('G')/255 {
		t.Errorf("YaTC row: first byte %v, payload start %v", row[0], row[80])
	}
	// DeepPacket: 1500 values in [0,1] with the addresses masked.
	v := DeepPacketVector(pk[3].IP)
	for i := 12; i < 20; i++ {
		if v[i] != 0 {
			t.Fatalf("DeepPacket address byte %d not masked", i)
		}
	}
	// FS-Net: the direction-signed frame lengths of the flow's packets.
	lengths := make([]int, len(http.Headers))
	dirs := make([]int, len(http.Headers))
	for i, h := range http.Headers {
		lengths[i], dirs[i] = h.Len, int(h.Dir)
	}
	seq := FSNetSequence(lengths, dirs, 34)
	if seq[0] != 62+1501 || seq[1] != -62+1501 || seq[3] != 533+1501 {
		t.Errorf("FS-Net sequence starts %v (frames of 62, 62, 54, 533 bytes)", seq[:4])
	}
	bm := ByteMatrix(pk, 10, 100)
	if len(bm) != 1000 || bm[0] != float32(0x45)/255 {
		t.Errorf("byte matrix %d values, first %v", len(bm), bm[0])
	}
}
