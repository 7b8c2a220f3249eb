package netbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/dissect"
)

// Skip reasons counted in a manifest (text rows add the SkipRow* reasons).
const (
	SkipNonIP             = "frame without IP (no flow)"
	SkipUnreadableCapture = "unreadable capture"
	SkipCorruptRecord     = "corrupt record (rest of capture)"
	SkipUnreadableText    = "unreadable text file"
)

// Input is one capture to ingest and its class label ("" when unlabelled).
type Input struct {
	Path  string
	Label string
	// Name is how flows name their capture: the path relative to the
	// folder that was walked, or the base name of a file named directly, so
	// that a corpus's content hash does not depend on where its inputs lie.
	// With several inputs, each name starts with as much of its input's
	// path as makes it unique among them (ExpandInputs).
	Name string
	// Split is the split the input gives the capture: the train/, test/,
	// val/ or pretrain/ folder it lies in, or the split named in a flow JSON
	// file's name ("<dataset>_<split>_flow.json"); "" when none.
	Split string
}

// captureExts are the file name endings taken when walking a folder.
var captureExts = []string{".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"}

// IsCaptureName reports whether a file name looks like a capture.
func IsCaptureName(name string) bool {
	n := strings.ToLower(name)
	for _, e := range captureExts {
		if strings.HasSuffix(n, e) {
			return true
		}
	}
	return false
}

// splitFolders are the folder names of a fixed split layout,
// ROOT/{train,test}/<class>/ with optional val/ and pretrain/.
var splitFolders = map[string]string{"train": SplitTrain, "test": SplitTest, "val": SplitVal, "pretrain": SplitPretrain}

// splitLayout reports whether folder root holds a fixed split layout: a
// train/ or test/ subfolder. Then every entry of root must be one of the
// split folders.
func splitLayout(root string) (bool, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return false, err
	}
	layout := false
	var other []string
	for _, e := range ents {
		sp, ok := splitFolders[e.Name()]
		if e.IsDir() && ok && (sp == SplitTrain || sp == SplitTest) {
			layout = true
		}
		if !e.IsDir() && !(IsCaptureName(e.Name()) || IsTextDataName(e.Name())) {
			continue // README, MANIFEST.tsv, ...: not data
		}
		if !ok || !e.IsDir() {
			other = append(other, e.Name())
		}
	}
	if layout && len(other) > 0 {
		return false, fmt.Errorf("%s: holds train/ or test/ beside %s: a fixed split layout holds only the folders train, test, val and pretrain, each with a folder per class", root, strings.Join(other, ", "))
	}
	return layout, nil
}

// textSplit is the split a flow JSON file's name gives
// ("ISCX-VPN_test_flow.json", "task3_train.jsonl"), or "".
func textSplit(path string) string {
	base := strings.ToLower(filepath.Base(path))
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".jsonl"), ".json")
	found := ""
	for _, tok := range strings.FieldsFunc(base, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		sp := ""
		switch tok {
		case "train":
			sp = SplitTrain
		case "test":
			sp = SplitTest
		case "val", "valid", "validation":
			sp = SplitVal
		}
		if sp != "" {
			if found != "" && found != sp {
				return "" // "train_test.json": no single split
			}
			found = sp
		}
	}
	return found
}

