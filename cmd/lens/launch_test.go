package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
	"github.com/lens-go/lens/trainer"
)

// TestMain lets the test binary act as the lens command for the worker
// processes 'lens launch' starts (they re-execute os.Executable()).
func TestMain(m *testing.M) {
	if os.Getenv("LENS_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	removeFixture()
	os.Exit(code)
}

// TestLaunchLocalDataParallel starts two worker processes with 'lens launch
// --local 2 -- pretrain': each takes its own half of every global batch,
// and because every step averages the two workers' gradients with the ring
// all-reduce, both end with bit-identical parameters (without the
// all-reduce their different data would make them diverge at step 1).
func TestLaunchLocalDataParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts worker processes")
	}
	dir := t.TempDir()
	reg := registry.Default()
	if _, err := synth.Generate(context.Background(), reg, synth.Config{Out: filepath.Join(dir, "pcaps"), Seed: 3, Flows: 60, MinFlows: 2, Datasets: []string{"ISCX-VPN"}}); err != nil {
		t.Fatal(err)
	}
	in, _ := netbench.ExpandInputs([]string{filepath.Join(dir, "pcaps")})
	corpus := filepath.Join(dir, "corpus")
	if _, err := netbench.Ingest(context.Background(), netbench.IngestConfig{Inputs: in, Out: corpus, CodeVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	c, s, err := openSplits(corpus, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: 800, MinFrequency: 2})
	pr, pw, _ := os.Pipe()
	go func() { netbench.WritePretrainLines(c, s, reg, pw); pw.Close() }()
	if err := tr.AddReader("pretraining", pr, bbpe.Lines); err != nil {
		t.Fatal(err)
	}
	tok, err := tr.Train()
	if err != nil {
		t.Fatal(err)
	}
	tokDir := filepath.Join(dir, "tok")
	if err := tok.Save(tokDir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LENS_TEST_AS_MAIN", "1")
	out := filepath.Join(dir, "run")
	err = runLaunch([]string{"--local", "2", "--", "pretrain", "--preset", "smoke", "--corpus", corpus, "--tokenizer", tokDir,
		"--out", out, "--steps", "6", "--enc-len", "128", "--dec-len", "32", "--checkpoint-every", "6", "--backend", "go"})
	if err != nil {
		t.Fatal(err)
	}
	var params [2][][]float32
	for r := range 2 {
		ck, err := trainer.LatestCheckpoint(filepath.Join(out, fmt.Sprintf("worker-%03d", r)))
		if err != nil || ck == "" {
			t.Fatalf("rank %d: no checkpoint (%v)", r, err)
		}
		st, err := trainer.ReadCheckpoint(ck)
		if err != nil {
			t.Fatal(err)
		}
		if st.Meta.Step != 6 {
			t.Fatalf("rank %d stopped at step %d", r, st.Meta.Step)
		}
		params[r] = st.Params
	}
	for i := range params[0] {
		if !slices.Equal(params[0][i], params[1][i]) {
			t.Fatalf("parameter %d differs between the ranks: the gradients were not averaged", i)
		}
	}
}
