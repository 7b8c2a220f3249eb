package harness

import (
	"context"

	"github.com/lens-go/lens/harness/result"
)

// backendName is the compute backend the model stages run on.
func (h *Harness) backendName() string {
	if h.cfg.Backend != "" {
		return h.cfg.Backend
	}
	return "go"
}

// models runs the model stages: pretraining, finetuning, extension,
// generation, fuzzing, ablations and baselines. Cells whose runs cannot be
// made yet say why in the results' notes.
func (h *Harness) models(ctx context.Context) {
	const pending = "not run: this build has no %s yet"
	for _, m := range []string{"Lens", "FS-Net", "BiLSTM_Att", "Datanet", "DeepPacket", "TSCRNN", "YaTC", "TrafficLLM", "ET-BERT", "ET-BERT-LwF", "NetShare"} {
		h.set.Notes[m] = "not run: the model stages are not wired into the harness yet"
	}
	h.set.Notes[result.KindPretrain] = "not run: pretraining is not wired into the harness yet"
	_ = pending
}
