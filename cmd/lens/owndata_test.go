package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench"
)

// ownTree copies the real captures of netbench/testdata/owndata into
// root/{train,test}/<label>/, one capture of each label for test.
func ownTree(t *testing.T, root string) {
	t.Helper()
	src := filepath.Join("..", "..", "netbench", "testdata", "owndata")
	for _, c := range []struct{ split, label, file string }{
		{"train", "dns", "zeek__dns53.pcap"},
		{"test", "dns", "debian__golang-github-google-gopacket-dev__test_dns.pcap"},
		{"train", "mqtt", "zeek__mqtt.pcap"},
		{"test", "mqtt", "suricata-verify__mqtt311-pub-qos1__input.pcap"},
	} {
		b, err := os.ReadFile(filepath.Join(src, c.file))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, c.split, c.label, c.file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOwnCapturesCommands: a folder tree of one's own labelled captures
// goes through the documented commands with no registry and no
// hand-written JSON: ingest --dataset, audit (passes, every seed), split
// --pretrain train (declared, audit still passes); a corpus whose labels the
// registry does not know fails 'lens split' naming a flow, and a missing
// seed's split is an error that says how to make it.
func TestOwnCapturesCommands(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	ownTree(t, root)
	corpus := filepath.Join(dir, "corpus")
	out, err := captureStdout(t, func() error {
		return runIngest([]string{"--quiet", "--out", corpus, "--dataset", "Mine", "--idle-timeout", "0", root})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "flow idle timeout none") || !strings.Contains(out, "dataset Mine: 2 classes") || !strings.Contains(out, "fixed split given by the input") {
		t.Fatalf("ingest printed %q", out)
	}
	for _, seed := range []string{"1", "7"} {
		out, err = captureStdout(t, func() error { return runAudit([]string{"--seed", seed, corpus}) })
		if err != nil || !strings.Contains(out, "no leak") || !strings.Contains(out, "splits-fixed.json") {
			t.Fatalf("audit --seed %s: %v\n%s", seed, err, out)
		}
	}
	out, err = captureStdout(t, func() error { return runSplit([]string{"--pretrain", "train", corpus}) })
	if err != nil || !strings.Contains(out, "pretraining reuses the train flows (declared)") {
		t.Fatalf("split --pretrain train: %v\n%s", err, out)
	}
	out, err = captureStdout(t, func() error { return runAudit([]string{corpus}) })
	if err != nil || !strings.Contains(out, "declared: ") || !strings.Contains(out, "no leak") {
		t.Fatalf("audit of the declared overlap: %v\n%s", err, out)
	}
	if _, reg, s, err := openSplits(corpus, "", 3); err != nil || !s.Fixed || s.PretrainReuses != netbench.SplitTrain || reg.Datasets[0].Name != "Mine" {
		t.Fatalf("openSplits of a fixed corpus, seed 3: %v", err)
	}

	// Without --dataset the folder names are not registry labels.
	plain := filepath.Join(dir, "plain")
	if _, err := captureStdout(t, func() error { return runIngest([]string{"--quiet", "--out", plain, filepath.Join(root, "train")}) }); err != nil {
		t.Fatal(err)
	}
	_, err = captureStdout(t, func() error { return runSplit([]string{plain}) })
	if err == nil || !strings.Contains(err.Error(), "flow 0 (capture dns/zeek__dns53.pcap)") {
		t.Fatalf("split of unknown labels: %v", err)
	}
	_, _, _, err = openSplits(plain, "", 2)
	if err == nil || !strings.Contains(err.Error(), "lens split --seed 2 ") {
		t.Fatalf("missing split of seed 2: %v", err)
	}
}
