package trainer

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/trainer/masking"
)

// untrainedDecoder is a from-scratch smoke model (never trained).
func untrainedDecoder(t *testing.T, vocab, encLen, decLen, rows int) *Decoder {
	t.Helper()
	fc := FinetuneConfig{Preset: "smoke", VocabSize: vocab, Seed: 3, Backend: "go", EncLen: encLen, DecLen: decLen, Batch: rows}
	tr, err := NewFinetuneTrainer(fc, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDecoder(tr)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConstrainedDecoderOnlyEmitsLabels(t *testing.T) {
	fx := loadFixture(t)
	task, _ := fx.Reg.Task(3) // 16 labels, several sharing first tokens
	b, _ := NewExampleBuilder(fx.Tok, fx.Reg, 64)
	labels := make([][]int32, len(task.Labels))
	for i, l := range task.Labels {
		labels[i] = b.LabelTokens(l)
	}
	d := untrainedDecoder(t, fx.Tok.VocabSize(), 64, 12, 4)
	r := rand.New(rand.NewPCG(1, 2))
	var enc [][]int32
	for range 6 { // 6 inputs over rows of 4: a full and a padded call
		row := make([]int32, 10+r.IntN(50))
		for j := range row {
			row[j] = int32(6 + r.IntN(fx.Tok.VocabSize()-106))
		}
		enc = append(enc, append(row, 1))
	}
	pred, scores, err := d.Classify(enc, labels, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(pred) != len(enc) || len(scores) != len(enc) {
		t.Fatalf("%d predictions, %d score rows for %d inputs", len(pred), len(scores), len(enc))
	}
	for i, p := range pred {
		if p < 0 || p >= len(labels) {
			t.Fatalf("row %d: label index %d", i, p)
		}
		var z float64
		for _, s := range scores[i] {
			z += math.Exp(s)
		}
		if math.Abs(z-1) > 1e-4 || len(scores[i]) != len(labels) {
			t.Fatalf("row %d: label probabilities sum to %g", i, z)
		}
		// the greedy label is the argmax of the first step among its siblings at least
		if math.IsInf(scores[i][p], -1) {
			t.Fatalf("row %d: predicted label has probability 0", i)
		}
	}
	// a row decoded alone gives the same label as in a batch (padding rows do not leak)
	alone, _, err := d.Classify(enc[5:6], labels, false)
	if err != nil || alone[0] != pred[5] {
		t.Fatalf("alone %v vs batched %d (%v)", alone, pred[5], err)
	}
}

func TestSampleGreedyMatchesGreedyDecode(t *testing.T) {
	d := untrainedDecoder(t, 300, 24, 8, 3)
	c := &d.t.Cfg
	r := rand.New(rand.NewPCG(5, 6))
	enc := make([]int32, 3*c.EncLen)
	var rows [][]int32
	for i := range 3 {
		row := make([]int32, 20)
		for j := range row {
			row[j] = int32(2 + r.IntN(290))
		}
		copy(enc[i*c.EncLen:], row)
		rows = append(rows, row)
	}
	want, err := d.t.GreedyDecode(enc, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Sample(rows, nil, SampleConfig{Temperature: 0, MaxLen: c.DecLen})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("row %d: step decoder %v, GreedyDecode %v", i, got[i], want[i])
		}
	}
	// sampling is deterministic by seed and row, whatever the batching; top-k 1 is greedy
	a, _ := d.Sample(rows, nil, SampleConfig{Temperature: 1, TopK: 20, Seed: 9})
	d.Rows = 1
	bb, _ := d.Sample(rows, nil, SampleConfig{Temperature: 1, TopK: 20, Seed: 9})
	k1, _ := d.Sample(rows, nil, SampleConfig{Temperature: 1, TopK: 1, Seed: 9, MaxLen: c.DecLen})
	for i := range a {
		if !slices.Equal(a[i], bb[i]) {
			t.Fatalf("row %d: sample depends on batching: %v vs %v", i, a[i], bb[i])
		}
		if !slices.Equal(k1[i], want[i]) {
			t.Fatalf("row %d: top-1 sample %v, greedy %v", i, k1[i], want[i])
		}
	}
	// forced prefixes are kept
	p, _ := d.Sample(rows[:1], [][]int32{{7, 8}}, SampleConfig{Temperature: 1, Seed: 1})
	if len(p[0]) < 2 || p[0][0] != 7 || p[0][1] != 8 {
		t.Fatalf("prefix not kept: %v", p[0])
	}
}

// TestFinetuneTask1EndToEnd: synthetic ISCX-VPN corpus -> split ->
// tokenizer (fixture) -> brief KG-MSP pretraining -> Task 1 finetuning from
// the pretrained checkpoint -> trie-constrained evaluation on the test
// split, which must beat the majority-class rate.
func TestFinetuneTask1EndToEnd(t *testing.T) {
	acc, maj := runTask1(t, 1)
	if acc <= maj {
		t.Fatalf("accuracy %.3f does not beat the majority rate %.3f", acc, maj)
	}
}

func runTask1(t *testing.T, seed uint64) (acc, maj float64) {
	fx := loadFixture(t)
	start := time.Now()
	const encLen, decLen = 192, 8
	b, _ := NewExampleBuilder(fx.Tok, fx.Reg, encLen)
	ds, _ := fx.Reg.Dataset("ISCX-VPN")
	task, _ := fx.Reg.Task(1)

	var pre []Example
	var train, test []Seq2Seq
	var testLabels []string
	for i, f := range fx.Flows {
		switch fx.Splits.Assign[i] {
		case netbench.SplitPretrain:
			if ex, ok := FlowExample(f, netbench.PretrainContext(ds), fx.Tok, encLen-1); ok {
				pre = append(pre, ex)
			}
		case netbench.SplitTrain, netbench.SplitTest:
			ex, label, _, err := b.ClassificationExample(f, task, task.Labels, true)
			if err != nil {
				t.Fatal(err)
			}
			if fx.Splits.Assign[i] == netbench.SplitTrain {
				train = append(train, ex)
			} else {
				test = append(test, ex)
				testLabels = append(testLabels, label)
			}
		}
	}
	dir := t.TempDir()
	mc, _ := Preset("smoke", fx.Tok.VocabSize())
	mc.EncLen, mc.DecLen, mc.BatchSize, mc.Steps, mc.WarmupSteps, mc.LogEvery = encLen, 32, 8, 60, 6, 0
	pol, err := masking.Load("../configs/masking/kgmsp.json")
	if err != nil {
		t.Fatal(err)
	}
	preDir := filepath.Join(dir, "pretrain")
	if err := Pretrain(context.Background(), PretrainConfig{Model: mc, Masking: pol, Sentinels: 100, Backend: "go"},
		NewMemorySource(pre, true, 1), preDir); err != nil {
		t.Fatal(err)
	}
	ckpt, _ := LatestCheckpoint(preDir)
	preTime := time.Since(start)

	fc := FinetuneConfig{Init: ckpt, Seed: seed, LR: 2e-3, Epochs: 20, Batch: 8, EncLen: encLen, DecLen: decLen,
		Backend: "go", Out: filepath.Join(dir, "task1.ckpt")}
	tr, res, err := Finetune(context.Background(), fc, train)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.Checkpoint); err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(tr)
	if err != nil {
		t.Fatal(err)
	}
	labels := [][]int32{b.LabelTokens(task.Labels[0]), b.LabelTokens(task.Labels[1])}
	enc := make([][]int32, len(test))
	for i, ex := range test {
		enc[i] = ex.Enc
	}
	pred, _, err := dec.Classify(enc, labels, false)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		var tenc [][]int32
		for _, ex := range train {
			tenc = append(tenc, ex.Enc)
		}
		tp, _, _ := dec.Classify(tenc, labels, false)
		ok := 0
		for i, p := range tp {
			if slices.Equal(append(slices.Clone(labels[p]), 1), train[i].Target) {
				ok++
			}
		}
		t.Logf("training accuracy %d/%d, test predictions %v", ok, len(train), pred)
	}
	correct, count := 0, map[string]int{}
	for i, p := range pred {
		if task.Labels[p] == testLabels[i] {
			correct++
		}
		count[testLabels[i]]++
	}
	majority := max(count[task.Labels[0]], count[task.Labels[1]])
	acc, maj = float64(correct)/float64(len(test)), float64(majority)/float64(len(test))
	t.Logf("pretrain %d examples %v; finetune %d examples, %d steps, epoch losses %.3f; test %d flows: accuracy %.3f, majority %.3f; total %v",
		len(pre), preTime.Round(time.Millisecond), len(train), res.Steps, res.EpochLoss, len(test), acc, maj, time.Since(start).Round(time.Millisecond))
	return acc, maj
}