// inputPrefixes returns, for each input path, what names of its captures
// start with: nothing for a single folder (names relative to it) or the
// base name of a single file; with several inputs, the shortest tail of
// each input's absolute path that no other input shares, so that captures
// with the same relative name under two roots get different names.
func inputPrefixes(paths []string) ([]string, error) {
	out := make([]string, len(paths))
	if len(paths) == 1 {
		if st, err := os.Stat(paths[0]); err == nil && !st.IsDir() {
			out[0] = filepath.Base(paths[0])
		}
		return out, nil
	}
	parts := make([][]string, len(paths))
	seen := map[string]string{}
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if q, dup := seen[abs]; dup {
			return nil, fmt.Errorf("input %s is given twice (as %s and %s)", abs, q, p)
		}
		seen[abs] = p
		parts[i] = strings.Split(strings.Trim(filepath.ToSlash(abs), "/"), "/")
	}
	tail := func(i, k int) string {
		ps := parts[i]
		if k > len(ps) {
			k = len(ps)
		}
		return strings.Join(ps[len(ps)-k:], "/")
	}
	k := make([]int, len(paths))
	for i := range k {
		k[i] = 1
	}
	for {
		count := map[string]int{}
		for i := range paths {
			count[tail(i, k[i])]++
		}
		grew := false
		for i := range paths {
			if count[tail(i, k[i])] > 1 && k[i] < len(parts[i]) {
				k[i]++
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	for i := range paths {
		out[i] = tail(i, k[i])
	}
	return out, nil
}

// ExpandInputs turns files and folders into inputs, sorted by path within
// each folder. A file named directly is taken as is; a folder is walked for
// captures, and a capture in a subfolder is labelled with the subfolder's
// path relative to the root (root/<label>/x.pcap, or root/<dataset>/<class>/x.pcap
// as `lens synth` writes them: label "<dataset>/<class>"). A folder holding
// train/ and test/ (and optionally val/ and pretrain/) is a fixed split
// layout: root/train/<label>/x.pcap is labelled <label> and given the
// train split. Capture names are unique across all the inputs.
//
// Every path must exist: if any does not, ExpandInputs returns one error
// naming all that are missing, before any work, since a batch with a
// misspelt path would otherwise give a smaller corpus than asked for.
func ExpandInputs(paths []string) ([]Input, error) {
	var missing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", p, unwrapPathError(err)))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%d of %d inputs cannot be read, nothing ingested: %s", len(missing), len(paths), strings.Join(missing, ", "))
	}
	prefixes, err := inputPrefixes(paths)
	if err != nil {
		return nil, err
	}
	var in []Input
	for pi, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			in = append(in, Input{Path: p, Name: prefixes[pi], Split: splitOfText(p)})
			continue
		}
		layout, err := splitLayout(p)
		if err != nil {
			return nil, err
		}
		var found []Input
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(IsCaptureName(d.Name()) || IsTextDataName(d.Name())) {
				return nil
			}
			rel, _ := filepath.Rel(p, path)
			rel = filepath.ToSlash(rel)
			dirs := strings.Split(rel, "/")
			dirs = dirs[:len(dirs)-1]
			split := ""
			if layout {
				if len(dirs) == 0 {
					return fmt.Errorf("%s: lies directly in %s, which holds train/ and test/: move it into one of the split folders", path, p)
				}
				split, dirs = splitFolders[dirs[0]], dirs[1:]
			}
			if split == "" {
				split = splitOfText(path)
			}
			name := rel
			if prefixes[pi] != "" {
				name = prefixes[pi] + "/" + rel
			}
			found = append(found, Input{Path: path, Label: strings.Join(dirs, "/"), Name: name, Split: split})
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Slice(found, func(i, j int) bool { return found[i].Path < found[j].Path })
		in = append(in, found...)
	}
	return in, nil
}

// splitOfText is textSplit for flow JSON files and "" for captures.
func splitOfText(path string) string {
	if IsTextDataName(path) {
		return textSplit(path)
	}
	return ""
}

// IngestConfig configures Ingest.
type IngestConfig struct {
	Inputs     []Input
	Out        string // corpus directory to create
	Workers    int    // captures dissected at once; 0 means GOMAXPROCS
	ShardFlows int    // flows per shard; 0 means 10000
	Flows      FlowTableConfig
	// Dataset, when set, makes a corpus of one's own captures: every label
	// L becomes "Dataset/L", and the corpus gets its own registry (a task
	// per folder level) in RegistryName, which later commands read.
	Dataset     string
	CodeVersion string
	// Progress, if set, is called about twice a second and once at the end.
	Progress func(IngestStats)
	// Warn, if set, receives each skipped capture or corrupt record.
	Warn func(error)
}

// IngestStats are running totals of an ingest.
type IngestStats struct {
	Captures, CapturesDone int
	Frames, Flows          int64
	Skipped                map[string]int
	Elapsed                time.Duration
}

// captureResult carries one capture's flows to the writer in input order.
type captureResult struct {
	flows  chan *Flow
	frames int64
	skip   map[string]int
	err    error
	done   chan struct{}
}

