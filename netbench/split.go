package netbench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/lens-go/lens/netbench/registry"
)

// Split names.
const (
	SplitPretrain = "pretrain"
	SplitTrain    = "train" // finetuning training
	SplitTest     = "test"
	SplitUnused   = "" // not used (beyond the finetuning size)
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
}

// Splits assigns every flow of a corpus (by its index in corpus order) to a
// split. It names the corpus by content hash so it cannot be applied to
// other data.
type Splits struct {
	CorpusHash string            `json:"corpus_hash"`
	Seed       uint64            `json:"seed"`
	Config     SplitConfig       `json:"config"`
	Assign     []string          `json:"assign"` // per flow: pretrain, train, test or ""
	Dataset    []string          `json:"dataset"`
	Class      []string          `json:"class"`
	Unlabelled int               `json:"unlabelled"` // flows whose label the registry does not know
	Counts     map[string]int    `json:"counts"`     // "dataset/split" -> flows
	Skipped    []string          `json:"skipped,omitempty"`
	ByClass    map[string][3]int `json:"by_class"` // "dataset/class" -> pretrain, train, test
}

// flowMeta is what splitting needs of a flow.
type flowMeta struct {
	idx     int
	dataset *registry.Dataset
	class   *registry.Class
	tuple   string
}

// Split assigns the flows of c to pretraining, finetuning train and test:
// per dataset, 5-tuple groups (flows sharing a 5-tuple stay together, so
// train and test share none) are sampled for pretraining at the dataset's
// Table 10 share stratified by coarse category only, then the rest is split
// into test and train stratified by class. Same corpus, same seed, same
// split, on any machine.
func Split(c *Corpus, reg *registry.Registry, cfg SplitConfig) (*Splits, error) {
	if cfg.FinetuneFlows <= 0 {
		cfg.FinetuneFlows = 10000
	}
	if cfg.TestShare <= 0 {
		cfg.TestShare = 0.25
	}
	s := &Splits{CorpusHash: c.Manifest.ContentHash, Seed: cfg.Seed, Config: cfg, Counts: map[string]int{}, ByClass: map[string][3]int{}}
	byDataset := map[string][]flowMeta{}
	idx := 0
	err := c.Flows(func(f *Flow) error {
		s.Assign = append(s.Assign, SplitUnused)
		d, cl, err := reg.Resolve(f.Label)
		if err != nil {
			s.Dataset = append(s.Dataset, "")
			s.Class = append(s.Class, "")
			s.Unlabelled++
			if len(s.Skipped) < MaxErrorsKept {
				s.Skipped = append(s.Skipped, fmt.Sprintf("flow %d (%s): %v", idx, f.Capture, err))
			}
			idx++
			return nil
		}
		s.Dataset = append(s.Dataset, d.Name)
		s.Class = append(s.Class, cl.Name)
		byDataset[d.Name] = append(byDataset[d.Name], flowMeta{idx: idx, dataset: d, class: cl, tuple: f.Tuple()})
		idx++
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(byDataset))
	for n := range byDataset {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		splitDataset(s, byDataset[name], cfg)
	}
	for i, a := range s.Assign {
		if s.Dataset[i] == "" {
			continue
		}
		s.Counts[s.Dataset[i]+"/"+a]++
		k := s.Dataset[i] + "/" + s.Class[i]
		v := s.ByClass[k]
		switch a {
		case SplitPretrain:
			v[0]++
		case SplitTrain:
			v[1]++
		case SplitTest:
			v[2]++
		}
		s.ByClass[k] = v
	}
	return s, nil
}

// group is the flows of one 5-tuple within one dataset.
type group struct {
	key     string
	stratum string
	flows   []int
}

func groupsOf(metas []flowMeta, stratum func(flowMeta) string) []*group {
	m := map[string]*group{}
	var out []*group
	for _, fm := range metas {
		g := m[fm.tuple]
		if g == nil {
			g = &group{key: fm.tuple, stratum: stratum(fm)}
			m[fm.tuple] = g
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

func splitDataset(s *Splits, metas []flowMeta, cfg SplitConfig) {
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
	if d.Pretrain > 0 {
		var pre []*group
		pre, rest = takeStratified(groups, d.Pretrain, r)
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

// SplitsName is the file a corpus's splits for a seed are saved under.
func SplitsName(seed uint64) string { return "splits-seed" + strconv.FormatUint(seed, 10) + ".json" }

// Save writes the splits into the corpus directory.
func (s *Splits) Save(dir string) error {
	return writeJSONAtomic(filepath.Join(dir, SplitsName(s.Seed)), s)
}

// LoadSplits reads the splits of a corpus for a seed and checks that they
// belong to this corpus.
func LoadSplits(c *Corpus, seed uint64) (*Splits, error) {
	path := filepath.Join(c.Dir, SplitsName(seed))
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

// Hash names the split assignment (for run identities).
func (s *Splits) Hash() string {
	h := sha256.New()
	for _, a := range s.Assign {
		h.Write([]byte(a))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
