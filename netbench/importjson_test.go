package netbench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench/span"
)

func TestImportNetBenchAndLensFormats(t *testing.T) {
	dir := t.TempDir()
	flowText := "<SIP> → <DIP> TCP 60 34665 → 443 [SYN] Seq=0 Win=29200 Len=0 MSS=1460 SACK_PERM\n<DIP> → <SIP> TLSv1.2 201 Server Hello, Change Cipher Spec 1603 0300 5d02 0000 5903 0355"
	nb := `[{"text": ` + jsonString(flowText) + `, "label1": "vpn", "label2": "chat", "label3": "skype"},
	        {"text": "x", "label1": 3}, {"oops": 1}]`
	os.WriteFile(filepath.Join(dir, "ISCX-VPN_train_flow.json"), []byte(nb), 0o644)
	lens := `{"anonymized_text": ` + jsonString(flowText+" <sep> In a b, the VPN network traffic belong to:") + `, "label": "hangout"}
not json
{"anonymized_text": "", "label": "x"}
`
	os.WriteFile(filepath.Join(dir, "task3.jsonl"), []byte(lens), 0o644)
	m, flows := ingestOne(t, dir, filepath.Join(dir, "ISCX-VPN_train_flow.json"), filepath.Join(dir, "task3.jsonl"))
	if len(flows) != 3 {
		t.Fatalf("%d flows, want 3 (2 NetBench rows with text, 1 Lens row)", len(flows))
	}
	if flows[0].Label != "ISCX-VPN/skype" || flows[1].Label != "ISCX-VPN/3" || flows[2].Label != "hangout" {
		t.Errorf("labels %q %q %q", flows[0].Label, flows[1].Label, flows[2].Label)
	}
	if m.Skipped[SkipMalformedRow] != 3 {
		t.Errorf("skipped %v, want 3 malformed rows", m.Skipped)
	}
	if len(m.Errors) != 2 || !strings.Contains(m.Errors[1], "task3.jsonl: line 2") {
		t.Errorf("errors should name file and line: %v", m.Errors)
	}
	l := flows[2].Lines[1]
	if len(flows[2].Lines) != 2 || strings.Contains(l.Text, "<sep>") {
		t.Fatalf("context not cut from packet text: %q", flows[2].Lines)
	}
	kinds := map[span.Kind]string{}
	for _, s := range l.Spans {
		kinds[s.Kind] += l.Text[s.Start:s.End] + "|"
	}
	if kinds[span.Protocol] != "TLSv1.2|" || kinds[span.Message] != "Server Hello, Change Cipher Spec|" || kinds[span.PayloadHex] != "1603 0300 5d02 0000 5903 0355|" {
		t.Errorf("recovered spans %v", kinds)
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
