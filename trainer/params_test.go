package trainer

import "testing"

// TestBaseParameterCount: with T5 v1.1's 32,128-token vocabulary the base
// preset has exactly the parameters of Hugging Face's google/t5-v1_1-base
// (247,577,856): same tensors, same shapes.
func TestBaseParameterCount(t *testing.T) {
	cfg, err := Preset("base", 32128)
	if err != nil {
		t.Fatal(err)
	}
	if got := NumParams(ParamSpecs(&cfg)); got != 247577856 {
		t.Fatalf("base preset with vocab 32128 has %d parameters, google/t5-v1_1-base has 247577856", got)
	}
	cfg.VocabSize = 65536
	t.Logf("base with a 65,536 vocabulary: %d parameters", NumParams(ParamSpecs(&cfg)))
}
