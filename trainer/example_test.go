package trainer_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lens-go/lens/netbench/span"
	"github.com/lens-go/lens/trainer"
	"github.com/lens-go/lens/trainer/masking"
)

// Pretraining in a few lines: a preset sized to the tokenizer's vocabulary,
// a masking policy from its config file, a data source, an output folder.
// Running it again on the same folder resumes from the newest checkpoint.
func ExamplePretrain() {
	cfg, _ := trainer.Preset("smoke", 96) // vocabulary size from the tokenizer
	cfg.Steps, cfg.LogEvery = 4, 0
	policy, err := masking.Load("../configs/masking/kgmsp.json")
	if err != nil {
		panic(err)
	}
	// One tokenized packet line: port, protocol and flags fields, then
	// <sep> (id 2) and the context.
	ex := trainer.Example{
		IDs:          []int32{10, 11, 12, 13, 14, 15, 16, 17, 2, 20, 21, 22},
		Kinds:        []span.Kind{span.Port, span.Port, span.None, span.Protocol, span.Flags, span.Flags, span.Seq, span.Seq, span.None, span.Context, span.Context, span.Context},
		Fields:       []int32{0, 0, -1, 1, 2, 2, 3, 3, -1, -1, -1, -1},
		ContextStart: 9,
	}
	data := trainer.NewMemorySource([]trainer.Example{ex, ex, ex}, true, 1)
	out, _ := os.MkdirTemp("", "lens-pretrain")
	defer os.RemoveAll(out)
	run := trainer.PretrainConfig{Model: cfg, Masking: policy, Sentinels: 10, Backend: "go"}
	if err := trainer.Pretrain(context.Background(), run, data, out); err != nil {
		panic(err)
	}
	latest, _ := trainer.LatestCheckpoint(out)
	st, err := trainer.ReadCheckpoint(latest)
	if err != nil {
		panic(err)
	}
	fmt.Println("step", st.Meta.Step, "backend", st.Meta.Backend)
	// Output: step 4 backend go
}
