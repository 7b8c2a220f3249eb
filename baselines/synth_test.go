package baselines

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
)

// tcpPacket builds an IPv4/TCP packet with the given payload.
func tcpPacket(r *rand.Rand, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(40+len(payload)))
	b[8], b[9] = 64, 6
	binary.BigEndian.PutUint32(b[12:], r.Uint32()) // addresses are masked by every representation
	binary.BigEndian.PutUint32(b[16:], r.Uint32())
	binary.BigEndian.PutUint16(b[20:], uint16(1024+r.IntN(60000)))
	binary.BigEndian.PutUint16(b[22:], 443)
	binary.BigEndian.PutUint32(b[24:], r.Uint32())
	b[32] = 5 << 4
	b[33] = 0x18
	return append(b, payload...)
}

// synthFlows makes n flows of classes classes (round robin). Class k is
// visible in every representation: its payloads start with an 8-byte
// signature followed by random bytes, and its packet lengths and directions
// follow a class pattern with noise.
func synthFlows(n, classes int, seed uint64) []Example {
	r := rand.New(rand.NewPCG(seed, 7))
	sig := make([][]byte, classes)
	sr := rand.New(rand.NewPCG(99, 99)) // signatures are fixed across splits
	for k := range sig {
		sig[k] = make([]byte, 8)
		for j := range sig[k] {
			sig[k][j] = byte(sr.IntN(256))
		}
	}
	out := make([]Example, n)
	for i := range out {
		k := i % classes
		np := 6 + r.IntN(4)
		ex := Example{Label: k}
		for p := range np {
			size := 40 + 120*k + 30*(p%3) + r.IntN(20)
			pay := make([]byte, size)
			for j := range pay {
				pay[j] = byte(r.IntN(256))
			}
			copy(pay, sig[k])
			dir := (p + k) % 2
			ip := tcpPacket(r, pay)
			ex.Packets = append(ex.Packets, Packet{Dir: dir, IP: ip})
			ex.Lengths = append(ex.Lengths, len(ip))
			ex.Dirs = append(ex.Dirs, dir)
		}
		out[i] = ex
	}
	return out
}

func accuracy(pred []int, exs []Example) float64 {
	ok := 0
	for i, p := range pred {
		if p == exs[i].Label {
			ok++
		}
	}
	return float64(ok) / float64(len(exs))
}

// learns trains name at the smoke preset on a small synthetic task with 3
// balanced classes (majority rate 1/3) and wants test accuracy >= minAcc.
func learns(t *testing.T, name string, cfg Config, minAcc float64) *Result {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a model")
	}
	const classes = 3
	train, test := synthFlows(120, classes, 1), synthFlows(60, classes, 2)
	var pre []Example
	if name == "YaTC" || name == "ET-BERT" || name == "TrafficLLM" {
		pre = synthFlows(120, classes, 3)
	}
	cfg.Preset = "smoke"
	start := time.Now()
	res, err := pretrainAndTrain(context.Background(), name, cfg, pre, train, test, classes)
	if err != nil {
		t.Fatal(err)
	}
	acc := accuracy(res.Pred, test)
	t.Logf("%s: accuracy %.3f (majority 0.333), losses %.3f, params %d (+pretrain %d), pretrain %v train %v test %v, total %v on %s",
		name, acc, res.Losses, res.Params, res.PretrainParams-res.Params, res.PretrainTime.Round(time.Millisecond),
		res.TrainTime.Round(time.Millisecond), res.TestTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), res.Backend)
	if acc < minAcc {
		t.Errorf("%s: accuracy %.3f < %.2f", name, acc, minAcc)
	}
	return res
}
