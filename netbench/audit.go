package netbench

import (
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
	ContextLeaks  []string       // pretraining contexts that name a fine label
	TextLabelHits map[string]int // fine label strings seen in pretraining packet text (traffic's own words, e.g. DNS names): reported, not a leak
	ClassCounts   map[string][3]int
	Leaks         []string // everything that makes the audit fail
	UnknownLabels int
}

// notWordByte splits text into words of letters, digits, '.', '-' and '_'
// (label strings such as "com.ifeng.news2" and "web-based" stay whole).
func notWordByte(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
}

// PretrainContext is the context appended after <sep> to a pretraining flow
// of dataset d: dataset-level, never a task label.
func PretrainContext(d *registry.Dataset) string { return d.Context }

// RunAudit checks splits s of corpus c against registry reg: no flow, 5-tuple
// or identical text shared between pretraining, train and test; no fine label
// in any pretraining context; class counts per split.
func RunAudit(c *Corpus, reg *registry.Registry, s *Splits) (*Audit, error) {
	a := &Audit{TupleOverlaps: map[string]int{}, TextOverlaps: map[string]int{}, TextLabelHits: map[string]int{}, ClassCounts: s.ByClass, UnknownLabels: s.Unlabelled}
	tuples := map[string]map[string]bool{} // tuple -> splits
	texts := map[string]map[string]bool{}
	labels := reg.FineLabels()
	words := map[string]bool{}
	for _, l := range labels {
		if len(l) >= 4 { // short labels ("us", "yy", "aim") are ordinary substrings
			words[strings.ToLower(l)] = true
		}
	}
	idx := 0
	err := c.Flows(func(f *Flow) error {
		i := idx
		idx++
		a.Flows++
		if i >= len(s.Assign) {
			return fmt.Errorf("splits cover %d flows, the corpus has more", len(s.Assign))
		}
		sp := s.Assign[i]
		if sp == SplitUnused {
			return nil
		}
		if tuples[f.Tuple()] == nil {
			tuples[f.Tuple()] = map[string]bool{}
		}
		tuples[f.Tuple()][sp] = true
		text := f.String()
		if texts[text] == nil {
			texts[text] = map[string]bool{}
		}
		texts[text][sp] = true
		if sp == SplitPretrain && len(words) > 0 {
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
	pairs := [][2]string{{SplitPretrain, SplitTrain}, {SplitPretrain, SplitTest}, {SplitTrain, SplitTest}}
	for _, m := range []struct {
		sets map[string]map[string]bool
		out  map[string]int
		what string
	}{{tuples, a.TupleOverlaps, "5-tuples"}, {texts, a.TextOverlaps, "identical flow texts"}} {
		for _, sp := range m.sets {
			for _, p := range pairs {
				if sp[p[0]] && sp[p[1]] {
					m.out[p[0]+"/"+p[1]]++
				}
			}
		}
		for _, p := range pairs {
			if n := m.out[p[0]+"/"+p[1]]; n > 0 {
				a.Leaks = append(a.Leaks, fmt.Sprintf("%d %s shared by %s and %s", n, m.what, p[0], p[1]))
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
