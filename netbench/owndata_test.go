package netbench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench/registry"
)

// manifestRows reads a MANIFEST.tsv (file and label columns) of captures.
func manifestRows(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	col := map[string]int{}
	byLabel := map[string][]string{}
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 {
			for i, h := range fields {
				col[h] = i
			}
			continue
		}
		if len(fields) <= col["label"] {
			t.Fatalf("%s: line %d: %d columns", path, line, len(fields))
		}
		byLabel[fields[col["label"]]] = append(byLabel[fields[col["label"]]], fields[col["file"]])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return byLabel
}

// labelledTree builds root/{train,test}/<label>/ from the captures of
// MANIFEST.tsv in dir: for each label, the first perLabel captures (by
// name) of those listed, the last of them for test. It returns the test
// captures' file names.
func labelledTree(t *testing.T, dir, root string, labels []string, perLabel int) map[string]bool {
	t.Helper()
	rows := manifestRows(t, filepath.Join(dir, "MANIFEST.tsv"))
	test := map[string]bool{}
	for _, l := range labels {
		files := rows[l]
		sort.Strings(files)
		if len(files) > perLabel {
			files = files[:perLabel]
		}
		if len(files) < 2 {
			t.Fatalf("label %s has %d captures in %s, want 2 or more", l, len(files), dir)
		}
		for i, f := range files {
			split := "train"
			if i == len(files)-1 {
				split = "test"
			}
			name := strings.ReplaceAll(f, "/", "__")
			if split == "test" {
				test[name] = true
			}
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, split, l, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return test
}

// sharedPcaps finds ../shared/pcaps beside the repository, or under $LENS_SHARED.
func sharedPcaps(t *testing.T) string {
	t.Helper()
	d := os.Getenv("LENS_SHARED")
	if d == "" {
		d, _ = filepath.Abs("../../shared")
	}
	d = filepath.Join(d, "pcaps")
	if _, err := os.Stat(filepath.Join(d, "MANIFEST.tsv")); err != nil {
		t.Skipf("%s not found (a fresh clone has no ../shared): set LENS_SHARED to run this test on more real captures; TestOwnCapturesFixedSplit/testdata runs on the copies in testdata/owndata", d)
	}
	return d
}

// checkFixedOwnCorpus ingests root as dataset "Mine" and checks the fixed
// split end to end: registry, splits file, seeds, audit, and that the flows
// of test captures are in the test split only.
func checkFixedOwnCorpus(t *testing.T, root, out string, labels []string, test map[string]bool) {
	t.Helper()
	in, err := ExpandInputs([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	m, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, Dataset: "Mine", CodeVersion: "test",
		Warn: func(err error) { warned = append(warned, err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Errors) != 0 || len(warned) != 0 {
		t.Fatalf("ingest errors %v, warnings %v", m.Errors, warned)
	}
	c, err := OpenCorpus(out)
	if err != nil {
		t.Fatal(err)
	}
	// The corpus's own registry: dataset Mine, one task whose labels are the folders.
	reg, err := OpenRegistry(c, "")
	if err != nil {
		t.Fatal(err)
	}
	task, err := reg.Task(1)
	if err != nil || task.Dataset != "Mine" || strings.Join(task.Labels, ",") != strings.Join(labels, ",") {
		t.Fatalf("registry task 1 = %+v (%v), want dataset Mine with labels %v", task, err, labels)
	}
	if len(reg.Datasets) != 1 || reg.Datasets[0].Context != "It is Mine network traffic data" {
		t.Fatalf("registry datasets %+v", reg.Datasets)
	}
	// Ingest recorded the fixed split; every seed gets it.
	s1, err := LoadSplits(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := LoadSplits(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !s1.Fixed || s1.Hash() != s2.Hash() || s1.FileName() != FixedSplitsName {
		t.Fatalf("fixed %v, seed 1 split %s, seed 2 split %s, file %s", s1.Fixed, s1.Hash(), s2.Hash(), s1.FileName())
	}
	a, err := RunAudit(c, reg, s1)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Leaks) != 0 || a.GroupBy != GroupByCapture {
		t.Fatalf("audit of the given split: leaks %v, by %s", a.Leaks, a.GroupBy)
	}
	// The flows of test captures are in the test split and nowhere else;
	// the others train.
	var nTest, nTrain int
	idx := 0
	err = c.Flows(func(f *Flow) error {
		i := idx
		idx++
		isTest := test[filepath.Base(f.Capture)]
		if !strings.HasPrefix(f.Capture, "test/") && !strings.HasPrefix(f.Capture, "train/") {
			t.Errorf("flow %d: capture name %q is not relative to the root", i, f.Capture)
		}
		if isTest != strings.HasPrefix(f.Capture, "test/") {
			t.Errorf("flow %d of %s: in the test folder %v", i, f.Capture, !isTest)
		}
		switch {
		case isTest && (s1.Assign[i] != SplitTest || s1.In(i, SplitPretrain) || s1.In(i, SplitTrain)):
			t.Errorf("flow %d of test capture %s is in %q", i, f.Capture, s1.Assign[i])
		case !isTest && s1.Assign[i] != SplitTrain:
			t.Errorf("flow %d of training capture %s is in %q", i, f.Capture, s1.Assign[i])
		}
		if isTest {
			nTest++
		} else {
			nTrain++
		}
		if want := "Mine/" + strings.Split(f.Capture, "/")[1]; f.Label != want {
			t.Errorf("flow %d of %s labelled %q, want %q", i, f.Capture, f.Label, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if nTest == 0 || nTrain == 0 || s1.Counts["Mine/test"] != nTest || s1.Counts["Mine/train"] != nTrain {
		t.Fatalf("test flows %d, train flows %d; split counts %v", nTest, nTrain, s1.Counts)
	}

	// Pretraining on the training flows, declared: the audit allows it and
	// still fails on a test flow moved into training.
	sp, err := Split(c, reg, SplitConfig{Seed: 9, Pretrain: PretrainTrain})
	if err != nil {
		t.Fatal(err)
	}
	a, err = RunAudit(c, reg, sp)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Leaks) != 0 || len(a.Declared) == 0 || sp.Counts["Mine/pretrain"] != nTrain || sp.Hash() == s1.Hash() {
		t.Fatalf("declared overlap: leaks %v, declared %v, counts %v", a.Leaks, a.Declared, sp.Counts)
	}
	for i, as := range sp.Assign {
		if as == SplitTest {
			sp.Assign[i] = SplitTrain
			break
		}
	}
	a, err = RunAudit(c, reg, sp)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Leaks) == 0 || !strings.Contains(strings.Join(a.Leaks, "\n"), "flows of test captures in train") {
		t.Fatalf("a test flow in training (and pretraining) was not caught: %v", a.Leaks)
	}
}

// TestOwnCapturesFixedSplit runs a folder tree ROOT/{train,test}/<label>/
// of real captures, split by capture, through ingest --dataset, the fixed
// split and the audit: on the copies in testdata/owndata (always) and on
// more captures from ../shared/pcaps (when present).
func TestOwnCapturesFixedSplit(t *testing.T) {
	t.Run("testdata", func(t *testing.T) {
		dir := t.TempDir()
		labels := []string{"dns", "mqtt"}
		test := labelledTree(t, "testdata/owndata", filepath.Join(dir, "root"), labels, 2)
		checkFixedOwnCorpus(t, filepath.Join(dir, "root"), filepath.Join(dir, "corpus"), labels, test)
	})
	t.Run("shared", func(t *testing.T) {
		pcaps := sharedPcaps(t)
		dir := t.TempDir()
		labels := []string{"dns", "mqtt", "quic", "ssh"}
		test := labelledTree(t, pcaps, filepath.Join(dir, "root"), labels, 3)
		checkFixedOwnCorpus(t, filepath.Join(dir, "root"), filepath.Join(dir, "corpus"), labels, test)
	})
}

// ownTree writes root/<class>/<i>.pcap captures of distinct TCP flows.
func ownTree(t *testing.T, root string, classes []string, perClass int, port0 uint16) {
	t.Helper()
	for ci, cl := range classes {
		if err := os.MkdirAll(filepath.Join(root, cl), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perClass; i++ {
			var pkts []pkt
			for j := 0; j < 3; j++ { // three flows per capture
				pkts = append(pkts, handshake("10.0.0.1", "10.0.0.9", port0+uint16(ci*1000+i*10+j), uint16(20+ci), time.Duration(j)*time.Second)...)
			}
			writeCapture(t, filepath.Join(root, cl, string(rune('a'+i))+".pcap"), pkts)
		}
	}
}

func TestSplitUnknownLabelIsAnError(t *testing.T) {
	dir := t.TempDir()
	ownTree(t, filepath.Join(dir, "root"), []string{"chat", "mail"}, 2, 3000)
	in, err := ExpandInputs([]string{filepath.Join(dir, "root")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: filepath.Join(dir, "c"), CodeVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(filepath.Join(dir, "c"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Split(c, registry.Default(), SplitConfig{Seed: 1})
	if err == nil || !strings.Contains(err.Error(), "12 flows have labels the registry does not know") ||
		!strings.Contains(err.Error(), "flow 0 (capture chat/a.pcap)") || !strings.Contains(err.Error(), "--dataset") {
		t.Fatalf("want an error naming the first flows and the way out, got %v", err)
	}
	// A missing split for a seed is an error that says how to make it.
	_, err = LoadSplits(c, 2)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "lens split --seed 2 ") {
		t.Fatalf("missing splits-seed2.json: %v", err)
	}
}

func TestOwnRegistryTaskPerLevel(t *testing.T) {
	reg, b, err := OwnRegistry("Lab", map[string]int64{"Lab/vpn/chat": 3, "Lab/vpn/mail": 2, "Lab/plain/chat": 4, "Other/x": 1})
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := reg.Task(1)
	t2, _ := reg.Task(2)
	if len(reg.Tasks) != 2 || strings.Join(t1.Labels, ",") != "plain,vpn" || strings.Join(t2.Labels, ",") != "chat,mail" {
		t.Fatalf("tasks %+v", reg.Tasks)
	}
	d, cl, err := reg.Resolve("Lab/vpn/mail")
	if err != nil || d.Name != "Lab" {
		t.Fatal(err)
	}
	if l1, _ := cl.Label(1); l1 != "vpn" {
		t.Errorf("class vpn/mail task 1 label %q", l1)
	}
	if l2, _ := cl.Label(2); l2 != "mail" || cl.Weight != 2 {
		t.Errorf("class vpn/mail task 2 label %q weight %v", l2, cl.Weight)
	}
	if _, _, err := reg.Resolve("Other/x"); err == nil {
		t.Error("a label of another dataset became a class")
	}
	// The JSON is the registry, editable and loadable.
	var back registry.Registry
	if err := json.Unmarshal(b, &back); err != nil || len(back.Datasets[0].Classes) != 3 {
		t.Fatalf("registry JSON: %v, %+v", err, back.Datasets)
	}
	// A level with one folder name classifies nothing.
	reg, _, err = OwnRegistry("Lab", map[string]int64{"Lab/apps/a": 1, "Lab/apps/b": 1})
	if err != nil || len(reg.Tasks) != 1 || strings.Join(reg.Tasks[0].Labels, ",") != "a,b" {
		t.Fatalf("one-name level: %v, %+v", err, reg.Tasks)
	}
	if _, _, err := OwnRegistry("a/b", nil); err == nil {
		t.Error("a dataset name with a slash was taken")
	}
}

func TestTestCapturesPretrainAndGroupBy(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	ownTree(t, root, []string{"chat", "mail"}, 4, 3000)
	// unlabelled captures lie directly in the root; more in another folder
	writeCapture(t, filepath.Join(root, "loose.pcap"), handshake("10.0.0.2", "10.0.0.9", 7000, 99, 0))
	ownTree(t, filepath.Join(dir, "extra"), []string{"chat"}, 1, 9000)
	in, err := ExpandInputs([]string{root, filepath.Join(dir, "extra")})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "c")
	if _, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, Dataset: "Lab", CodeVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(out)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := OpenRegistry(c, "")
	if err != nil {
		t.Fatal(err)
	}
	captureOf := map[int]string{}
	idx := 0
	c.Flows(func(f *Flow) error { captureOf[idx] = f.Capture; idx++; return nil })

	// --test-captures fixes the split by capture name.
	s, err := Split(c, reg, SplitConfig{TestCaptures: "d.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range s.Assign {
		name := captureOf[i]
		want := SplitTrain
		switch {
		case strings.HasSuffix(name, "/d.pcap"):
			want = SplitTest
		case strings.HasSuffix(name, "loose.pcap"):
			want = SplitUnused
		}
		if a != want {
			t.Errorf("flow %d of %s in %q, want %q", i, name, a, want)
		}
	}
	if !s.Fixed || s.Config.GroupBy != GroupByCapture {
		t.Fatalf("fixed %v group by %q", s.Fixed, s.Config.GroupBy)
	}
	if err := s.Save(out); err != nil {
		t.Fatal(err)
	}
	if a, _ := RunAudit(c, reg, s); len(a.Leaks) != 0 {
		t.Fatalf("audit: %v", a.Leaks)
	}
	// A fixed split is not drawn again; removing it allows a random split.
	if _, err := Split(c, reg, SplitConfig{Seed: 2}); err == nil || !strings.Contains(err.Error(), FixedSplitsName) {
		t.Fatalf("random split over a fixed one: %v", err)
	}
	os.Remove(filepath.Join(out, FixedSplitsName))
	if _, err := Split(c, reg, SplitConfig{TestCaptures: "nothing*"}); err == nil {
		t.Fatal("a glob matching no capture was taken")
	}

	// Random split by capture: no capture in two splits; unlabelled flows pretrain.
	s, err = Split(c, reg, SplitConfig{Seed: 3, GroupBy: GroupByCapture, Pretrain: PretrainUnlabelled})
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]map[string]bool{}
	for i, a := range s.Assign {
		if where[captureOf[i]] == nil {
			where[captureOf[i]] = map[string]bool{}
		}
		where[captureOf[i]][a] = true
		if strings.HasSuffix(captureOf[i], "loose.pcap") != (a == SplitPretrain) {
			t.Errorf("flow %d of %s in %q", i, captureOf[i], a)
		}
	}
	for name, sp := range where {
		if len(sp) != 1 {
			t.Errorf("capture %s in splits %v", name, sp)
		}
	}
	if a, _ := RunAudit(c, reg, s); len(a.Leaks) != 0 || a.GroupBy != GroupByCapture {
		t.Fatalf("audit: %v by %s", a.Leaks, a.GroupBy)
	}

	// --pretrain DIR: the captures ingested from that folder pretrain, and nothing else does.
	s, err = Split(c, reg, SplitConfig{Seed: 3, Pretrain: filepath.Join(dir, "extra")})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range s.Assign {
		if strings.HasPrefix(captureOf[i], "extra/") != (a == SplitPretrain) {
			t.Errorf("flow %d of %s in %q", i, captureOf[i], a)
		}
	}
	if _, err := Split(c, reg, SplitConfig{Pretrain: filepath.Join(dir, "nowhere")}); err == nil {
		t.Fatal("a pretraining folder that was not ingested was taken")
	}
	if _, err := Split(c, reg, SplitConfig{GroupBy: "packet"}); err == nil {
		t.Fatal("an unknown grouping was taken")
	}
}

func TestCaptureNamesUniqueAcrossRoots(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []string{"a/data", "b/data"} {
		ownTree(t, filepath.Join(dir, r), []string{"chat"}, 1, 3000)
	}
	in, err := ExpandInputs([]string{filepath.Join(dir, "a/data"), filepath.Join(dir, "b/data")})
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 2 || in[0].Name != "a/data/chat/a.pcap" || in[1].Name != "b/data/chat/a.pcap" || in[0].Label != "chat" {
		t.Fatalf("inputs %+v", in)
	}
	in, _ = ExpandInputs([]string{filepath.Join(dir, "a/data")})
	if in[0].Name != "chat/a.pcap" {
		t.Fatalf("one root: name %q, want it relative to the root", in[0].Name)
	}
	if _, err := ExpandInputs([]string{filepath.Join(dir, "a/data"), filepath.Join(dir, "a/data/")}); err == nil {
		t.Fatal("a root given twice was taken")
	}
	// A fixed layout must hold only split folders.
	os.MkdirAll(filepath.Join(dir, "mixed", "train", "chat"), 0o755)
	os.MkdirAll(filepath.Join(dir, "mixed", "chat"), 0o755)
	if _, err := ExpandInputs([]string{filepath.Join(dir, "mixed")}); err == nil || !strings.Contains(err.Error(), "chat") {
		t.Fatalf("train/ beside a class folder: %v", err)
	}
}

func TestIdleTimeoutOffKeepsOneFlow(t *testing.T) {
	dir := t.TempDir()
	// One TCP conversation with a 20-minute silence in the middle.
	pkts := handshake("10.0.0.1", "10.0.0.9", 4000, 443, 0)
	pkts = append(pkts, pkt{src: "10.0.0.1", dst: "10.0.0.9", sport: 4000, dport: 443, flags: "PA", seq: 126, ack: 501, payload: "later", at: 20 * time.Minute})
	writeCapture(t, filepath.Join(dir, "one.pcap"), pkts)
	count := func(idle time.Duration, out string) (int64, string) {
		in, _ := ExpandInputs([]string{filepath.Join(dir, "one.pcap")})
		m, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: filepath.Join(dir, out), Flows: FlowTableConfig{IdleTimeout: idle}, CodeVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return m.Flows, m.FlowTable.IdleTimeout
	}
	if n, rec := count(0, "default"); n != 2 || rec != "5m0s" {
		t.Errorf("default idle timeout: %d flows, recorded %q; want 2 and 5m0s", n, rec)
	}
	if n, rec := count(NoIdleTimeout, "none"); n != 1 || rec != "none" {
		t.Errorf("no idle timeout: %d flows, recorded %q; want 1 and none", n, rec)
	}
}

func TestFlowJSONKeepsGivenSplits(t *testing.T) {
	dir := t.TempDir()
	row := func(label string, port int) string {
		text := "<SIP> → <DIP> TCP 60 " + strconv.Itoa(port) + " → 443 [SYN] Seq=0 Win=29200 Len=0"
		return `{"text": ` + jsonString(text) + `, "label1": "x", "label3": "` + label + `"}`
	}
	for split, port := range map[string]int{"train": 1000, "test": 2000} {
		var rows []string
		for i, l := range []string{"chat", "mail", "chat", "mail"} {
			rows = append(rows, row(l, port+i))
		}
		os.WriteFile(filepath.Join(dir, "ISCX-VPN_"+split+"_flow.json"), []byte("["+strings.Join(rows, ",\n")+"]"), 0o644)
	}
	lens := `{"anonymized_text": "<SIP> → <DIP> UDP 80 5353 → 53 1234 abcd", "label": "chat"}` + "\n"
	os.WriteFile(filepath.Join(dir, "task_test.jsonl"), []byte(lens), 0o644)
	in, err := ExpandInputs([]string{filepath.Join(dir, "ISCX-VPN_test_flow.json"), filepath.Join(dir, "ISCX-VPN_train_flow.json"), filepath.Join(dir, "task_test.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "c")
	if _, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, Dataset: "VPN", CodeVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	c, _ := OpenCorpus(out)
	s, err := LoadSplits(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	idx := 0
	c.Flows(func(f *Flow) error {
		got = append(got, f.Label+" "+s.Assign[idx])
		idx++
		return nil
	})
	want := "VPN/chat test,VPN/mail test,VPN/chat test,VPN/mail test,VPN/chat train,VPN/mail train,VPN/chat train,VPN/mail train,VPN/chat test"
	if strings.Join(got, ",") != want {
		t.Fatalf("labels and splits\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	reg, _ := OpenRegistry(c, "")
	if a, err := RunAudit(c, reg, s); err != nil || len(a.Leaks) != 0 {
		t.Fatalf("audit: %v %v", err, a.Leaks)
	}
}