func TestFinetuneStartsFromCheckpointWithFreshOptimizer(t *testing.T) {
	d := untrainedDecoder(t, 200, 16, 8, 2)
	tr := d.t
	b := randomBatch(&tr.Cfg, 4)
	if _, err := tr.TrainStep([]Batch{b}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pre.ckpt")
	if err := tr.SaveCheckpoint(path, DataPosition{}, nil); err != nil {
		t.Fatal(err)
	}
	fc := FinetuneConfig{Init: path, Backend: "go", EncLen: 20}
	ft, err := NewFinetuneTrainer(fc, 10)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tr.Params()
	got, _ := ft.Params()
	for i := range want {
		if !slices.Equal(want[i], got[i]) {
			t.Fatalf("parameter %s not loaded", tr.Specs[i].Name)
		}
	}
	// paper optimisation for the checkpoint's preset ("smoke": its defaults), fresh AdamW, new lengths
	lr, _, batch := FinetuneDefaults("smoke")
	if ft.Step != 0 || ft.Cfg.LearningRate != lr || ft.Cfg.BatchSize != batch || ft.Cfg.Schedule != "linear" ||
		ft.Cfg.Steps != 10 || ft.Cfg.WarmupSteps != 1 || ft.Cfg.EncLen != 20 || ft.Cfg.DecLen != 8 || ft.Cfg.Dropout != 0.1 {
		t.Fatalf("finetune config %+v step %d", ft.Cfg, ft.Step)
	}
	if lr, ep, bs := FinetuneDefaults("base"); lr != 5e-5 || ep != 20 || bs != 32 {
		t.Fatalf("base finetuning defaults %g %d %d, want the paper's 5e-5, 20, 32", lr, ep, bs)
	}
	meta, err := ReadCheckpointMeta(path)
	if err != nil || meta.Step != 1 || meta.Config.EncLen != 16 {
		t.Fatalf("meta %+v %v", meta, err)
	}
	if enc, dec, err := fc.Lengths(); err != nil || enc != 20 || dec != 8 {
		t.Fatalf("lengths %d %d %v", enc, dec, err)
	}
}

func TestFinetunePatienceStopsAndShapesStayStatic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var data []Seq2Seq
	for range 5 { // 5 examples, batch 2: 3 steps per epoch, the last batch filled from the start
		enc := make([]int32, 4+r.IntN(8))
		for j := range enc {
			enc[j] = int32(3 + r.IntN(90))
		}
		data = append(data, Seq2Seq{Enc: append(enc, 1), Target: []int32{int32(3 + r.IntN(5)), 1}})
	}
	fc := FinetuneConfig{Preset: "smoke", VocabSize: 100, Seed: 2, LR: 1e-3, Epochs: 10, Batch: 2, EncLen: 16, DecLen: 4,
		Backend: "go", Patience: 1, MinDelta: 0.99, Out: filepath.Join(t.TempDir(), "ft.ckpt")}
	tr, res, err := Finetune(context.Background(), fc, data)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Converged || len(res.EpochLoss) != 2 || res.Steps != 6 || tr.Step != 6 || tr.Cfg.Steps != 30 {
		t.Fatalf("converged %v after %d epochs, %d steps (planned %d)", res.Converged, len(res.EpochLoss), res.Steps, tr.Cfg.Steps)
	}
	st, err := ReadCheckpoint(res.Checkpoint)
	if err != nil || st.Meta.Step != 6 {
		t.Fatalf("checkpoint step %d (%v)", st.Meta.Step, err)
	}
	// an input longer than the encoder is refused, not cut
	long := Seq2Seq{Enc: make([]int32, 17), Target: []int32{1}}
	if _, _, err := PackBatch(&tr.Cfg, []Seq2Seq{long}); err == nil {
		t.Fatal("over-long input accepted")
	}
}

func TestShortDecoderLengthGivesSameTokens(t *testing.T) {
	d := untrainedDecoder(t, 300, 24, 40, 2)
	c := &d.t.Cfg
	r := rand.New(rand.NewPCG(7, 8))
	enc := make([]int32, 2*c.EncLen)
	var rows [][]int32
	for i := range 2 {
		row := make([]int32, 15)
		for j := range row {
			row[j] = int32(2 + r.IntN(290))
		}
		copy(enc[i*c.EncLen:], row)
		rows = append(rows, row)
	}
	full, err := d.t.GreedyDecode(enc, 2) // decoder over all 40 positions
	if err != nil {
		t.Fatal(err)
	}
	if len(full[0]) < 17 && len(full[1]) < 17 {
		t.Fatalf("greedy outputs too short to compare: %v", full)
	}
	for _, n := range []int{3, 9, 17} { // decoder lengths 8, 16, 24
		got, err := d.Sample(rows, nil, SampleConfig{MaxLen: n})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			want := full[i][:min(n, len(full[i]))]
			if !slices.Equal(got[i], want) {
				t.Fatalf("max %d tokens, row %d: %v, full-length decoder %v", n, i, got[i], want)
			}
		}
	}
}
