// Package registry describes, as data, the datasets, classes, classification
// tasks and generation fields of the Lens paper (Tables 4, 10 and 11, Figure 4,
// Appendix C.1). The data lives in registry.json (written by
// tools/gen_registry.py); this package loads and checks it and answers
// questions about it. A user's registry file can replace the built-in one.
package registry

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

//go:embed registry.json
var builtin []byte

// Class is one fine-grained class of a dataset: the finest split of its
// captures (a folder of captures per class). Labels maps a task id to this
// class's label in that task; a class without a label for a task is not part
// of that task.
type Class struct {
	Name        string            `json:"name"`
	Coarse      string            `json:"coarse"` // dataset-level category used to stratify pretraining
	Weight      float64           `json:"weight"` // relative frequency (synthetic data's imbalance)
	Labels      map[string]string `json:"labels"`
	Placeholder bool              `json:"placeholder,omitempty"` // a name the paper does not give
}

// Dataset is one of the seven datasets.
type Dataset struct {
	Name     string  `json:"name"`
	GenName  string  `json:"gen_name"` // name used in generation prompts
	Context  string  `json:"context"`  // pretraining context sentence
	Pretrain float64 `json:"pretrain"` // share of flows sampled for pretraining (Table 10)
	Finetune float64 `json:"finetune"` // share of flows used for finetuning (Table 10)
	Classes  []Class `json:"classes"`
	byName   map[string]*Class
}

// Task is a classification task of Table 11.
type Task struct {
	ID          int      `json:"id"`
	Dataset     string   `json:"dataset"`
	Description string   `json:"description"`
	Traffic     string   `json:"traffic"` // "<traffic> network traffic" in the task context
	Labels      []string `json:"labels"`
	Extension   []string `json:"extension,omitempty"` // new classes of the extension scenarios (Appendix C.1)
}

// Field is a header field of the generation tasks.
type Field struct {
	Name string `json:"name"` // as in the prompt: "source ip"
	Key  string `json:"key"`
}

// Generation describes the header-field generation tasks.
type Generation struct {
	Prompt   string   `json:"prompt"`
	Fields   []Field  `json:"fields"`
	Datasets []string `json:"datasets"`
}

// Registry is the whole description.
type Registry struct {
	Datasets    []Dataset  `json:"datasets"`
	Tasks       []Task     `json:"tasks"`
	Generation  Generation `json:"generation"`
	TaskContext string     `json:"task_context"`

	byDataset map[string]*Dataset
	byTask    map[int]*Task
}

// Default returns the built-in registry of the paper.
func Default() *Registry {
	r, err := Parse(builtin, "registry.json (built in)")
	if err != nil {
		panic(err) // the built-in file is checked by the tests
	}
	return r
}

// Load reads a registry file.
func Load(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path)
}

