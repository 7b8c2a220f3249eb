package harness

import (
	"context"
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
	h.set.Notes["TrafficLLM generate"] = "not run: the TrafficLLM stand-in does not generate header fields yet"
	h.set.Notes["TrafficLLM fuzz"] = h.set.Notes["TrafficLLM generate"]

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
	return nil
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
