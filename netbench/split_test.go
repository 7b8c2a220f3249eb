package netbench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
)

var (
	synthMu    sync.Mutex
	synthCache = map[string]*Corpus{}
	synthRoot  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if synthRoot != "" {
		os.RemoveAll(synthRoot)
	}
	os.Exit(code)
}

// synthCorpus generates and ingests a small synthetic NetBench (once per
// dataset list for the whole test binary; tests must not modify it).
func synthCorpus(t *testing.T, datasets ...string) (*Corpus, *registry.Registry) {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	reg := registry.Default()
	key := strings.Join(datasets, ",")
	if c := synthCache[key]; c != nil {
		return c, reg
	}
	if synthRoot == "" {
		var err error
		if synthRoot, err = os.MkdirTemp("", "lens-synth-test"); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(synthRoot, strings.ReplaceAll(key, ",", "+"))
	sum, err := synth.Generate(context.Background(), reg, synth.Config{Out: filepath.Join(dir, "pcaps"), Seed: 7, Flows: 120, MinFlows: 4, Datasets: datasets})
	if err != nil {
		t.Fatal(err)
	}
	in, err := ExpandInputs([]string{filepath.Join(dir, "pcaps")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: filepath.Join(dir, "corpus"), CodeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// The project's reader parses every synthetic capture without an error,
	// and every generated flow comes back as one flow.
	if len(m.Errors) != 0 || m.Flows != int64(sum.Flows) {
		t.Fatalf("ingest of synthetic captures: errors %v, flows %d of %d generated", m.Errors, m.Flows, sum.Flows)
	}
	c, err := OpenCorpus(filepath.Join(dir, "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	synthCache[key] = c
	return c, reg
}

func TestSplitDeterministicDisjointStratified(t *testing.T) {
	c, reg := synthCorpus(t, "ISCX-VPN", "CrossPlatform-iOS")
	s1, err := Split(c, reg, SplitConfig{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Split(c, reg, SplitConfig{Seed: 3})
	s3, _ := Split(c, reg, SplitConfig{Seed: 4})
	if s1.Hash() != s2.Hash() {
		t.Fatal("same seed gave different splits")
	}
	if s1.Hash() == s3.Hash() {
		t.Fatal("different seeds gave the same split")
	}
	if s1.Unlabelled != 0 {
		t.Fatalf("%d unlabelled flows: %v", s1.Unlabelled, s1.Skipped)
	}
	// CrossPlatform is never in pretraining; ISCX-VPN gives it ~60%, by coarse category.
	if n := s1.Counts["CrossPlatform-iOS/"+SplitPretrain]; n != 0 {
		t.Errorf("%d CrossPlatform flows in pretraining", n)
	}
	vpnTotal := 0
	for _, sp := range []string{SplitPretrain, SplitTrain, SplitTest, SplitUnused} {
		vpnTotal += s1.Counts["ISCX-VPN/"+sp]
	}
	if share := float64(s1.Counts["ISCX-VPN/"+SplitPretrain]) / float64(vpnTotal); share < 0.55 || share > 0.65 {
		t.Errorf("ISCX-VPN pretraining share %.2f, want ~0.60", share)
	}
	// Every class with enough flows has test and train flows.
	for k, v := range s1.ByClass {
		if v[1]+v[2] >= 4 && (v[1] == 0 || v[2] == 0) {
			t.Errorf("class %s: train %d test %d", k, v[1], v[2])
		}
	}
	a, err := RunAudit(c, reg, s1)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Leaks) != 0 {
		t.Fatalf("clean split audited with leaks: %v", a.Leaks)
	}
}

func TestAuditCatchesPlantedLeaks(t *testing.T) {
	c, reg := synthCorpus(t, "ISCX-VPN")
	s, err := Split(c, reg, SplitConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The corpus repeats no 5-tuple, so a fresh corpus whose flows are read
	// twice (a corpus of the same shards listed twice) holds every flow in
	// two copies: Split must keep each pair together, and an assignment that
	// separates one pair is a leak of both its 5-tuple and its text.
	twice := &Corpus{Dir: c.Dir, Manifest: c.Manifest}
	twice.Manifest.Shards = append(append([]Shard(nil), c.Manifest.Shards...), c.Manifest.Shards...)
	s2, err := Split(twice, reg, SplitConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := len(s.Assign)
	for i := 0; i < n; i++ {
		if s2.Assign[i] != s2.Assign[i+n] {
			t.Fatalf("flow %d and its copy split apart: %q vs %q", i, s2.Assign[i], s2.Assign[i+n])
		}
	}
	if a, _ := RunAudit(twice, reg, s2); len(a.Leaks) != 0 {
		t.Fatalf("clean split of the doubled corpus audited with leaks: %v", a.Leaks)
	}
	planted := *s2
	planted.Assign = append([]string(nil), s2.Assign...)
	for i := 0; i < n; i++ {
		if planted.Assign[i] == SplitTest {
			planted.Assign[i+n] = SplitPretrain
			break
		}
	}
	a, err := RunAudit(twice, reg, &planted)
	if err != nil {
		t.Fatal(err)
	}
	if a.TupleOverlaps["pretrain/test"] != 1 || a.TextOverlaps["pretrain/test"] != 1 || len(a.Leaks) != 2 {
		t.Fatalf("planted split leak: tuples %v texts %v leaks %v", a.TupleOverlaps, a.TextOverlaps, a.Leaks)
	}
	// A fine label in a pretraining context.
	bad := *reg
	bad.Datasets = append([]registry.Dataset(nil), reg.Datasets...)
	for i := range bad.Datasets {
		if bad.Datasets[i].Name == "ISCX-VPN" {
			bad.Datasets[i].Context = "It is skype network traffic data"
		}
	}
	a, err = RunAudit(c, &bad, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Leaks) != 1 || !strings.Contains(a.Leaks[0], `"skype"`) {
		t.Fatalf("planted context leak not caught: %v", a.Leaks)
	}
}

func TestParseLineRecoversRenderedSpans(t *testing.T) {
	c, _ := synthCorpus(t, "ISCX-VPN")
	checked := 0
	err := c.Flows(func(f *Flow) error {
		for _, l := range f.Lines {
			if !strings.Contains(l.Text, " TCP ") && !strings.Contains(l.Text, " UDP ") {
				continue // message text is split differently; transport lines must match exactly
			}
			got := ParseLine(l.Text)
			if len(got.Spans) != len(l.Spans) {
				t.Fatalf("%q:\n got %v\nwant %v", l.Text, got.Spans, l.Spans)
			}
			for i := range got.Spans {
				if got.Spans[i] != l.Spans[i] {
					t.Fatalf("%q: span %d got %v (%q) want %v (%q)", l.Text, i, got.Spans[i],
						l.Text[got.Spans[i].Start:got.Spans[i].End], l.Spans[i], l.Text[l.Spans[i].Start:l.Spans[i].End])
				}
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d lines checked", checked)
	}
}
