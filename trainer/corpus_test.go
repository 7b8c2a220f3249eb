package trainer

import (
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/span"
)

func smallTokenizer(t *testing.T, text string) *bbpe.Tokenizer {
	t.Helper()
	tr, err := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: 600, MinFrequency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.AddReader("test", strings.NewReader(text), bbpe.Lines); err != nil {
		t.Fatal(err)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestFlowExampleTagsFieldsAndKeepsContext(t *testing.T) {
	lines := []string{
		"<SIP> → <DIP> TCP 60 34665 → 443 [SYN] Seq=0 Win=29200 Len=0 MSS=1460",
		"<DIP> → <SIP> TCP 60 443 → 34665 [SYN, ACK] Seq=0 Ack=1 Win=42540 Len=0 MSS=1350",
		"<SIP> → <DIP> TLSv1.2 569 Client Hello 1603 0102 0001 0001 fc03 03a5",
	}
	f := &netbench.Flow{}
	for _, l := range lines {
		f.Lines = append(f.Lines, netbench.ParseLine(l))
	}
	tok := smallTokenizer(t, strings.Repeat(strings.Join(lines, "\n")+"\nIt is VPN network traffic data\n", 20))
	ex, ok := FlowExample(f, "It is VPN network traffic data", tok, 0)
	if !ok {
		t.Fatal("no example")
	}
	if err := ex.Validate(); err != nil {
		t.Fatal(err)
	}
	if ex.IDs[ex.ContextStart-1] != int32(bbpe.SepID) {
		t.Fatal("<sep> does not precede the context")
	}
	ctx, _ := tok.Decode(ex.IDs[ex.ContextStart:])
	if strings.TrimSpace(string(ctx)) != "It is VPN network traffic data" {
		t.Fatalf("context decodes to %q", ctx)
	}
	// The tokens tagged as ports decode to the port numbers, one field each.
	ports := map[int32]string{}
	for i, k := range ex.Kinds {
		if k == span.Port {
			b, _ := tok.Decode(ex.IDs[i : i+1])
			ports[ex.Fields[i]] += string(b)
		}
	}
	var got []string
	for _, p := range ports {
		got = append(got, strings.TrimSpace(p))
	}
	if len(got) != 4 {
		t.Fatalf("port fields %v, want 4 (two per TCP line)", ports)
	}
	for _, p := range got {
		if p != "443" && p != "34665" {
			t.Errorf("a port field decodes to %q", p)
		}
	}
	// Truncation drops whole packets and keeps the context.
	short, ok := FlowExample(f, "It is VPN network traffic data", tok, len(ex.IDs)-2)
	if !ok || len(short.IDs) >= len(ex.IDs) || short.IDs[short.ContextStart-1] != int32(bbpe.SepID) {
		t.Fatalf("truncated example: ok %v, %d ids (full %d)", ok, len(short.IDs), len(ex.IDs))
	}
	text, _ := tok.Decode(short.IDs[:short.ContextStart-1])
	if strings.Count(string(text), "\n") != 1 || strings.Contains(string(text), "Client Hello") {
		t.Fatalf("truncation should drop the last packet whole: %q", text)
	}
}