// Parse decodes and checks a registry; name is used in errors.
func Parse(b []byte, name string) (*Registry, error) {
	var r Registry
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := r.index(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &r, nil
}

func (r *Registry) index() error {
	r.byDataset = map[string]*Dataset{}
	r.byTask = map[int]*Task{}
	for i := range r.Datasets {
		d := &r.Datasets[i]
		if _, dup := r.byDataset[d.Name]; dup {
			return fmt.Errorf("dataset %q listed twice", d.Name)
		}
		r.byDataset[d.Name] = d
		d.byName = map[string]*Class{}
		for j := range d.Classes {
			c := &d.Classes[j]
			if _, dup := d.byName[c.Name]; dup {
				return fmt.Errorf("dataset %s: class %q listed twice", d.Name, c.Name)
			}
			d.byName[c.Name] = c
		}
	}
	for i := range r.Tasks {
		t := &r.Tasks[i]
		if _, dup := r.byTask[t.ID]; dup {
			return fmt.Errorf("task %d listed twice", t.ID)
		}
		r.byTask[t.ID] = t
		d := r.byDataset[t.Dataset]
		if d == nil {
			return fmt.Errorf("task %d: unknown dataset %q", t.ID, t.Dataset)
		}
		labels := map[string]bool{}
		for _, l := range t.Labels {
			if labels[l] {
				return fmt.Errorf("task %d: label %q listed twice", t.ID, l)
			}
			labels[l] = true
		}
		used := map[string]bool{}
		key := strconv.Itoa(t.ID)
		for _, c := range d.Classes {
			if l, ok := c.Labels[key]; ok {
				if !labels[l] {
					return fmt.Errorf("task %d: class %s/%s has label %q, not one of the task's labels", t.ID, d.Name, c.Name, l)
				}
				used[l] = true
			}
		}
		for _, l := range t.Labels {
			if !used[l] {
				return fmt.Errorf("task %d: label %q has no class in %s", t.ID, l, d.Name)
			}
		}
		for _, l := range t.Extension {
			if !labels[l] {
				return fmt.Errorf("task %d: extension class %q is not a label", t.ID, l)
			}
		}
	}
	return nil
}

// Dataset returns the dataset named name.
func (r *Registry) Dataset(name string) (*Dataset, error) {
	if d := r.byDataset[name]; d != nil {
		return d, nil
	}
	names := make([]string, 0, len(r.Datasets))
	for _, d := range r.Datasets {
		names = append(names, d.Name)
	}
	return nil, fmt.Errorf("unknown dataset %q (have %s)", name, strings.Join(names, ", "))
}

// Task returns task id.
func (r *Registry) Task(id int) (*Task, error) {
	if t := r.byTask[id]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("unknown task %d (have 1 to %d)", id, len(r.Tasks))
}

// Class returns the class named name of dataset d.
func (d *Dataset) Class(name string) (*Class, error) {
	if c := d.byName[name]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("dataset %s has no class %q", d.Name, name)
}

// Resolve maps a corpus label "DATASET/CLASS" to its dataset and class.
func (r *Registry) Resolve(label string) (*Dataset, *Class, error) {
	ds, cl, ok := strings.Cut(label, "/")
	if !ok {
		return nil, nil, fmt.Errorf("label %q is not DATASET/CLASS", label)
	}
	d, err := r.Dataset(ds)
	if err != nil {
		return nil, nil, err
	}
	c, err := d.Class(cl)
	if err != nil {
		return nil, nil, err
	}
	return d, c, nil
}

// Label returns class c's label in task id, if it has one.
func (c *Class) Label(task int) (string, bool) {
	l, ok := c.Labels[strconv.Itoa(task)]
	return l, ok
}

// Context returns the task context listing labels (Figure 4):
// "In aim email ..., the VPN network traffic belong to:".
func (r *Registry) Context(t *Task, labels []string) string {
	s := strings.ReplaceAll(r.TaskContext, "{labels}", strings.Join(labels, " "))
	return strings.ReplaceAll(s, "{traffic}", t.Traffic)
}

// ContextWithoutLabels is the `w/o FT-Context` ablation's context (Table 8).
func (r *Registry) ContextWithoutLabels(t *Task) string {
	return "The " + t.Traffic + " network traffic belong to:"
}

// Prompt returns the generation prompt for field f of dataset d:
// "Generate source ip for the USTC-TFC2016 network traffic:".
func (r *Registry) Prompt(f Field, d *Dataset) string {
	s := strings.ReplaceAll(r.Generation.Prompt, "{field}", f.Name)
	return strings.ReplaceAll(s, "{dataset}", d.GenName)
}

// FineLabels returns every label string of every task that is not also a
// coarse, dataset-level category (vpn/nonvpn, benign/malicious, ...), sorted:
// the labels pretraining must never see.
func (r *Registry) FineLabels() []string {
	coarse := map[string]bool{}
	for _, d := range r.Datasets {
		for _, c := range d.Classes {
			coarse[strings.ToLower(c.Coarse)] = true
		}
	}
	set := map[string]bool{}
	for _, t := range r.Tasks {
		for _, l := range t.Labels {
			if !coarse[strings.ToLower(l)] {
				set[l] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
