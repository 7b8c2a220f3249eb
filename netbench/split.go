package netbench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lens-go/lens/netbench/registry"
)

// Split names.
const (
	SplitPretrain = "pretrain"
	SplitTrain    = "train" // finetuning training
	SplitVal      = "val"   // validation, kept when the input gives one
	SplitTest     = "test"
	SplitUnused   = "" // not used (beyond the finetuning size)
)

// Groupings: flows of one group always share a split (SplitConfig.GroupBy).
const (
	GroupByTuple   = "5tuple"  // flows sharing a 5-tuple (the paper's)
	GroupByCapture = "capture" // flows of one capture file
)

// Pretraining choices besides a folder (SplitConfig.Pretrain).
const (
	PretrainTrain      = "train"      // the training flows themselves: a declared overlap
	PretrainUnlabelled = "unlabelled" // the flows without a label
)

// SplitConfig sets how a corpus is split.
type SplitConfig struct {
	Seed uint64
	// FinetuneFlows is the paper's "around 10k flows" per dataset: the
	// finetuning training set is the larger of this and the dataset's Table 10
	// share, capped by what is left after pretraining and test.
	FinetuneFlows int
	// TestShare is the share of the flows left after pretraining that is held
	// out for testing (stratified by class); 0 means 0.25.
	TestShare float64
	// GroupBy is GroupByTuple (the default) or GroupByCapture. A fixed
	// split keeps whole captures and is always by capture.
	GroupBy string
	// TestCaptures, a glob (path.Match) over capture names, fixes the split:
	// the captures it matches are the test split, every other labelled flow
	// is training. A corpus whose input gives its split cannot take one.
	TestCaptures string
	// Pretrain chooses the pretraining flows: "" the registry's share of
	// each dataset (a random split) or the input's pretrain/ folder (a fixed
	// one); PretrainTrain the training flows, declared as an overlap;
	// PretrainUnlabelled the unlabelled flows outside test and training
	// captures; anything else a folder of captures ingested into the corpus.
	Pretrain string
}

// Splits assigns every flow of a corpus (by its index in corpus order) to a
// split. It names the corpus by content hash so it cannot be applied to
// other data.
type Splits struct {
	CorpusHash string      `json:"corpus_hash"`
	Seed       uint64      `json:"seed"`
	Config     SplitConfig `json:"config"`
	// Fixed marks a split the data or the user gave (train/ and test/
	// folders, flow file names, TestCaptures) rather than one drawn at
	// random: it is saved as FixedSplitsName and used for every seed.
	Fixed   bool   `json:"fixed,omitempty"`
	GivenBy string `json:"given_by,omitempty"` // what fixed it
	// PretrainReuses names the split whose flows are pretraining flows too
	// (SplitTrain under PretrainTrain): an overlap the user declared, which
	// the audit allows. Use In to ask whether a flow is in a split.
	PretrainReuses string            `json:"pretrain_reuses,omitempty"`
	Assign         []string          `json:"assign"` // per flow: pretrain, train, val, test or ""
	Dataset        []string          `json:"dataset"`
	Class          []string          `json:"class"`
	Unlabelled     int               `json:"unlabelled"` // flows without a label
	Counts         map[string]int    `json:"counts"`     // "dataset/split" -> flows
	Skipped        []string          `json:"skipped,omitempty"`
	ByClass        map[string][3]int `json:"by_class"` // "dataset/class" -> pretrain, train, test
}

// In reports whether flow i is in split sp: assigned to it, or, for
// pretraining, in the split that pretraining declares it reuses.
func (s *Splits) In(i int, sp string) bool {
	if i < 0 || i >= len(s.Assign) {
		return false
	}
	a := s.Assign[i]
	if a == sp {
		return a != SplitUnused
	}
	return sp == SplitPretrain && s.PretrainReuses != "" && a == s.PretrainReuses
}

// flowMeta is what splitting needs of a flow.
type flowMeta struct {
	idx     int
	dataset *registry.Dataset
	class   *registry.Class // nil for an unlabelled flow
	key     string          // its group
	src     int             // its source in the manifest, -1 if unknown
}

