package harness

import (
	"context"

	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/harness/result"
)

// backendName is the compute backend the model stages ran on.
func (h *Harness) backendName() string {
	if h.backend != "" {
		return h.backend
	}
	if h.cfg.Backend != "" {
		return h.cfg.Backend
	}
	return "go"
}

// models runs the model stages: pretraining, finetuning, extension,
// generation, fuzzing, ablations and baselines. Cells whose runs this build
// cannot make yet say why in the results' notes.
func (h *Harness) models(ctx context.Context) error {

	if h.wants("6") || h.wants("fig3") {
		if err := h.netshare(); err != nil {
			return err
		}
	}
	if h.needsLens() {
		if err := h.lensPretraining(ctx); err != nil {
			return err
		}
		h.lensClassification(ctx)
		h.lensExtension(ctx)
		h.lensGeneration(ctx)
	}
	h.baselineClassification(ctx)
	h.baselineExtension(ctx)
	h.intervals()
	return nil
}

// intervals computes the paired bootstrap confidence intervals of the
// ablation variants' accuracy against the full model (Tables 8 and 12).
func (h *Harness) intervals() {
	h.set.Intervals = nil
	for _, task := range []int{2, 3, 4} {
		full := h.set.Find(result.Run{Kind: result.KindClassify, Method: "Lens", Task: task})
		if len(full) == 0 {
			continue
		}
		for _, v := range []string{"w/o FT-Context", "w/o KG-MSP", "random-masking"} {
			other := h.set.Find(result.Run{Kind: result.KindClassify, Method: "Lens", Variant: v, Task: task})
			if len(other) == 0 {
				continue
			}
			a, f := other[0].PerExample, full[0].PerExample
			if len(a) == 0 || len(a) != len(f) {
				continue
			}
			iv := metrics.PairedBootstrap(a, f, metrics.Mean, 2000, 0.95, h.cfg.SynthSeed)
			h.set.Intervals = append(h.set.Intervals, result.Interval{Kind: result.KindClassify, Method: "Lens", Task: task,
				Variant: v, Metric: "AC", Diff: iv.Diff, Lo: iv.Lo, Hi: iv.Hi, Level: iv.Level, Examples: len(a)})
		}
	}
}

// needsLens reports whether any requested table has Lens cells.
func (h *Harness) needsLens() bool {
	for _, id := range []string{"2", "3", "4", "5", "6", "7", "8", "12", "13a", "13b", "14", "15", "16", "fig3"} {
		if h.wants(id) {
			return true
		}
	}
	return false
}
