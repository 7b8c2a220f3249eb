package baselines

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// synthHard makes a harder task than synthFlows: 4 classes whose payload
// signature appears in only 60% of a class's flows (one packet in three),
// whose packet sizes overlap (40+60k plus up to 200 bytes of noise) and
// whose directions are random.
func synthHard(n int, seed uint64) []Example {
	const classes = 4
	r := rand.New(rand.NewPCG(seed, 11))
	sr := rand.New(rand.NewPCG(98, 98))
	sig := make([][]byte, classes)
	for k := range sig {
		sig[k] = make([]byte, 6)
		for j := range sig[k] {
			sig[k][j] = byte(sr.IntN(256))
		}
	}
	out := make([]Example, n)
	for i := range out {
		k := i % classes
		marked := r.Float64() < 0.6
		ex := Example{Label: k}
		for p := range 5 + r.IntN(6) {
			pay := make([]byte, 40+60*k+r.IntN(200))
			for j := range pay {
				pay[j] = byte(r.IntN(256))
			}
			if marked && p%3 == 0 {
				copy(pay, sig[k])
			}
			dir := r.IntN(2)
			ip := tcpPacket(r, pay)
			ex.Packets = append(ex.Packets, Packet{Dir: dir, IP: ip})
			ex.Lengths = append(ex.Lengths, len(ip))
			ex.Dirs = append(ex.Dirs, dir)
		}
		out[i] = ex
	}
	return out
}

// TestHardSynthetic (only with LENS_BASELINE_HARD=1; minutes) trains every
// baseline at $LENS_BASELINE_PRESET (default tiny) on the harder task and
// logs test accuracy (majority rate 0.25). It asserts nothing beyond running.
func TestHardSynthetic(t *testing.T) {
	if os.Getenv("LENS_BASELINE_HARD") == "" {
		t.Skip("set LENS_BASELINE_HARD=1")
	}
	p := os.Getenv("LENS_BASELINE_PRESET")
	if p == "" {
		p = "tiny"
	}
	train, test, pre := synthHard(400, 1), synthHard(200, 2), synthHard(400, 3)
	for _, name := range Names() {
		start := time.Now()
		res, err := pretrainAndTrain(context.Background(), name, Config{Preset: p, Epochs: 8, PretrainEpochs: 2, Batch: 32, Seed: 1}, pre, train, test, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-10s %s: accuracy %.3f (majority 0.25), last loss %.3f, %v", name, p, accuracy(res.Pred, test), res.Losses[len(res.Losses)-1], time.Since(start).Round(time.Second))
	}
}
