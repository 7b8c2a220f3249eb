package main

import (
	"fmt"
	"os"

	"github.com/lens-go/lens/trainer"
)

// benchTrain is "lens bench train".
func benchTrain(args []string) error {
	fs := newFlagSet("bench train", "[--preset tiny] [shape flags]", `
Times training steps of the Lens T5 model on random tokens and prints tokens/s
(encoder + decoder positions per second), the achieved GFLOP/s of the step
(matmul FLOPs, forward + backward = 3x forward, see trainer.StepFLOPs), the
backend's own 1024x1024x1024 float32 matmul rate measured in the same process,
and their ratio, by wall clock and per CPU-second of the process (the latter
is meaningful on a machine shared with other work). The last line is
"tokens_per_s N".`)
	preset := fs.String("preset", "tiny", "model preset: smoke, tiny, small, base")
	backend := fs.String("backend", "", "compute backend (go, xla, xla:cuda, auto; default $LENS_BACKEND or auto)")
	dModel := fs.Int("d-model", 0, "override d_model")
	heads := fs.Int("heads", 0, "override the number of attention heads")
	dKV := fs.Int("d-kv", 0, "override the head dimension")
	ff := fs.Int("ff", 0, "override the gated-GELU hidden size")
	layers := fs.Int("layers", 0, "override the encoder and decoder layer counts")
	vocab := fs.Int("vocab", 8192, "vocabulary size")
	encLen := fs.Int("enc-len", 0, "override the encoder length")
	decLen := fs.Int("dec-len", 0, "override the decoder length")
	batch := fs.Int("batch", 0, "override the micro-batch size")
	steps := fs.Int("steps", 3, "timed optimizer steps (after one warm-up step)")
	dropout := fs.Float64("dropout", -1, "override the dropout rate (default: the preset's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := trainer.Preset(*preset, *vocab)
	if err != nil {
		return err
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{*dModel, &cfg.DModel}, {*heads, &cfg.NumHeads}, {*dKV, &cfg.DKV}, {*ff, &cfg.DFF},
		{*layers, &cfg.EncoderLayer}, {*layers, &cfg.DecoderLayer}, {*encLen, &cfg.EncLen},
		{*decLen, &cfg.DecLen}, {*batch, &cfg.BatchSize}} {
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	if *dropout >= 0 {
		cfg.Dropout = *dropout
	}
	cfg.GradAccum = 1
	res, err := trainer.BenchTrain(cfg, *backend, *steps, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("backend %s\n", res.Backend)
	fmt.Printf("step %.3fs  step matmul FLOPs %.3g\n", res.StepSeconds, res.StepFLOPs)
	fmt.Printf("step GFLOP/s %.1f  matmul 1024^3 GFLOP/s %.1f  share %.1f%%\n", res.StepGFLOPS, res.MatmulGFLOPS, 100*res.Share)
	if res.CPUShare > 0 {
		fmt.Printf("per CPU-second (other load on the machine cancels out): step %.1f GFLOP, matmul %.1f GFLOP, share %.1f%%\n",
			res.StepGFLOPPerCPUS, res.MatmulGFLOPPerCPUS, 100*res.CPUShare)
	}
	fmt.Printf("tokens_per_s %.0f\n", res.TokensPerS)
	return nil
}
