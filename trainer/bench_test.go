package trainer

import "testing"

// BenchmarkTrainStepTiny times one optimizer step of the tiny preset
// (vocab 8192) on the go backend.
func BenchmarkTrainStepTiny(b *testing.B) {
	cfg, err := Preset("tiny", 8192)
	if err != nil {
		b.Fatal(err)
	}
	tr := newSmoke(b, cfg)
	batch := randomTokens(&tr.Cfg, 1)
	if _, err := tr.TrainStep([]Batch{batch}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := tr.TrainStep([]Batch{batch}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cfg.Tokens())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
