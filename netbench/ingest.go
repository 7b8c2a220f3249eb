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
	Name string
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

// ExpandInputs turns files and folders into inputs, sorted by path. A file
// named directly is taken as is; a folder is walked for captures, and a
// capture in a subfolder is labelled with the subfolder's path relative to
// the root (root/<label>/x.pcap, or root/<dataset>/<class>/x.pcap as
// `lens synth` writes them: label "<dataset>/<class>").
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
	var in []Input
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			in = append(in, Input{Path: p, Name: filepath.Base(p)})
			continue
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
			label := filepath.ToSlash(filepath.Dir(rel))
			if label == "." {
				label = ""
			}
			found = append(found, Input{Path: path, Label: label, Name: filepath.ToSlash(rel)})
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

// IngestConfig configures Ingest.
type IngestConfig struct {
	Inputs      []Input
	Out         string // corpus directory to create
	Workers     int    // captures dissected at once; 0 means GOMAXPROCS
	ShardFlows  int    // flows per shard; 0 means 10000
	Flows       FlowTableConfig
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
				ingestCapture(ctx, in, cfg.Flows, r)
			}(in, results[i])
		}
	}()

	m := w.Manifest()
	m.Captures = len(cfg.Inputs)
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
			stats.Flows++
			report(false)
		}
		<-r.done
		src := Source{Path: cfg.Inputs[i].Path, Label: cfg.Inputs[i].Label, Frames: r.frames, Flows: n}
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
	return m, nil
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

func ingestCapture(ctx context.Context, in Input, ftc FlowTableConfig, r *captureResult) {
	defer close(r.done)
	defer close(r.flows)
	if IsTextDataName(in.Path) {
		ingestText(ctx, in, r)
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
	ft := NewFlowTable(ftc, name, in.Label, emit)
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
// over the folder's. Rejected rows are counted by reason; the first few are
// named in the capture's error.
func ingestText(ctx context.Context, in Input, r *captureResult) {
	var first []string
	res, err := ImportText(in.Path, in.Label, func(f *Flow) error {
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
