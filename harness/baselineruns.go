package harness

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lens-go/lens/baselines"
	"github.com/lens-go/lens/harness/finetune"
	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/registry"
)

// BaselineExample turns a flow into a baseline's input: its first packets'
// bytes from the IP header on, and the sizes and directions of its packets.
func BaselineExample(f *netbench.Flow, label int) baselines.Example {
	ex := baselines.Example{Label: label}
	for i, b := range f.Raw {
		dir := 0
		if i < len(f.Headers) {
			dir = int(f.Headers[i].Dir)
		}
		ex.Packets = append(ex.Packets, baselines.Packet{Dir: dir, IP: b})
	}
	for _, h := range f.Headers {
		ex.Lengths = append(ex.Lengths, h.Len)
		ex.Dirs = append(ex.Dirs, int(h.Dir))
	}
	return ex
}

// BaselineData picks a corpus's flows for the baselines the way the Lens
// runs pick them (`lens baseline` uses it too).
type BaselineData struct {
	Corpus *netbench.Corpus
	Splits *netbench.Splits
	Reg    *registry.Registry
}

// TaskFlows returns a task's labelled flows of one split, restricted to
// allowed labels (nil: all), capped at limit with finetune.Stratified and
// seed (the flows the Lens runs use), in corpus order, with their labels.
func (b BaselineData) TaskFlows(task int, split string, limit int, allowed []string, seed uint64) ([]*netbench.Flow, []string, error) {
	t, err := b.Reg.Task(task)
	if err != nil {
		return nil, nil, err
	}
	d, err := b.Reg.Dataset(t.Dataset)
	if err != nil {
		return nil, nil, err
	}
	var flows []*netbench.Flow
	var labels []string
	i := 0
	err = b.Corpus.Flows(func(f *netbench.Flow) error {
		idx := i
		i++
		if idx >= len(b.Splits.Assign) || b.Splits.Assign[idx] != split || b.Splits.Dataset[idx] != t.Dataset {
			return nil
		}
		c, err := d.Class(b.Splits.Class[idx])
		if err != nil {
			return nil
		}
		l, ok := c.Label(task)
		if !ok || (len(allowed) > 0 && !slices.Contains(allowed, l)) {
			return nil
		}
		flows = append(flows, f)
		labels = append(labels, l)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	keep := finetune.Stratified(labels, limit, seed)
	outF, outL := make([]*netbench.Flow, len(keep)), make([]string, len(keep))
	for k, i := range keep {
		outF[k], outL[k] = flows[i], labels[i]
	}
	return outF, outL, nil
}

// PretrainExamples returns at most n unlabelled pretraining-split flows for
// the self-supervised baselines (YaTC, ET-BERT, TrafficLLM).
func (b BaselineData) PretrainExamples(n int) ([]baselines.Example, error) {
	var out []baselines.Example
	i := 0
	err := b.Corpus.Flows(func(f *netbench.Flow) error {
		idx := i
		i++
		if len(out) < n && b.Splits.In(idx, netbench.SplitPretrain) {
			out = append(out, BaselineExample(f, 0))
		}
		return nil
	})
	return out, err
}

func (h *Harness) bdata() BaselineData {
	return BaselineData{Corpus: h.corpus, Splits: h.splits, Reg: h.reg}
}

func (h *Harness) baselineConfig(seed uint64) baselines.Config {
	return baselines.Config{Preset: h.preset.Model, Epochs: h.preset.BaselineEpochs, Seed: seed, Backend: h.cfg.Backend}
}

// baselinePretrained is method's self-supervised pretraining on
// 4*max(MaxTrain, 64) unlabelled flows of the pretraining split, run once
// per reproduction and shared by every task and extension scenario, as the
// original papers pretrain once and finetune per task. It is nil for the
// supervised baselines.
func (h *Harness) baselinePretrained(ctx context.Context, method string, cfg baselines.Config) (*baselines.Pretrained, error) {
	key := fmt.Sprintf("%s %+v", method, cfg)
	if p, ok := h.baselinePreDone[key]; ok {
		return p, nil
	}
	if h.baselinePre == nil {
		exs, err := h.bdata().PretrainExamples(4 * max(h.preset.MaxTrain, 64))
		if err != nil {
			return nil, fmt.Errorf("pretraining examples: %w", err)
		}
		h.baselinePre = exs
	}
	start := time.Now()
	p, err := baselines.Pretrain(ctx, method, cfg, h.baselinePre)
	if err != nil {
		return nil, fmt.Errorf("pretraining %s: %w", method, err)
	}
	if p != nil {
		fmt.Fprintf(h.log, "           pretrained %s on %d flows in %v, shared by its tasks\n", method, p.Examples, time.Since(start).Round(time.Second))
	}
	if h.baselinePreDone == nil {
		h.baselinePreDone = map[string]*baselines.Pretrained{}
	}
	h.baselinePreDone[key] = p
	return p, nil
}

// labelIndex maps labels to class indices in the given order.
func labelIndex(labels []string) map[string]int {
	m := map[string]int{}
	for i, l := range labels {
		m[l] = i
	}
	return m
}

// baselineClassification runs every baseline on the preset's tasks
// (Tables 2-4).
func (h *Harness) baselineClassification(ctx context.Context) {
	if !(h.wants("2") || h.wants("3") || h.wants("4")) {
		return
	}
	tasks := h.preset.BaselineTasks
	if len(tasks) == 0 {
		tasks = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	for _, m := range baselines.Names() {
		delete(h.set.Notes, m)
		if len(tasks) < 12 {
			h.set.Notes[m] = fmt.Sprintf("not run: the %s preset runs the baselines on tasks %v only", h.preset.Name, tasks)
		}
	}
	for _, task := range tasks {
		t, _ := h.reg.Task(task)
		for _, method := range baselines.Names() {
			for _, seed := range h.seeds() {
				name := fmt.Sprintf("%s-task%d-seed%d", method, task, seed)
				cfg := h.baselineConfig(seed)
				id := []any{"baseline", method, task, cfg, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash()}
				h.cached(name, method, id, func(dir string) ([]result.Run, error) {
					idx := labelIndex(t.Labels)
					trF, trL, err := h.bdata().TaskFlows(task, netbench.SplitTrain, h.preset.MaxTrain, nil, seed)
					if err != nil {
						return nil, err
					}
					teF, teL, err := h.bdata().TaskFlows(task, netbench.SplitTest, h.preset.MaxTest, nil, seed)
					if err != nil {
						return nil, err
					}
					var train, test []baselines.Example
					for i, f := range trF {
						train = append(train, BaselineExample(f, idx[trL[i]]))
					}
					for i, f := range teF {
						test = append(test, BaselineExample(f, idx[teL[i]]))
					}
					if len(train) == 0 || len(test) == 0 {
						return nil, fmt.Errorf("task %d: %d training and %d test flows", task, len(train), len(test))
					}
					pre, err := h.baselinePretrained(ctx, method, cfg)
					if err != nil {
						return nil, err
					}
					r, err := baselines.Train(ctx, method, cfg, pre, train, test, len(t.Labels))
					if err != nil {
						return nil, err
					}
					pred := make([]string, len(r.Pred))
					for i, p := range r.Pred {
						if p >= 0 && p < len(t.Labels) {
							pred[i] = t.Labels[p]
						}
					}
					c := metrics.Classify(t.Labels, teL, pred)
					prov := h.provenance(cfg)
					prov.Backend = r.Backend
					prov.WallSeconds = (r.PretrainTime + r.TrainTime + r.TestTime).Seconds()
					return []result.Run{{Kind: result.KindClassify, Method: method, Task: task, Seed: seed,
						Metrics: classificationMetrics(c), PerExample: outcomes(teL, pred), Prov: prov}}, nil
				})
			}
		}
	}
}

// classificationMetrics names a classification's numbers as result does.
func classificationMetrics(c metrics.Classification) result.Metrics {
	m := result.Metrics{"AC": c.Accuracy, "F1": c.MacroF1}
	for l, p := range c.PerClass {
		m["P:"+l], m["R:"+l], m["F1:"+l], m["N:"+l] = p.Precision, p.Recall, p.F1, float64(p.Support)
	}
	return m
}

// baselineExtension runs ET-BERT and ET-BERT-LwF on the extension
// scenarios (Tables 5, 14-16).
func (h *Harness) baselineExtension(ctx context.Context) {
	if !(h.wants("5") || h.wants("14") || h.wants("15") || h.wants("16")) {
		return
	}
	for _, task := range []int{6, 8} {
		t, _ := h.reg.Task(task)
		for _, n := range []int{1, 3, 5} {
			newL := t.Extension[:n]
			var oldL []string
			for _, l := range t.Labels {
				if !slices.Contains(newL, l) {
					oldL = append(oldL, l)
				}
			}
			order := append(append([]string(nil), oldL...), newL...)
			idx := labelIndex(order)
			for _, method := range baselines.ExtensionNames() {
				delete(h.set.Notes, method)
				for _, seed := range h.seeds() {
					name := fmt.Sprintf("%s-extend-task%d-new%d-seed%d", method, task, n, seed)
					cfg := h.baselineConfig(seed)
					id := []any{"baseline-extend", method, task, n, cfg, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash()}
					h.cached(name, method, id, func(dir string) ([]result.Run, error) {
						oldF, oldLab, err := h.bdata().TaskFlows(task, netbench.SplitTrain, h.preset.ExtendMax, oldL, seed)
						if err != nil {
							return nil, err
						}
						newF, newLab, err := h.bdata().TaskFlows(task, netbench.SplitTrain, h.preset.ExtendMax, newL, seed)
						if err != nil {
							return nil, err
						}
						teF, teL, err := h.bdata().TaskFlows(task, netbench.SplitTest, h.preset.ExtendMax, nil, seed)
						if err != nil {
							return nil, err
						}
						conv := func(fs []*netbench.Flow, ls []string) []baselines.Example {
							var out []baselines.Example
							for i, f := range fs {
								out = append(out, BaselineExample(f, idx[ls[i]]))
							}
							return out
						}
						pre, err := h.baselinePretrained(ctx, baselines.ExtensionModel, cfg)
						if err != nil {
							return nil, err
						}
						r, err := baselines.ExtendScenario(ctx, method, cfg, pre, conv(oldF, oldLab), conv(newF, newLab), conv(teF, teL), len(oldL), n)
						if err != nil {
							return nil, err
						}
						pred := make([]string, len(r.Pred))
						for i, p := range r.Pred {
							if p >= 0 && p < len(order) {
								pred[i] = order[p]
							}
						}
						c := metrics.Classify(order, teL, pred)
						prov := h.provenance(cfg)
						prov.Backend = r.Backend
						return []result.Run{{Kind: result.KindExtend, Method: method, Task: task, Scenario: n, Seed: seed,
							Metrics: classificationMetrics(c), Prov: prov}}, nil
					})
				}
			}
		}
	}
}
