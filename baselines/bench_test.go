package baselines

import (
	"context"
	"os"
	"testing"
)

// BenchmarkEpoch times one pretraining epoch (where the model has one) and
// one training epoch over 256 synthetic flows at $LENS_BASELINE_PRESET
// (default tiny), batch 32: go test -run '^$' -bench Epoch ./baselines
func BenchmarkEpoch(b *testing.B) {
	p := os.Getenv("LENS_BASELINE_PRESET")
	if p == "" {
		p = "tiny"
	}
	train := synthFlows(256, 4, 1)
	for _, name := range Names() {
		b.Run(name+"/"+p, func(b *testing.B) {
			for range b.N {
				res, err := pretrainAndTrain(context.Background(), name, Config{Preset: p, Epochs: 1, PretrainEpochs: 1, Batch: 32, Seed: 1}, train, train, train[:32], 4)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.PretrainTime.Seconds(), "pretrain-s/epoch")
				b.ReportMetric(res.TrainTime.Seconds(), "train-s/epoch")
				b.ReportMetric(float64(res.Params), "params")
			}
		})
	}
}
