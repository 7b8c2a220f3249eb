package netbench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/lens-go/lens/netbench/registry"
)

// RegistryName is the file in a corpus folder that holds the corpus's own
// registry (written by lens ingest --dataset; editable): when present, every
// command that reads the corpus uses it instead of the built-in one.
const RegistryName = "registry.json"

// OpenRegistry returns the registry that describes corpus c, the one place
// every command gets it from: the registry file at path when one is given,
// else the corpus's own RegistryName file, else the built-in NetBench
// registry. c may be nil (no corpus: path or the built-in one).
func OpenRegistry(c *Corpus, path string) (*registry.Registry, error) {
	if path != "" {
		return registry.Load(path)
	}
	if c != nil {
		own := filepath.Join(c.Dir, RegistryName)
		r, err := registry.Load(own)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if c.Manifest.Dataset != "" {
			return nil, fmt.Errorf("%s: missing: the corpus's dataset %s is described there (lens ingest --dataset writes it)", own, c.Manifest.Dataset)
		}
	}
	return registry.Default(), nil
}

// checkDatasetName refuses dataset names that cannot be the first part of
// a "DATASET/CLASS" label.
func checkDatasetName(name string) error {
	if name == "" {
		return nil
	}
	if strings.TrimSpace(name) != name || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("dataset name %q: no slashes and no leading or trailing spaces", name)
	}
	return nil
}

// withDataset makes a folder label a class label of dataset (unchanged
// when there is no dataset or no label).
func withDataset(dataset, label string) string {
	if dataset == "" || label == "" {
		return label
	}
	return dataset + "/" + label
}

// OwnRegistry describes one dataset of one's own captures, name, whose
// classes are the labels seen ("name/<level1>/<level2>...", flows per
// label): each class is its folder path; each folder level with at least
// two names is a classification task whose labels are that level's folder
// names; the pretraining context is "It is <name> network traffic data".
// Shares are the paper's (60% of the flows for pretraining when a split is
// drawn at random). It returns the registry and its JSON, for the corpus's
// RegistryName file.
func OwnRegistry(name string, labels map[string]int64) (*registry.Registry, []byte, error) {
	if err := checkDatasetName(name); err != nil {
		return nil, nil, err
	}
	def := registry.Default()
	d := registry.Dataset{Name: name, GenName: name, Context: "It is " + name + " network traffic data", Pretrain: 0.6, Finetune: 0.4}
	var classes []string
	for l := range labels {
		if cl, ok := strings.CutPrefix(l, name+"/"); ok && cl != "" {
			classes = append(classes, cl)
		}
	}
	sort.Strings(classes)
	depth := 0
	levels := map[int]map[string]bool{}
	for _, cl := range classes {
		parts := strings.Split(cl, "/")
		depth = max(depth, len(parts))
		for i, p := range parts {
			if levels[i] == nil {
				levels[i] = map[string]bool{}
			}
			levels[i][p] = true
		}
	}
	r := registry.Registry{TaskContext: def.TaskContext, Generation: def.Generation}
	r.Generation.Datasets = []string{name}
	taskOfLevel := map[int]int{}
	for lv := 0; lv < depth; lv++ {
		if len(levels[lv]) < 2 {
			continue // one folder name at this level: nothing to classify
		}
		t := registry.Task{ID: len(r.Tasks) + 1, Dataset: name, Traffic: name,
			Description: fmt.Sprintf("%s: folder level %d (%d classes)", name, lv+1, len(levels[lv]))}
		for l := range levels[lv] {
			t.Labels = append(t.Labels, l)
		}
		sort.Strings(t.Labels)
		taskOfLevel[lv] = t.ID
		r.Tasks = append(r.Tasks, t)
	}
	for _, cl := range classes {
		c := registry.Class{Name: cl, Weight: float64(labels[name+"/"+cl]), Labels: map[string]string{}}
		for lv, p := range strings.Split(cl, "/") {
			if id, ok := taskOfLevel[lv]; ok {
				c.Labels[strconv.Itoa(id)] = p
			}
		}
		d.Classes = append(d.Classes, c)
	}
	r.Datasets = []registry.Dataset{d}
	b, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	b = append(b, '\n')
	reg, err := registry.Parse(b, "registry of dataset "+name)
	return reg, b, err
}

// finishCorpus completes a corpus that Ingest has written: the registry of
// a dataset of one's own, and the fixed split its inputs give. A given
// split that the registry cannot describe is reported, not recorded: the
// corpus stays, and 'lens split' records the split once labels resolve.
func finishCorpus(cfg IngestConfig, m *Manifest) error {
	if cfg.Dataset != "" {
		reg, b, err := OwnRegistry(cfg.Dataset, m.Labels)
		if err != nil {
			return err
		}
		if len(reg.Tasks) == 0 && cfg.Warn != nil {
			cfg.Warn(fmt.Errorf("dataset %s has fewer than two classes at every folder level: no classification task", cfg.Dataset))
		}
		if err := writeFileAtomic(filepath.Join(cfg.Out, RegistryName), b); err != nil {
			return err
		}
	}
	if !m.givenSplits() {
		return nil
	}
	c, err := OpenCorpus(cfg.Out)
	if err != nil {
		return err
	}
	reg, err := OpenRegistry(c, "")
	if err != nil {
		return err
	}
	s, err := Split(c, reg, SplitConfig{})
	if err != nil {
		if cfg.Warn != nil {
			cfg.Warn(fmt.Errorf("the split the input gives is not recorded yet: %w (record it with 'lens split [--registry FILE] %s')", err, cfg.Out))
		}
		return nil
	}
	return s.Save(cfg.Out)
}