// Ingest dissects every input, groups frames into flows and writes a corpus.
// Captures are dissected in parallel; flows are written in input order, so
// the same inputs always give the same content hash. A capture that cannot
// be read is skipped and counted; a corrupt record ends that capture (its
// flows so far are kept) and is counted; a rejected text row is counted by
// reason; the batch goes on. If no input gives a flow (every input failed,
// or none held an IP packet or a good row), Ingest writes no corpus and
// returns an error wrapping ErrEmptyCorpus that says why.
func Ingest(ctx context.Context, cfg IngestConfig) (*Manifest, error) {
	if err := checkDatasetName(cfg.Dataset); err != nil {
		return nil, err
	}
	w, err := NewCorpusWriter(cfg.Out, cfg.ShardFlows)
	if err != nil {
		return nil, err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	results := make([]*captureResult, len(cfg.Inputs))
	for i := range results {
		results[i] = &captureResult{flows: make(chan *Flow, 512), skip: map[string]int{}, done: make(chan struct{})}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Workers take captures in order; at most `workers` run at once and a
	// worker blocks when its capture's flow buffer is full, which bounds memory.
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	go func() {
		for i, in := range cfg.Inputs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, r := range results[i:] {
					close(r.flows)
					close(r.done)
				}
				return
			}
			wg.Add(1)
			go func(in Input, r *captureResult) {
				defer wg.Done()
				defer func() { <-sem }()
				ingestCapture(ctx, in, cfg.Flows, cfg.Dataset, r)
			}(in, results[i])
		}
	}()

	m := w.Manifest()
	m.Captures = len(cfg.Inputs)
	m.Dataset = cfg.Dataset
	m.FlowTable = recordFlowTable(cfg.Flows)
	m.Labels = map[string]int64{}
	var stats IngestStats
	stats.Captures = len(cfg.Inputs)
	stats.Skipped = m.Skipped
	lastProgress := time.Now()
	report := func(force bool) {
		if cfg.Progress != nil && (force || time.Since(lastProgress) > 500*time.Millisecond) {
			lastProgress = time.Now()
			stats.Elapsed = time.Since(start)
			cfg.Progress(stats)
		}
	}
	var firstErr error
	for i, r := range results {
		var n int64
		for f := range r.flows {
			if firstErr != nil {
				continue // drain
			}
			if err := w.Write(f); err != nil {
				firstErr = err
				cancel()
				continue
			}
			n++
			if f.Label != "" {
				m.Labels[f.Label]++
			}
			stats.Flows++
			report(false)
		}
		<-r.done
		in := cfg.Inputs[i]
		src := Source{Path: in.Path, Name: in.Name, Label: withDataset(cfg.Dataset, in.Label), Split: in.Split, Frames: r.frames, Flows: n}
		if r.err != nil {
			src.Error = r.err.Error()
			if len(m.Errors) < MaxErrorsKept {
				m.Errors = append(m.Errors, r.err.Error())
			}
			if cfg.Warn != nil {
				cfg.Warn(r.err)
			}
		}
		for k, v := range r.skip {
			m.Skipped[k] += v
		}
		m.Sources = append(m.Sources, src)
		m.Frames += r.frames
		stats.Frames += r.frames
		stats.CapturesDone++
		report(false)
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil && m.Flows == 0 {
		firstErr = emptyCorpusError(m)
	}
	if firstErr != nil {
		w.Abort()
		return nil, firstErr
	}
	if err := w.Close(cfg.CodeVersion); err != nil {
		return nil, err
	}
	report(true)
	return m, finishCorpus(cfg, m)
}

// ErrEmptyCorpus is returned (wrapped) by Ingest when its inputs give no
// flow: it writes no corpus then.
var ErrEmptyCorpus = errors.New("no flows")

// emptyCorpusError says why an ingest gave no flow.
func emptyCorpusError(m *Manifest) error {
	var failed []string
	for _, s := range m.Sources {
		if s.Error != "" {
			failed = append(failed, s.Error)
		}
	}
	var why string
	switch {
	case len(m.Sources) > 0 && len(failed) == len(m.Sources):
		why = fmt.Sprintf("every input failed (%d of %d); first: %s", len(failed), len(m.Sources), failed[0])
	default:
		var parts []string
		for _, k := range sortedReasons(m.Skipped) {
			parts = append(parts, fmt.Sprintf("%s %d", k, m.Skipped[k]))
		}
		why = fmt.Sprintf("%d %s, %d frames or rows, none made a flow", len(m.Sources), plural(len(m.Sources), "input"), m.Frames)
		if len(parts) > 0 {
			why += " (skipped: " + strings.Join(parts, ", ") + ")"
		}
		if len(failed) > 0 {
			why += "; first error: " + failed[0]
		}
	}
	return fmt.Errorf("%w: %s; no corpus written", ErrEmptyCorpus, why)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func ingestCapture(ctx context.Context, in Input, ftc FlowTableConfig, dataset string, r *captureResult) {
	defer close(r.done)
	defer close(r.flows)
	if IsTextDataName(in.Path) {
		ingestText(ctx, in, dataset, r)
		return
	}
	rd, err := capture.Open(in.Path)
	if err != nil {
		r.err = err
		r.skip[SkipUnreadableCapture]++
		return
	}
	defer rd.Close()
	emit := func(f *Flow) error {
		select {
		case r.flows <- f:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	name := in.Name
	if name == "" {
		name = in.Path
	}
	ft := NewFlowTable(ftc, name, withDataset(dataset, in.Label), emit)
	d := dissect.New(dissect.Config{})
	var (
		fr capture.Frame
		p  dissect.Packet
	)
	for {
		err := rd.Next(&fr)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = err
				r.skip[SkipCorruptRecord]++
			}
			break
		}
		r.frames++
		d.Dissect(&fr, &p)
		if p.Skip && !p.HasIP {
			r.skip[p.SkipReason]++
			continue
		}
		if !p.HasIP {
			r.skip[SkipNonIP]++
			continue
		}
		if err := ft.Add(&p, fr.Time); err != nil {
			return
		}
	}
	ft.Close()
}

// ingestText imports flows already rendered as text; a row's own label wins
// over the folder's. Under a dataset of one's own, a row's label becomes a
// class of that dataset (a NetBench file's dataset name gives way to it).
// Rows name their capture after the input's unique name and their line.
// Rejected rows are counted by reason; the first few are named in the
// capture's error.
func ingestText(ctx context.Context, in Input, dataset string, r *captureResult) {
	var first []string
	fileDataset := datasetFromName(in.Path)
	res, err := ImportText(in.Path, in.Label, func(f *Flow) error {
		if dataset != "" && fileDataset != "" {
			f.Label = strings.TrimPrefix(f.Label, fileDataset+"/")
		}
		f.Label = withDataset(dataset, f.Label)
		if i := strings.LastIndexByte(f.Capture, ':'); i >= 0 && in.Name != "" {
			f.Capture = in.Name + f.Capture[i:] // "<file>:<line>" with the unique name
		}
		select {
		case r.flows <- f:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, func(e *RowError) {
		if len(first) < 3 {
			first = append(first, e.Error())
		}
	})
	r.frames = int64(res.Rows + res.Rejected())
	for k, v := range res.Skipped {
		r.skip[k] += v
	}
	if err != nil && res.Rows == 0 && res.Rejected() == 0 {
		r.skip[SkipUnreadableText]++
	}
	if n := res.Rejected(); n > 0 {
		msg := fmt.Sprintf("%s: %d of %d rows rejected, first: %s", in.Path, n, n+res.Rows, strings.Join(first, "; "))
		if err != nil {
			err = fmt.Errorf("%v; %s", err, msg)
		} else {
			err = errors.New(msg)
		}
	}
	r.err = err
}

// Summary formats the final ingest summary.
func (m *Manifest) Summary() string {
	var b strings.Builder
	var failed int
	for _, s := range m.Sources {
		if s.Error != "" {
			failed++
		}
	}
	fmt.Fprintf(&b, "captures %d (with errors %d), frames %d, flows %d, shards %d, content hash %s\n",
		m.Captures, failed, m.Frames, m.Flows, len(m.Shards), short(m.ContentHash))
	fmt.Fprintf(&b, "  flow idle timeout %s\n", m.FlowTable.IdleTimeout)
	if m.Dataset != "" {
		fmt.Fprintf(&b, "  dataset %s: %d classes, registry %s (editable)\n", m.Dataset, len(m.Labels), RegistryName)
	}
	if m.givenSplits() {
		given := map[string]int64{}
		for _, s := range m.Sources {
			given[s.Split] += s.Flows
		}
		fmt.Fprintf(&b, "  fixed split given by the input: train %d, val %d, test %d, pretrain %d, none %d flows\n",
			given[SplitTrain], given[SplitVal], given[SplitTest], given[SplitPretrain], given[""])
	}
	for _, k := range sortedReasons(m.Skipped) {
		fmt.Fprintf(&b, "  skipped %-40s %d\n", k+":", m.Skipped[k])
	}
	return b.String()
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
