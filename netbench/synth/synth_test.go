package synth

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lens-go/lens/netbench/registry"
)

func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		h.Write([]byte(rel))
		h.Write(b)
	}
	return string(h.Sum(nil))
}

func TestDeterministicBySeed(t *testing.T) {
	reg := registry.Default()
	dir := t.TempDir()
	gen := func(name string, seed uint64) string {
		out := filepath.Join(dir, name)
		if _, err := Generate(context.Background(), reg, Config{Out: out, Seed: seed, Flows: 60, MinFlows: 2, Datasets: []string{"CIC-DoHBrw-2020"}}); err != nil {
			t.Fatal(err)
		}
		return treeHash(t, out)
	}
	a, b, c := gen("a", 5), gen("b", 5), gen("c", 6)
	if a != b {
		t.Error("same seed, different captures")
	}
	if a == c {
		t.Error("different seeds, same captures")
	}
}

func TestLongTailPreserved(t *testing.T) {
	reg := registry.Default()
	d, _ := reg.Dataset("CIC-IoT-2023")
	alloc := Allocate(d.Classes, 20000, 4)
	got := map[string]int{}
	for i, c := range d.Classes {
		got[c.Name] = alloc[i]
	}
	// Table 4's order of class sizes survives, with every class present.
	order := []string{"DDoS", "DoS", "Spoofing", "Web-based", "BruteForce"}
	for i := 1; i < len(order); i++ {
		if got[order[i-1]] <= got[order[i]] {
			t.Errorf("%s (%d) should outnumber %s (%d)", order[i-1], got[order[i-1]], order[i], got[order[i]])
		}
	}
	if got["BruteForce"] < 4 {
		t.Errorf("BruteForce got %d flows, the minimum is 4", got["BruteForce"])
	}
	if r := float64(got["DDoS"]) / float64(got["DoS"]); r < 8 || r > 10 {
		t.Errorf("DDoS/DoS ratio %.1f, Table 4 has 11055/1216 = 9.1", r)
	}
}

// TestTsharkReadsSynth checks the captures are valid for tshark itself
// (headers and checksums), where tshark is installed.
func TestTsharkReadsSynth(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: apt-get install tshark to check synthetic captures with it")
	}
	reg := registry.Default()
	out := t.TempDir()
	if _, err := Generate(context.Background(), reg, Config{Out: out, Seed: 1, Flows: 40, MinFlows: 1, Datasets: []string{"USTC-TFC2016"}}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "USTC-TFC2016", "*", "*.pcap"))
	if len(files) == 0 {
		t.Fatal("no captures written")
	}
	for _, f := range files[:min(4, len(files))] {
		cmd := exec.Command("tshark", "-n", "-r", f, "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
			"-o", "ip.check_checksum:TRUE", "-T", "fields", "-e", "_ws.expert.message")
		outb, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tshark %s: %v\n%s", f, err, outb)
		}
		s := string(outb)
		if strings.Contains(s, "Bad checksum") || strings.Contains(strings.ToLower(s), "malformed") {
			t.Errorf("%s: tshark reports: %s", f, firstLines(s, 5))
		}
	}
}

func firstLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[:n]
	}
	return strings.Join(l, "\n")
}
