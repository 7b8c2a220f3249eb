package harness

import (
	"context"
	"fmt"

	"github.com/lens-go/lens/harness/finetune"
	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/trainer"
)

// ftData is what the finetuning library reads.
func (h *Harness) ftData() *finetune.Data {
	return &finetune.Data{Corpus: h.corpus, Splits: h.splits, Reg: h.reg, Tok: h.tok}
}

// ftConfig is the finetuning configuration of a run from checkpoint init.
func (h *Harness) ftConfig(init string, seed uint64, dir string) finetune.Config {
	return finetune.Config{Preset: h.preset.Model, Init: init, Seed: seed, Epochs: h.preset.FinetuneEpochs,
		EncLen: h.preset.EncLen, Backend: h.cfg.Backend, Out: dir, MaxTrain: h.preset.MaxTrain, MaxTest: h.preset.MaxTest,
		Packet: func(idx int, f *netbench.Flow) int { return samplePacket(idx, len(f.Headers), h.cfg.SynthSeed) }}
}

// genConfig is the finetuning configuration of a generation run: ftConfig
// with the preset's cap on generation training flows.
func (h *Harness) genConfig(init string, seed uint64, dir string) finetune.Config {
	cfg := h.ftConfig(init, seed, dir)
	if h.preset.GenMaxTrain > 0 {
		cfg.MaxTrain = h.preset.GenMaxTrain
	}
	return cfg
}

// encLenFor is the encoder length a classification task needs: the
// preset's, or more when the task context alone (Tasks 6 and 8 list about
// 200 labels) leaves too little room for packets.
func (h *Harness) encLenFor(task int) (int, error) {
	t, err := h.reg.Task(task)
	if err != nil {
		return 0, err
	}
	b, err := trainer.NewExampleBuilder(h.tok, h.reg, h.preset.EncLen)
	if err != nil {
		return 0, err
	}
	ctx := len(b.ContextTokens(h.reg.Context(t, t.Labels)))
	n := max(h.preset.EncLen, ctx+h.preset.LongTaskPackets)
	return (n + 31) / 32 * 32, nil
}

// seeds lists the finetuning seeds of each cell.
func (h *Harness) seeds() []uint64 {
	var s []uint64
	for i := 0; i < h.cfg.Seeds; i++ {
		s = append(s, h.cfg.SynthSeed+uint64(i))
	}
	return s
}

// classifyRun finetunes Lens on one task from a pretrained checkpoint and
// records its test metrics (and per-example outcomes for the paired
// bootstrap of the ablation tables).
func (h *Harness) classifyRun(ctx context.Context, task int, variant, init string, withoutContext bool) {
	for _, seed := range h.seeds() {
		name := fmt.Sprintf("lens-task%d-%s-seed%d", task, variantName(variant), seed)
		id := []any{"classify", task, variant, init, withoutContext, seed, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash()}
		h.cached(name, "Lens", id, func(dir string) ([]result.Run, error) {
			enc, err := h.encLenFor(task)
			if err != nil {
				return nil, err
			}
			cfg := h.ftConfig(init, seed, dir)
			cfg.EncLen = enc
			if enc > h.preset.EncLen && h.preset.ExtendMax > 0 { // Tasks 6 and 8: long inputs, fewer flows
				cfg.MaxTrain, cfg.MaxTest = min(cfg.MaxTrain, 2*h.preset.ExtendMax), min(cfg.MaxTest, 2*h.preset.ExtendMax)
			}
			r, err := finetune.Classify(ctx, h.ftData(), finetune.ClassifyConfig{Config: cfg, Task: task, WithoutContext: withoutContext})
			if err != nil {
				return nil, err
			}
			prov := h.provenance(cfg)
			prov.Backend, prov.WallSeconds = r.Backend, r.WallSeconds
			h.backend = r.Backend
			return []result.Run{{Kind: result.KindClassify, Method: "Lens", Variant: variant, Task: task, Seed: seed,
				Metrics: r.MetricMap(), PerExample: outcomes(r.Truth, r.Pred), Prov: prov}}, nil
		})
	}
}

func variantName(v string) string {
	switch v {
	case "":
		return "full"
	case "w/o FT-Context":
		return "noctx"
	case "w/o KG-MSP":
		return "nokgmsp"
	}
	return v
}

