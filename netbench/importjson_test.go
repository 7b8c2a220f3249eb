package netbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench/span"
)

const flowText = "<SIP> → <DIP> TCP 60 34665 → 443 [SYN] Seq=0 Win=29200 Len=0 MSS=1460 SACK_PERM\n<DIP> → <SIP> TLSv1.2 201 Server Hello, Change Cipher Spec 1603 0300 5d02 0000 5903 0355"

func TestImportNetBenchAndLensFormats(t *testing.T) {
	dir := t.TempDir()
	nb := `[{"text": ` + jsonString(flowText) + `, "label1": "vpn", "label2": "chat", "label3": "skype"},
	        {"text": "x", "label1": 3}, {"oops": 1}]`
	os.WriteFile(filepath.Join(dir, "ISCX-VPN_train_flow.json"), []byte(nb), 0o644)
	lens := `{"anonymized_text": ` + jsonString(flowText+" <sep> In a b, the VPN network traffic belong to:") + `, "label": "hangout"}
not json
{"anonymized_text": "", "label": "x"}
`
	os.WriteFile(filepath.Join(dir, "task3.jsonl"), []byte(lens), 0o644)
	m, flows := ingestOne(t, dir, filepath.Join(dir, "ISCX-VPN_train_flow.json"), filepath.Join(dir, "task3.jsonl"))
	if len(flows) != 2 {
		t.Fatalf("%d flows, want 2 (1 NetBench row with text and a string label, 1 Lens row)", len(flows))
	}
	if flows[0].Label != "ISCX-VPN/skype" || flows[1].Label != "hangout" {
		t.Errorf("labels %q %q", flows[0].Label, flows[1].Label)
	}
	want := map[string]int{SkipRowBadLabel: 1, SkipRowNoText: 2, SkipRowNotJSON: 1}
	for k, v := range want {
		if m.Skipped[k] != v {
			t.Errorf("skipped %v, want %v", m.Skipped, want)
		}
	}
	if len(m.Errors) != 2 || !strings.Contains(m.Errors[1], "task3.jsonl: line 2: not valid JSON") || !strings.Contains(m.Errors[0], "ISCX-VPN_train_flow.json: row 2 (byte ") {
		t.Errorf("errors should name file and line (JSON lines) or row and byte (array): %v", m.Errors)
	}
	l := flows[1].Lines[1]
	if len(flows[1].Lines) != 2 || strings.Contains(l.Text, "<sep>") {
		t.Fatalf("context not cut from packet text: %q", flows[1].Lines)
	}
	kinds := map[span.Kind]string{}
	for _, s := range l.Spans {
		kinds[s.Kind] += l.Text[s.Start:s.End] + "|"
	}
	if kinds[span.Protocol] != "TLSv1.2|" || kinds[span.Message] != "Server Hello, Change Cipher Spec|" || kinds[span.PayloadHex] != "1603 0300 5d02 0000 5903 0355|" {
		t.Errorf("recovered spans %v", kinds)
	}
}

// importRows runs ImportText on content written to name and returns the
// labels imported, the rejected rows' messages and the file-level error.
func importRows(t *testing.T, name, folderLabel, content string) (labels []string, res TextImport, bad []string, err error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = ImportText(path, folderLabel, func(f *Flow) error {
		labels = append(labels, f.Label)
		return nil
	}, func(e *RowError) { bad = append(bad, strings.TrimPrefix(e.Error(), filepath.Dir(path)+"/")) })
	return labels, res, bad, err
}

func good(label string) string {
	return `{"text": ` + jsonString(flowText) + `, "label1": "` + label + `"}`
}