// groupKey names the group a flow belongs to. Flows rendered elsewhere (flow
// JSON rows) carry no 5-tuple and no capture: each row is its own group.
func groupKey(f *Flow, m *Manifest, src int, by string) string {
	if by == GroupByCapture {
		if src >= 0 && !IsTextDataName(m.Sources[src].Path) {
			return "capture " + m.Sources[src].name()
		}
		return "row " + f.Capture
	}
	if !f.Src.IsValid() {
		return "row " + f.Capture
	}
	return f.Tuple()
}

// matchCapture reports whether glob matches source src: its name, its path
// as given to ingest, or (for a glob without a slash) its base name.
func matchCapture(glob string, src *Source) bool {
	for _, n := range []string{src.name(), filepath.ToSlash(src.Path)} {
		if ok, _ := path.Match(glob, n); ok {
			return true
		}
	}
	if !strings.Contains(glob, "/") {
		ok, _ := path.Match(glob, path.Base(src.name()))
		return ok
	}
	return false
}

// underDir reports whether source src was ingested from folder dir.
func underDir(dir string, src *Source) bool {
	if abs, err := filepath.Abs(dir); err == nil {
		if p, err := filepath.Abs(src.Path); err == nil {
			if rel, err := filepath.Rel(abs, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				return true
			}
		}
	}
	d := strings.Trim(filepath.ToSlash(filepath.Clean(dir)), "/")
	return strings.HasPrefix(src.name(), d+"/")
}