// outcomes is 1 for each correct prediction, 0 otherwise.
func outcomes(truth, pred []string) []float64 {
	o := make([]float64, len(truth))
	for i := range truth {
		if i < len(pred) && truth[i] == pred[i] {
			o[i] = 1
		}
	}
	return o
}

// lensClassification runs Tables 2-4, 8 and 12.
func (h *Harness) lensClassification(ctx context.Context) {
	if h.wants("2") || h.wants("3") || h.wants("4") {
		for task := 1; task <= 12; task++ {
			h.classifyRun(ctx, task, "", h.pretrained, false)
		}
	}
	if h.wants("8") {
		for _, task := range []int{4, 3} {
			h.classifyRun(ctx, task, "", h.pretrained, false)
			h.classifyRun(ctx, task, "w/o FT-Context", h.pretrained, true)
			h.classifyRun(ctx, task, "w/o KG-MSP", h.pretrainedRandom, false)
		}
	}
	if h.wants("12") {
		for _, task := range []int{2, 3} {
			h.classifyRun(ctx, task, "", h.pretrained, false)
			h.classifyRun(ctx, task, "random-masking", h.pretrainedRandom, false)
		}
	}
}

// lensExtension runs Tables 5 and 14-16: Tasks 6 and 8 with 1, 3 and 5 new
// classes.
func (h *Harness) lensExtension(ctx context.Context) {
	if !(h.wants("5") || h.wants("14") || h.wants("15") || h.wants("16")) {
		return
	}
	for _, task := range []int{6, 8} {
		for _, n := range []int{1, 3, 5} {
			for _, seed := range h.seeds() {
				name := fmt.Sprintf("lens-extend-task%d-new%d-seed%d", task, n, seed)
				id := []any{"extend", task, n, seed, h.pretrained, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash()}
				h.cached(name, "Lens", id, func(dir string) ([]result.Run, error) {
					enc, err := h.encLenFor(task)
					if err != nil {
						return nil, err
					}
					cfg := h.ftConfig(h.pretrained, seed, dir)
					cfg.EncLen = enc
					if h.preset.ExtendMax > 0 {
						cfg.MaxTrain, cfg.MaxTest = h.preset.ExtendMax, h.preset.ExtendMax
					}
					r, err := finetune.Extend(ctx, h.ftData(), finetune.ExtendConfig{Config: cfg, Task: task, NewClasses: n, NewEpochs: h.preset.FinetuneEpochs})
					if err != nil {
						return nil, err
					}
					prov := h.provenance(cfg)
					prov.WallSeconds = r.WallSeconds
					return []result.Run{{Kind: result.KindExtend, Method: "Lens", Task: task, Scenario: n, Seed: seed,
						Metrics: r.Extended.MetricMap(), Prov: prov}}, nil
				})
			}
		}
	}
}