// TestImportRejectsBadRows: each kind of bad row is rejected, counted under
// its reason and named by file and row (array) or line (JSON lines), and the
// rows around it are imported.
func TestImportRejectsBadRows(t *testing.T) {
	big := strings.Repeat("a", 9000)
	for _, tc := range []struct {
		name, row, reason, msg string
	}{
		{"label object", `{"text": ` + jsonString(flowText) + `, "label1": {"x":[1,2]}}`, SkipRowBadLabel, `label1 is a JSON object ("{\"x\":[1,2]}"), want a string`},
		{"label number", `{"text": ` + jsonString(flowText) + `, "label1": "a", "label3": 7}`, SkipRowBadLabel, `label3 is a JSON number ("7"), want a string`},
		{"label array", `{"anonymized_text": ` + jsonString(flowText) + `, "label": ["a"]}`, SkipRowBadLabel, `label is a JSON array`},
		{"no label", `{"text": ` + jsonString(flowText) + `}`, SkipRowNoLabel, `no label, label1, label2 or label3`},
		{"empty labels", `{"text": ` + jsonString(flowText) + `, "label1": "", "label2": null}`, SkipRowNoLabel, `no label`},
		{"not packet lines", `{"text": "hello world\nthis is prose", "label1": "a"}`, SkipRowNotPackets, `packet line 1 is not SRC → DST PROTOCOL LENGTH INFO: "hello world"`},
		{"one line not a packet", `{"text": ` + jsonString(flowText+"\nsome prose") + `, "label1": "a"}`, SkipRowNotPackets, `packet line 3 is not SRC → DST`},
		{"packet line over 8 KiB", `{"text": ` + jsonString("<SIP> → <DIP> TCP 60 "+big) + `, "label1": "a"}`, SkipRowNotPackets, `packet line 1 is 9023 bytes, over the 8192-byte limit on a packet line`},
		{"text a number", `{"text": 5, "label1": "a"}`, SkipRowNoText, `text is a JSON number, want a string`},
		{"only context", `{"anonymized_text": "<sep> In a b, the VPN network traffic belong to:", "label": "a"}`, SkipRowNoText, `anonymized_text holds no packet line`},
		{"not an object", `[1, 2]`, SkipRowNotObject, `a JSON array, want an object`},
		{"a number", `7`, SkipRowNotObject, `a JSON number, want an object`},
		{"syntax error", `{"text": "a" "label1": "b"}`, SkipRowNotJSON, `not valid JSON: invalid character '"' after object key:value pair at byte 14 of the row`},
	} {
		// As JSON lines: the bad row is line 2.
		labels, res, bad, err := importRows(t, "x.jsonl", "", good("a")+"\n"+tc.row+"\n"+good("c")+"\n")
		if err != nil || fmt.Sprint(labels) != "[a c]" || res.Skipped[tc.reason] != 1 || res.Rejected() != 1 || len(bad) != 1 ||
			!strings.HasPrefix(bad[0], "x.jsonl: line 2: ") || !strings.Contains(bad[0], tc.msg) {
			t.Errorf("%s (JSON lines): labels %v, skipped %v, rejected %q, err %v; want [a c], 1 %q saying %q at line 2", tc.name, labels, res.Skipped, bad, err, tc.reason, tc.msg)
		}
		// As an array: the bad row is row 2, at its byte offset.
		prefix := "[" + good("a") + ",\n "
		labels, res, bad, err = importRows(t, "x.json", "", prefix+tc.row+", "+good("c")+"]")
		wantAt := fmt.Sprintf("x.json: row 2 (byte %d): ", len(prefix))
		if err != nil || fmt.Sprint(labels) != "[a c]" || res.Skipped[tc.reason] != 1 || len(bad) != 1 ||
			!strings.HasPrefix(bad[0], wantAt) || !strings.Contains(bad[0], tc.msg) {
			t.Errorf("%s (array): labels %v, skipped %v, rejected %q, err %v; want [a c], 1 %q saying %q%q", tc.name, labels, res.Skipped, bad, err, tc.reason, wantAt, tc.msg)
		}
	}
}

// TestImportFolderLabelForUnlabelledRows: a row with no label of its own
// takes the label of its folder; its own label wins when it has one.
// TestImportJSONLinesStartingWithAnArray: a *.jsonl file is one row per
// line even when its first row is an array (rejected as not an object).
func TestImportJSONLinesStartingWithAnArray(t *testing.T) {
	labels, res, bad, err := importRows(t, "x.jsonl", "", "[1, 2]\n"+good("a")+"\n")
	if err != nil || fmt.Sprint(labels) != "[a]" || res.Skipped[SkipRowNotObject] != 1 || len(bad) != 1 || !strings.HasPrefix(bad[0], "x.jsonl: line 1: a JSON array") {
		t.Errorf("labels %v, skipped %v, rejected %q, err %v", labels, res.Skipped, bad, err)
	}
}

func TestImportFolderLabelForUnlabelledRows(t *testing.T) {
	labels, res, _, err := importRows(t, "d_train_flow.json", "vpn/chat", "["+`{"text": `+jsonString(flowText)+`}, `+good("skype")+"]")
	if err != nil || fmt.Sprint(labels) != "[vpn/chat d/skype]" || res.Rejected() != 0 {
		t.Errorf("labels %v, skipped %v, err %v", labels, res.Skipped, err)
	}
}

