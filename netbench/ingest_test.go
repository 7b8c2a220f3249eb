package netbench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestEveryInputFailed: when no input can be read, Ingest writes no
// corpus (not even an empty folder) and says why, naming the first failure.
func TestIngestEveryInputFailed(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcapng")
	os.WriteFile(a, []byte("not a capture at all"), 0o644)
	os.WriteFile(b, []byte{0x0a, 0x0d, 0x0d, 0x0a, 1, 2}, 0o644)
	in, err := ExpandInputs([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "corpus")
	_, err = Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, CodeVersion: "test"})
	if !errors.Is(err, ErrEmptyCorpus) || !strings.Contains(err.Error(), "every input failed (2 of 2); first: "+a+": not a pcap or pcapng file") ||
		!strings.Contains(err.Error(), "no corpus written") {
		t.Fatalf("err %v, want ErrEmptyCorpus saying every input failed and naming a.pcap", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s left behind after a failed ingest (stat: %v)", out, err)
	}
}

// TestIngestNoFlows: inputs that read fine but give no flow (no IP frame,
// no good text row) are an error too, with the skip counts as the reason.
func TestIngestNoFlows(t *testing.T) {
	dir := t.TempDir()
	arp := make([]byte, 42)
	arp[12], arp[13] = 0x08, 0x06 // Ethernet, ARP
	p := filepath.Join(dir, "arp.pcap")
	os.WriteFile(p, pcapBytes(arp, arp), 0o644)
	j := filepath.Join(dir, "rows.jsonl")
	os.WriteFile(j, []byte(`{"text": "hello", "label": "x"}`+"\n"), 0o644)
	in, _ := ExpandInputs([]string{p, j})
	out := filepath.Join(dir, "corpus")
	_, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, CodeVersion: "test"})
	if !errors.Is(err, ErrEmptyCorpus) || !strings.Contains(err.Error(), "2 inputs, 3 frames or rows, none made a flow (skipped: frame without IP (no flow) 2, text row: text is not packet lines 1)") ||
		!strings.Contains(err.Error(), "rows.jsonl: line 1: packet line 1 is not SRC → DST") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s left behind", out)
	}
}

// TestIngestExistingOutKeptOnFailure: a failed ingest into a folder that
// existed before leaves the folder (and what else is in it) alone.
func TestIngestExistingOutKeptOnFailure(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.pcap")
	os.WriteFile(a, []byte("junk"), 0o644)
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644)
	in, _ := ExpandInputs([]string{a})
	if _, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, CodeVersion: "test"}); !errors.Is(err, ErrEmptyCorpus) {
		t.Fatalf("err %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("existing file in --out disturbed: %v", err)
	}
}

// TestExpandInputsMissingPaths: a batch with missing paths is refused before
// any work, naming every missing path.
func TestExpandInputsMissingPaths(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pcap")
	os.WriteFile(good, pcapBytes(), 0o644)
	_, err := ExpandInputs([]string{good, filepath.Join(dir, "nope.pcap"), filepath.Join(dir, "gone")})
	if err == nil || !strings.Contains(err.Error(), "2 of 3 inputs cannot be read, nothing ingested: ") ||
		!strings.Contains(err.Error(), "nope.pcap (no such file or directory)") || !strings.Contains(err.Error(), "gone (no such file or directory)") {
		t.Fatalf("err %v", err)
	}
}

// pcapBytes is a little-endian Ethernet pcap holding frames.
func pcapBytes(frames ...[]byte) []byte {
	b := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	for i, f := range frames {
		n := byte(len(f))
		b = append(b, byte(i), 0, 0, 0, 0, 0, 0, 0, n, 0, 0, 0, n, 0, 0, 0)
		b = append(b, f...)
	}
	return b
}