// Split assigns the flows of c to pretraining, finetuning train and test.
//
// A corpus whose input gives splits (train/ and test/ folders, flow file
// names) keeps them, and cfg.TestCaptures fixes the test split by capture:
// such splits are Fixed, the same for every seed. Otherwise the split is
// drawn: per dataset, groups of flows (flows sharing a 5-tuple, or a
// capture, so that train and test share none) are sampled for pretraining
// at the dataset's Table 10 share stratified by coarse category only, then
// the rest is split into test and train stratified by class. Same corpus,
// same seed, same split, on any machine.
//
// A flow whose label the registry does not know is an error that names it.
func Split(c *Corpus, reg *registry.Registry, cfg SplitConfig) (*Splits, error) {
	if cfg.FinetuneFlows <= 0 {
		cfg.FinetuneFlows = 10000
	}
	if cfg.TestShare <= 0 {
		cfg.TestShare = 0.25
	}
	m := &c.Manifest
	given := m.givenSplits()
	fixed := given || cfg.TestCaptures != ""
	switch {
	case cfg.GroupBy != "" && cfg.GroupBy != GroupByTuple && cfg.GroupBy != GroupByCapture:
		return nil, fmt.Errorf("group by %q: want %s or %s", cfg.GroupBy, GroupByTuple, GroupByCapture)
	case given && cfg.TestCaptures != "":
		return nil, fmt.Errorf("%s: the input already gives the split (train/ and test/ folders or file names): --test-captures cannot change it", c.Dir)
	case fixed && cfg.GroupBy == GroupByTuple:
		return nil, fmt.Errorf("%s: a fixed split keeps whole captures together (group by capture); --group-by 5tuple applies to random splits", c.Dir)
	case fixed:
		cfg.GroupBy = GroupByCapture
	case cfg.GroupBy == "":
		cfg.GroupBy = GroupByTuple
	}
	if !fixed {
		if _, err := os.Stat(filepath.Join(c.Dir, FixedSplitsName)); err == nil {
			return nil, fmt.Errorf("%s: has a fixed split (%s, made with --test-captures), which every seed uses: remove that file to draw a random split", c.Dir, FixedSplitsName)
		}
	}
	// Captures chosen by name: the test captures and a pretraining folder.
	srcTest := make([]bool, len(m.Sources))
	srcPre := make([]bool, len(m.Sources))
	if cfg.TestCaptures != "" {
		if _, err := path.Match(cfg.TestCaptures, ""); err != nil {
			return nil, fmt.Errorf("--test-captures %q: %w", cfg.TestCaptures, err)
		}
		n := 0
		for i := range m.Sources {
			if srcTest[i] = matchCapture(cfg.TestCaptures, &m.Sources[i]); srcTest[i] {
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("--test-captures %q matches none of the corpus's %d captures (names like %q)", cfg.TestCaptures, len(m.Sources), firstName(m))
		}
	}
	preDir := cfg.Pretrain != "" && cfg.Pretrain != PretrainTrain && cfg.Pretrain != PretrainUnlabelled
	if preDir {
		n := 0
		for i := range m.Sources {
			if srcPre[i] = underDir(cfg.Pretrain, &m.Sources[i]); srcPre[i] {
				n++
				if srcTest[i] || m.Sources[i].Split == SplitTest || m.Sources[i].Split == SplitVal {
					return nil, fmt.Errorf("--pretrain %s: holds %s, a %s capture", cfg.Pretrain, m.Sources[i].name(), SplitTest)
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("--pretrain %s: no capture of the corpus was ingested from that folder (names like %q); want train, unlabelled or such a folder", cfg.Pretrain, firstName(m))
		}
	}

	s := &Splits{CorpusHash: m.ContentHash, Seed: cfg.Seed, Config: cfg, Fixed: fixed, Counts: map[string]int{}, ByClass: map[string][3]int{}}
	if fixed {
		s.Seed = 0
		s.GivenBy = "the input's train/ and test/ folders and file names"
		if !given {
			s.GivenBy = "--test-captures " + cfg.TestCaptures
		}
	}
	if cfg.Pretrain == PretrainTrain {
		s.PretrainReuses = SplitTrain
	}
	var ownDataset *registry.Dataset
	if m.Dataset != "" {
		ownDataset, _ = reg.Dataset(m.Dataset)
	}
	var metas []flowMeta
	var unknown []string
	nUnknown := 0
	cur := newSourceCursor(m)
	idx := 0
	err := c.Flows(func(f *Flow) error {
		i := idx
		idx++
		src := cur.next()
		s.Assign = append(s.Assign, SplitUnused)
		fm := flowMeta{idx: i, src: src, key: groupKey(f, m, src, cfg.GroupBy)}
		if f.Label == "" {
			s.Unlabelled++
			fm.dataset = ownDataset
		} else {
			d, cl, err := reg.Resolve(f.Label)
			if err != nil {
				nUnknown++
				if len(unknown) < 3 {
					unknown = append(unknown, fmt.Sprintf("flow %d (capture %s): %v", i, f.Capture, err))
				}
			}
			fm.dataset, fm.class = d, cl
		}
		ds, cl := "", ""
		if fm.dataset != nil {
			ds = fm.dataset.Name
		}
		if fm.class != nil {
			cl = fm.class.Name
		}
		s.Dataset = append(s.Dataset, ds)
		s.Class = append(s.Class, cl)
		metas = append(metas, fm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if nUnknown > 0 {
		more := ""
		if nUnknown > len(unknown) {
			more = fmt.Sprintf("; and %d more", nUnknown-len(unknown))
		}
		return nil, fmt.Errorf("%s: %d flows have labels the registry does not know: %s%s (labels are DATASET/CLASS names of the registry: ingest with --dataset NAME to make the corpus's own registry from its folders, or give --registry FILE)",
			c.Dir, nUnknown, strings.Join(unknown, "; "), more)
	}

	srcGiven := func(src int) string {
		if src < 0 {
			return ""
		}
		if srcTest[src] {
			return SplitTest
		}
		return m.Sources[src].Split
	}
	// Folder-chosen pretraining first: those captures are nothing else.
	for _, fm := range metas {
		if fm.src >= 0 && srcPre[fm.src] && fm.dataset != nil {
			s.Assign[fm.idx] = SplitPretrain
		}
	}
	if fixed {
		for _, fm := range metas {
			if fm.src >= 0 && srcPre[fm.src] {
				continue
			}
			sp := srcGiven(fm.src)
			if !given && sp == "" {
				sp = SplitTrain // --test-captures: every other capture trains
			}
			switch {
			case fm.dataset == nil:
			case fm.class != nil:
				s.Assign[fm.idx] = sp
			case sp == SplitPretrain: // unlabelled flows of the pretrain/ folder
				s.Assign[fm.idx] = sp
			}
		}
	} else {
		byDataset := map[string][]flowMeta{}
		for _, fm := range metas {
			if fm.class != nil && !(fm.src >= 0 && srcPre[fm.src]) {
				byDataset[fm.dataset.Name] = append(byDataset[fm.dataset.Name], fm)
			}
		}
		names := make([]string, 0, len(byDataset))
		for n := range byDataset {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			share := byDataset[name][0].dataset.Pretrain
			if cfg.Pretrain != "" {
				share = 0 // pretraining is what --pretrain names
			}
			splitDataset(s, byDataset[name], cfg, share)
		}
	}
	if cfg.Pretrain == PretrainUnlabelled {
		// Unlabelled flows pretrain unless their group (5-tuple or
		// capture) or their capture holds a finetuning or test flow.
		blocked := map[string]bool{}
		for _, fm := range metas {
			if a := s.Assign[fm.idx]; a != SplitUnused && a != SplitPretrain {
				blocked[fm.key] = true
			}
		}
		n := 0
		for _, fm := range metas {
			g := srcGiven(fm.src)
			if fm.class != nil || fm.dataset == nil || s.Assign[fm.idx] != SplitUnused || blocked[fm.key] || g == SplitTest || g == SplitVal {
				continue
			}
			s.Assign[fm.idx] = SplitPretrain
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("--pretrain unlabelled: %s has no unlabelled flow outside test and training captures", c.Dir)
		}
	}
	idle := 0
	for i := range s.Assign {
		if s.Class[i] == "" && s.Assign[i] == SplitUnused {
			idle++
		}
		if s.Dataset[i] == "" {
			continue
		}
		s.Counts[s.Dataset[i]+"/"+s.Assign[i]]++
		if s.PretrainReuses != "" && s.Assign[i] == s.PretrainReuses {
			s.Counts[s.Dataset[i]+"/"+SplitPretrain]++
		}
		if s.Class[i] == "" {
			continue
		}
		k := s.Dataset[i] + "/" + s.Class[i]
		v := s.ByClass[k]
		for j, sp := range []string{SplitPretrain, SplitTrain, SplitTest} {
			if s.In(i, sp) {
				v[j]++
			}
		}
		s.ByClass[k] = v
	}
	if idle > 0 {
		s.Skipped = append(s.Skipped, fmt.Sprintf("%d unlabelled flows are in no split (--pretrain unlabelled makes them pretraining flows when the corpus has a dataset of its own)", idle))
	}
	return s, nil
}

func firstName(m *Manifest) string {
	if len(m.Sources) == 0 {
		return ""
	}
	return m.Sources[0].name()
}

// group is the flows of one 5-tuple (or capture) within one dataset.
type group struct {
	key     string
	stratum string
	flows   []int
}

func groupsOf(metas []flowMeta, stratum func(flowMeta) string) []*group {
	m := map[string]*group{}
	var out []*group
	for _, fm := range metas {
		g := m[fm.key]
		if g == nil {
			g = &group{key: fm.key, stratum: stratum(fm)}
			m[fm.key] = g
			out = append(out, g)
		}
		g.flows = append(g.flows, fm.idx)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// takeStratified picks, within each stratum, groups until share of its
// flows are taken; it returns the picked and the left groups.
func takeStratified(groups []*group, share float64, r *rand.Rand) (picked, left []*group) {
	strata := map[string][]*group{}
	var keys []string
	for _, g := range groups {
		if _, ok := strata[g.stratum]; !ok {
			keys = append(keys, g.stratum)
		}
		strata[g.stratum] = append(strata[g.stratum], g)
	}
	sort.Strings(keys)
	for _, k := range keys {
		gs := strata[k]
		r.Shuffle(len(gs), func(i, j int) { gs[i], gs[j] = gs[j], gs[i] })
		total := 0
		for _, g := range gs {
			total += len(g.flows)
		}
		want := int(math.Round(share * float64(total)))
		n := 0
		for _, g := range gs {
			if n < want {
				picked = append(picked, g)
				n += len(g.flows)
			} else {
				left = append(left, g)
			}
		}
	}
	return picked, left
}

func splitDataset(s *Splits, metas []flowMeta, cfg SplitConfig, pretrain float64) {
	d := metas[0].dataset
	r := rand.New(rand.NewPCG(cfg.Seed, hashString(d.Name)))
	assign := func(gs []*group, split string) int {
		n := 0
		for _, g := range gs {
			for _, i := range g.flows {
				s.Assign[i] = split
				n++
			}
		}
		return n
	}
	groups := groupsOf(metas, func(fm flowMeta) string { return fm.class.Coarse })
	rest := groups
	if pretrain > 0 {
		var pre []*group
		pre, rest = takeStratified(groups, pretrain, r)
		assign(pre, SplitPretrain)
	}
	// Re-stratify the rest by the finest class for test and train.
	for _, g := range rest {
		g.stratum = s.Class[g.flows[0]]
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].key < rest[j].key })
	test, train := takeStratified(rest, cfg.TestShare, r)
	assign(test, SplitTest)
	want := int(math.Round(d.Finetune * float64(len(metas))))
	if want < cfg.FinetuneFlows {
		want = cfg.FinetuneFlows
	}
	trainFlows := 0
	for _, g := range train {
		trainFlows += len(g.flows)
	}
	if want < trainFlows {
		train, _ = takeStratified(train, float64(want)/float64(trainFlows), r)
	}
	assign(train, SplitTrain)
}

func hashString(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	var v uint64
	for _, b := range h[:8] {
		v = v<<8 | uint64(b)
	}
	return v
}

// SplitsName is the file a corpus's random splits for a seed are saved under.
func SplitsName(seed uint64) string { return "splits-seed" + strconv.FormatUint(seed, 10) + ".json" }

// FixedSplitsName is the file a corpus's fixed split is saved under: every
// seed uses it.
const FixedSplitsName = "splits-fixed.json"

// FileName is the file the splits are saved under in the corpus folder.
func (s *Splits) FileName() string {
	if s.Fixed {
		return FixedSplitsName
	}
	return SplitsName(s.Seed)
}

// Save writes the splits into the corpus directory.
func (s *Splits) Save(dir string) error {
	return writeJSONAtomic(filepath.Join(dir, s.FileName()), s)
}

// LoadSplits reads the splits of a corpus and checks that they belong to
// it: its fixed split when it has one (whatever the seed: a seed varies
// initialisation and sampling, never a fixed split), else the random split
// of the seed. A missing file is an error (wrapping os.ErrNotExist) that
// says how to make it: a split is never drawn on the fly, so a new seed
// cannot move test flows into training unnoticed.
func LoadSplits(c *Corpus, seed uint64) (*Splits, error) {
	s, err := readSplits(c, FixedSplitsName)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	if c.Manifest.givenSplits() {
		return nil, missingSplits(fmt.Sprintf("%s: the input gives this corpus a fixed split, not recorded yet: record it with 'lens split %s' (with --registry FILE if the labels are not in the built-in registry)",
			filepath.Join(c.Dir, FixedSplitsName), c.Dir))
	}
	s, err = readSplits(c, SplitsName(seed))
	if errors.Is(err, os.ErrNotExist) {
		return nil, missingSplits(fmt.Sprintf("%s: no split for seed %d: make it with 'lens split --seed %d %s' (a seed never draws a split on its own)",
			filepath.Join(c.Dir, SplitsName(seed)), seed, seed, c.Dir))
	}
	return s, err
}

// missingSplits is the error of a splits file that does not exist: it says
// how to make it and is os.ErrNotExist for errors.Is.
type missingSplits string

func (e missingSplits) Error() string        { return string(e) }
func (e missingSplits) Is(target error) bool { return target == os.ErrNotExist }

func readSplits(c *Corpus, name string) (*Splits, error) {
	path := filepath.Join(c.Dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Splits
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.CorpusHash != c.Manifest.ContentHash {
		return nil, fmt.Errorf("%s: made for corpus %s, this corpus is %s", path, short(s.CorpusHash), short(c.Manifest.ContentHash))
	}
	return &s, nil
}

// Hash names the split assignment (for run identities), with the declared
// pretraining overlap when there is one.
func (s *Splits) Hash() string {
	h := sha256.New()
	for _, a := range s.Assign {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	if s.PretrainReuses != "" {
		h.Write([]byte("pretrain reuses " + s.PretrainReuses))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