// TestImportRejectsHugeLines: a 50 MB line is rejected as too long without
// being taken as a packet, and the lines after it are read.
func TestImportRejectsHugeLines(t *testing.T) {
	huge := `{"text": "<SIP> → <DIP> TCP 60 ` + strings.Repeat("A", 50<<20) + `", "label1": "b"}`
	labels, res, bad, err := importRows(t, "x.jsonl", "", good("a")+"\n"+huge+"\n"+good("c")+"\n")
	if err != nil || fmt.Sprint(labels) != "[a c]" || res.Skipped[SkipRowTooLong] != 1 || len(bad) != 1 ||
		!strings.Contains(bad[0], fmt.Sprintf("x.jsonl: line 2: %d bytes, over the 4194304-byte limit on a row", len(huge)+1)) {
		t.Errorf("labels %v, skipped %v, rejected %q, err %v", labels, res.Skipped, bad, err)
	}
	// The same row in an array.
	prefix := "[" + good("a") + ", "
	labels, res, bad, err = importRows(t, "x.json", "", prefix+huge+", "+good("c")+"]")
	if err != nil || fmt.Sprint(labels) != "[a c]" || res.Skipped[SkipRowTooLong] != 1 || len(bad) != 1 ||
		!strings.Contains(bad[0], fmt.Sprintf("x.json: row 2 (byte %d): over the 4194304-byte limit on a row; the next row starts at byte %d", len(prefix), len(prefix)+len(huge)+2)) {
		t.Errorf("array: labels %v, skipped %v, rejected %q, err %v", labels, res.Skipped, bad, err)
	}
}

// TestImportArraySyntaxErrorsLoseOnlyTheirRow: a syntax error inside a JSON
// array costs its own row; the rows after it are found again and read.
func TestImportArraySyntaxErrorsLoseOnlyTheirRow(t *testing.T) {
	a, c, d := good("a"), good("c"), good("d")
	for _, tc := range []struct {
		name, content string
		labels        string
		reason        string
		msg           string
		fileErr       string
	}{
		{"bad value", "[" + a + `, {"text": tru, "label1": "b"}, ` + c + ", " + d + "]", "[a c d]", SkipRowNotJSON, "row 2 (byte", ""},
		{"unterminated string, pretty-printed", "[\n  " + a + ",\n  {\"text\": \"<SIP> → <DIP> TCP 60 x, \"label1\": \"b\"},\n  " + c + ",\n  " + d + "\n]\n", "[a c d]", SkipRowNotJSON, "a line break inside a string", ""},
		{"unterminated string, one line", "[" + a + `, {"text": "<SIP> → <DIP> TCP 60 x, "label1": "b"}, ` + c + ", " + d + "]", "[a c d]", SkipRowNotJSON, "row 2 (byte", ""},
		{"missing comma between rows", "[" + a + " " + c + ", " + d + "]", "[a c d]", "", "", ""},
		{"cut short", "[" + a + ", " + c + `, {"text": "<SIP> → <DIP`, "[a c]", SkipRowCutShort, "row 3 (byte", "without the array's closing ]"},
		{"trailing garbage", "[" + a + ", " + c + "] xyz", "[a c]", "", "", "3 bytes after the array's closing ] ignored"},
	} {
		labels, res, bad, err := importRows(t, "x.json", "", tc.content)
		if fmt.Sprint(labels) != tc.labels {
			t.Errorf("%s: labels %v, want %s (rejected %q, err %v)", tc.name, labels, tc.labels, bad, err)
		}
		if tc.reason == "" {
			if res.Rejected() != 0 {
				t.Errorf("%s: rejected %q", tc.name, bad)
			}
		} else if res.Skipped[tc.reason] != 1 || res.Rejected() != 1 || !strings.Contains(bad[0], tc.msg) {
			t.Errorf("%s: skipped %v, rejected %q; want one %q saying %q", tc.name, res.Skipped, bad, tc.reason, tc.msg)
		}
		if (tc.fileErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.fileErr) {
			t.Errorf("%s: file error %v, want %q", tc.name, err, tc.fileErr)
		}
	}
}

func TestIsPacketLine(t *testing.T) {
	for s, want := range map[string]bool{
		"<SIP> → <DIP> TCP 60 34665 → 443 [SYN]":    true,
		"10.0.0.1 → 10.0.0.2 DNS 80 Standard query": true,
		"aa:bb → Broadcast ARP 42 Who has 1.2.3.4?": true,
		"<SIP> → <DIP> TCP":                         false, // no length
		"<SIP> → <DIP> 60 TCP x":                    false, // no protocol before the length
		"hello world":                               false,
		"a b c d 5":                                 false, // no arrow
		"a → b c → 5":                               false,
	} {
		if got := IsPacketLine(s); got != want {
			t.Errorf("IsPacketLine(%q) = %v", s, got)
		}
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
