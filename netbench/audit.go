package netbench

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/lens-go/lens/netbench/registry"
)

// Audit is the result of checking a corpus's splits for leakage.
type Audit struct {
	Flows         int
	FlowOverlaps  int            // flows assigned to more than one split (never, by construction)
	TupleOverlaps map[string]int // "pretrain/test" -> 5-tuples found in both
	TextOverlaps  map[string]int // identical flow texts found in both
	// CaptureOverlaps counts captures with flows in both splits; a leak
	// when the split is by capture.
	CaptureOverlaps map[string]int
	ContextLeaks    []string       // pretraining contexts that name a fine label
	TextLabelHits   map[string]int // fine label strings seen in pretraining packet text (traffic's own words, e.g. DNS names): reported, not a leak
	ClassCounts     map[string][3]int
	GroupBy         string   // what the split keeps together: GroupByTuple or GroupByCapture
	Declared        []string // overlaps the user declared (pretraining on the training flows): not leaks
	Notes           []string // findings that are not leaks
	Leaks           []string // everything that makes the audit fail
	UnknownLabels   int
}

// notWordByte splits text into words of letters, digits, '.', '-' and '_'
// (label strings such as "com.ifeng.news2" and "web-based" stay whole).
func notWordByte(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
}

// PretrainContext is the context appended after <sep> to a pretraining flow
// of dataset d: dataset-level, never a task label.
func PretrainContext(d *registry.Dataset) string { return d.Context }

// auditSplits are the splits an audit compares, in the order of its bits.
var auditSplits = []string{SplitPretrain, SplitTrain, SplitVal, SplitTest}