// lensGeneration runs Table 6 (every dataset and field), Table 7 (ISCX-VPN
// destination port with and without context and KG-MSP) and Figure 3.
func (h *Harness) lensGeneration(ctx context.Context) {
	gen := func(dataset, variant, init string, fields []string, withoutContext bool) {
		name := fmt.Sprintf("lens-gen-%s-%s", dataset, variantName(variant))
		if len(fields) == 1 {
			name += "-" + fields[0]
		}
		id := []any{"generate", dataset, variant, init, fields, withoutContext, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash(), h.cfg.SynthSeed}
		h.cached(name, "Lens", id, func(dir string) ([]result.Run, error) {
			cfg := h.genConfig(init, h.cfg.SynthSeed, dir)
			r, err := finetune.Generate(ctx, h.ftData(), finetune.GenerateConfig{Config: cfg, Dataset: dataset, Fields: fields, WithoutContext: withoutContext})
			if err != nil {
				return nil, err
			}
			prov := h.provenance(cfg)
			prov.Backend, prov.WallSeconds = r.Backend, r.WallSeconds
			var runs []result.Run
			for _, f := range r.Fields {
				runs = append(runs, result.Run{Kind: result.KindGenerate, Method: "Lens", Variant: variant, Dataset: dataset, Field: f.Field,
					Seed: h.cfg.SynthSeed, Metrics: f.MetricMap(), Prov: prov})
			}
			return runs, nil
		})
	}
	if h.wants("6") {
		for _, ds := range h.reg.Generation.Datasets {
			gen(ds, "", h.pretrained, nil, false)
			h.trafficLLMGenerate(ctx, ds)
		}
	}
	if h.wants("7") {
		gen("ISCX-VPN", "", h.pretrained, []string{"dst_port"}, false)
		gen("ISCX-VPN", "w/o FT-Context", h.pretrained, []string{"dst_port"}, true)
		gen("ISCX-VPN", "w/o KG-MSP", h.pretrainedRandom, []string{"dst_port"}, false)
	}
	if h.wants("fig3") {
		h.trafficLLMFuzz(ctx)
		id := []any{"fuzz", h.pretrained, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash(), h.cfg.SynthSeed}
		h.cached("lens-fuzz-task11", "Lens", id, func(dir string) ([]result.Run, error) {
			cfg := h.ftConfig(h.pretrained, h.cfg.SynthSeed, dir)
			r, err := finetune.Fuzz(ctx, h.ftData(), finetune.FuzzConfig{Generate: finetune.GenerateConfig{Config: cfg, Dataset: "CIC-IoT-2023"}, Task: 11, DetectorSeed: h.cfg.SynthSeed})
			if err != nil {
				return nil, err
			}
			prov := h.provenance(cfg)
			var runs []result.Run
			for _, d := range r.Detectors {
				runs = append(runs, result.Run{Kind: result.KindFuzz, Method: "Lens", Task: 11, Detector: d.Detector, Seed: h.cfg.SynthSeed,
					Metrics: d.MetricMap(), Prov: prov})
			}
			return runs, nil
		})
	}
}

// trafficLLMGenerate runs the TrafficLLM stand-in on one dataset's
// generation task, with the same examples as Lens (Table 6).
func (h *Harness) trafficLLMGenerate(ctx context.Context, dataset string) {
	name := "trafficllm-gen-" + dataset
	bc := h.baselineConfig(h.cfg.SynthSeed)
	id := []any{"trafficllm-generate", dataset, bc, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash()}
	h.cached(name, "TrafficLLM", id, func(dir string) ([]result.Run, error) {
		cfg := h.genConfig("", h.cfg.SynthSeed, dir)
		r, _, err := finetune.GenerateTrafficLLM(ctx, h.ftData(), finetune.GenerateConfig{Config: cfg, Dataset: dataset}, bc)
		if err != nil {
			return nil, err
		}
		prov := h.provenance(bc)
		prov.Backend, prov.WallSeconds = r.Backend, r.WallSeconds
		var runs []result.Run
		for _, f := range r.Fields {
			runs = append(runs, result.Run{Kind: result.KindGenerate, Method: "TrafficLLM", Dataset: dataset, Field: f.Field,
				Seed: h.cfg.SynthSeed, Metrics: f.MetricMap(), Prov: prov})
		}
		return runs, nil
	})
}

// trafficLLMFuzz is the stand-in's row of Figure 3.
func (h *Harness) trafficLLMFuzz(ctx context.Context) {
	bc := h.baselineConfig(h.cfg.SynthSeed)
	id := []any{"trafficllm-fuzz", bc, h.preset, h.corpus.Manifest.ContentHash, h.splits.Hash(), h.tokHash()}
	h.cached("trafficllm-fuzz-task11", "TrafficLLM", id, func(dir string) ([]result.Run, error) {
		cfg := h.ftConfig("", h.cfg.SynthSeed, dir)
		r, _, err := finetune.FuzzTrafficLLM(ctx, h.ftData(), finetune.FuzzConfig{Generate: finetune.GenerateConfig{Config: cfg, Dataset: "CIC-IoT-2023"}, Task: 11, DetectorSeed: h.cfg.SynthSeed}, bc)
		if err != nil {
			return nil, err
		}
		prov := h.provenance(bc)
		var runs []result.Run
		for _, d := range r.Detectors {
			runs = append(runs, result.Run{Kind: result.KindFuzz, Method: "TrafficLLM", Task: 11, Detector: d.Detector, Seed: h.cfg.SynthSeed,
				Metrics: d.MetricMap(), Prov: prov})
		}
		return runs, nil
	})
}
