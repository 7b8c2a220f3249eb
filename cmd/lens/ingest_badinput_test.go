package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench"
)

// TestIngestCommandBadInputs: 'lens ingest' fails (main exits 1) when every
// input failed or a path is missing, writes no corpus, and --help states
// these rules.
func TestIngestCommandBadInputs(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("not a capture"), 0o644)
	out := filepath.Join(dir, "corpus")
	err := runIngest([]string{"--quiet", "--out", out, junk})
	if !errors.Is(err, netbench.ErrEmptyCorpus) || !strings.Contains(err.Error(), "every input failed (1 of 1)") {
		t.Errorf("every input failed: err %v", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a corpus folder was left after a failed ingest")
	}
	err = runIngest([]string{"--quiet", "--out", out, junk, filepath.Join(dir, "missing.pcap")})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 inputs cannot be read, nothing ingested") {
		t.Errorf("missing path: err %v", err)
	}
	var help bytes.Buffer
	stderr := os.Stderr
	r, w, _ := os.Pipe()
	os.Stderr = w
	herr := runIngest([]string{"--help"})
	w.Close()
	os.Stderr = stderr
	help.ReadFrom(r)
	if !errors.Is(herr, flag.ErrHelp) {
		t.Fatalf("--help: %v", herr)
	}
	for _, rule := range []string{"if any is missing, nothing is ingested", "If no input gives a flow", "no corpus is written and lens exits 1", "label is not a JSON string"} {
		if !strings.Contains(strings.Join(strings.Fields(help.String()), " "), rule) {
			t.Errorf("--help does not state %q", rule)
		}
	}
}