// RunAudit checks splits s of corpus c against registry reg: no flow,
// identical text, or group (5-tuple, or capture when the split is by
// capture) shared between pretraining, train, validation and test, except
// the pretraining overlap with training that the user declared; the flows
// of a fixed split's test captures in no other split; no fine label in any
// pretraining context; class counts per split.
func RunAudit(c *Corpus, reg *registry.Registry, s *Splits) (*Audit, error) {
	a := &Audit{TupleOverlaps: map[string]int{}, TextOverlaps: map[string]int{}, CaptureOverlaps: map[string]int{}, TextLabelHits: map[string]int{},
		ClassCounts: s.ByClass, UnknownLabels: s.Unlabelled, GroupBy: s.Config.GroupBy}
	if a.GroupBy == "" {
		a.GroupBy = GroupByTuple
	}
	m := &c.Manifest
	tuples := map[string]uint8{} // 5-tuple -> bits of auditSplits
	texts := map[[32]byte]uint8{}
	captures := map[string]uint8{}
	labels := reg.FineLabels()
	words := map[string]bool{}
	for _, l := range labels {
		if len(l) >= 4 { // short labels ("us", "yy", "aim") are ordinary substrings
			words[strings.ToLower(l)] = true
		}
	}
	// flows of test (or validation) captures found in another split
	type misplacedFlows struct {
		what, first string
		n           int
	}
	var misplaced []*misplacedFlows
	byWhat := map[string]*misplacedFlows{}
	cur := newSourceCursor(m)
	idx := 0
	err := c.Flows(func(f *Flow) error {
		i := idx
		idx++
		src := cur.next()
		a.Flows++
		if i >= len(s.Assign) {
			return fmt.Errorf("splits cover %d flows, the corpus has more", len(s.Assign))
		}
		var bits uint8
		for b, sp := range auditSplits {
			if s.In(i, sp) {
				bits |= 1 << b
			}
		}
		if s.Fixed && src >= 0 {
			given := m.Sources[src].Split
			if s.Config.TestCaptures != "" && matchCapture(s.Config.TestCaptures, &m.Sources[src]) {
				given = SplitTest
			}
			if given == SplitTest || given == SplitVal {
				for b, sp := range auditSplits {
					if bits&(1<<b) != 0 && sp != given {
						k := fmt.Sprintf("flows of %s captures in %s", given, sp)
						mf := byWhat[k]
						if mf == nil {
							mf = &misplacedFlows{what: k, first: fmt.Sprintf("flow %d of %s", i, m.Sources[src].name())}
							byWhat[k] = mf
							misplaced = append(misplaced, mf)
						}
						mf.n++
					}
				}
			}
		}
		if bits == 0 {
			return nil
		}
		if f.Src.IsValid() {
			tuples[f.Tuple()] |= bits
		}
		text := f.String()
		texts[sha256.Sum256([]byte(text))] |= bits
		captures[groupKey(f, m, src, GroupByCapture)] |= bits
		if s.In(i, SplitPretrain) && len(words) > 0 {
			for _, w := range strings.FieldsFunc(strings.ToLower(text), notWordByte) {
				if words[w] {
					a.TextLabelHits[w]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, mf := range misplaced {
		a.Leaks = append(a.Leaks, fmt.Sprintf("%d %s (first: %s)", mf.n, mf.what, mf.first))
	}
	declared := func(x, y string) bool {
		return x == SplitPretrain && s.PretrainReuses == y || y == SplitPretrain && s.PretrainReuses == x
	}
	for _, bits := range tuples {
		countPairs(bits, a.TupleOverlaps)
	}
	for _, bits := range captures {
		countPairs(bits, a.CaptureOverlaps)
	}
	for _, bits := range texts {
		countPairs(bits, a.TextOverlaps)
	}
	for x := 0; x < len(auditSplits); x++ {
		for y := x + 1; y < len(auditSplits); y++ {
			sx, sy := auditSplits[x], auditSplits[y]
			pair := sx + "/" + sy
			for _, o := range []struct {
				n    int
				what string
				leak bool
			}{
				{a.TupleOverlaps[pair], "5-tuples", a.GroupBy == GroupByTuple},
				{a.CaptureOverlaps[pair], "captures", a.GroupBy == GroupByCapture},
				{a.TextOverlaps[pair], "identical flow texts", true},
			} {
				switch {
				case o.n == 0:
				case declared(sx, sy):
					a.Declared = append(a.Declared, fmt.Sprintf("%d %s shared by %s and %s: pretraining reuses the %s flows, as declared (--pretrain %s)", o.n, o.what, sx, sy, s.PretrainReuses, s.PretrainReuses))
				case o.leak:
					a.Leaks = append(a.Leaks, fmt.Sprintf("%d %s shared by %s and %s", o.n, o.what, sx, sy))
				default:
					a.Notes = append(a.Notes, fmt.Sprintf("%d %s recur in %s and %s (allowed: the split is by %s)", o.n, o.what, sx, sy, a.GroupBy))
				}
			}
		}
	}
	for _, d := range reg.Datasets {
		if d.Pretrain == 0 {
			continue
		}
		ctx := " " + strings.ToLower(PretrainContext(&d)) + " "
		for _, l := range labels {
			if strings.Contains(ctx, " "+strings.ToLower(l)+" ") {
				msg := fmt.Sprintf("pretraining context of %s (%q) names the fine label %q", d.Name, d.Context, l)
				a.ContextLeaks = append(a.ContextLeaks, msg)
				a.Leaks = append(a.Leaks, msg)
			}
		}
	}
	if a.Flows != len(s.Assign) {
		a.Leaks = append(a.Leaks, fmt.Sprintf("splits cover %d flows, the corpus has %d", len(s.Assign), a.Flows))
	}
	return a, nil
}

// countPairs adds one to out["x/y"] for every pair of splits in bits.
func countPairs(bits uint8, out map[string]int) {
	for x := 0; x < len(auditSplits); x++ {
		for y := x + 1; y < len(auditSplits); y++ {
			if bits&(1<<x) != 0 && bits&(1<<y) != 0 {
				out[auditSplits[x]+"/"+auditSplits[y]]++
			}
		}
	}
}
