package finetune

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/synth"
	"github.com/lens-go/lens/trainer"
)

var (
	dataOnce sync.Once
	data     *Data
	dataErr  error
)

// testData is a small synthetic corpus of ISCX-VPN and CIC-IoT-2023 with a
// tokenizer trained on its pretraining split, built once per test binary.
func testData(t *testing.T) *Data {
	t.Helper()
	dataOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lens-harness-ft")
		if err != nil {
			dataErr = err
			return
		}
		ctx := context.Background()
		reg := registry.Default()
		pcaps := filepath.Join(dir, "pcaps")
		if _, dataErr = synth.Generate(ctx, reg, synth.Config{Out: pcaps, Seed: 3, Flows: 160, MinFlows: 3,
			Datasets: []string{"ISCX-VPN", "CIC-IoT-2023"}}); dataErr != nil {
			return
		}
		in, err := netbench.ExpandInputs([]string{pcaps})
		if err != nil {
			dataErr = err
			return
		}
		cdir := filepath.Join(dir, "corpus")
		if _, dataErr = netbench.Ingest(ctx, netbench.IngestConfig{Inputs: in, Out: cdir, CodeVersion: "test"}); dataErr != nil {
			return
		}
		c, err := netbench.OpenCorpus(cdir)
		if err != nil {
			dataErr = err
			return
		}
		s, err := netbench.Split(c, reg, netbench.SplitConfig{Seed: 1})
		if err != nil {
			dataErr = err
			return
		}
		var lines bytes.Buffer
		if dataErr = netbench.WritePretrainLines(c, s, reg, &lines); dataErr != nil {
			return
		}
		tr, err := bbpe.NewTrainer(bbpe.TrainConfig{VocabSize: 1200, MinFrequency: 2})
		if err != nil {
			dataErr = err
			return
		}
		tr.Add(lines.Bytes())
		for _, l := range netbench.RegistryText(reg) {
			tr.Add([]byte(l))
		}
		tok, err := tr.Train()
		if err != nil {
			dataErr = err
			return
		}
		data = &Data{Corpus: c, Splits: s, Reg: reg, Tok: tok}
	})
	if dataErr != nil {
		t.Fatal(dataErr)
	}
	return data
}

func smallConfig(t *testing.T) Config {
	return Config{Preset: "smoke", Seed: 1, LR: 2e-3, Epochs: 2, Batch: 8, EncLen: 128, DecLen: 24, Dropout: -1,
		Backend: "go", Out: t.TempDir()}
}

func TestClassifyTrieOutputsAndScores(t *testing.T) {
	d := testData(t)
	cfg := ClassifyConfig{Config: smallConfig(t), Task: 3, Scores: true}
	cfg.MaxTest = 12
	res, err := Classify(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := d.Reg.Task(3)
	if res.TestFlows == 0 || len(res.Pred) != res.TestFlows || len(res.Scores) != res.TestFlows {
		t.Fatalf("%d test flows, %d predictions, %d score rows", res.TestFlows, len(res.Pred), len(res.Scores))
	}
	for i, p := range res.Pred {
		if !slices.Contains(task.Labels, p) {
			t.Fatalf("prediction %q is not a label", p)
		}
		var z float64
		for _, s := range res.Scores[i] {
			z += s
		}
		if math.Abs(z-1) > 1e-4 {
			t.Fatalf("scores of row %d sum to %g", i, z)
		}
	}
	if res.Metrics.N != res.TestFlows || res.Backend != "go" || res.Train.Steps == 0 {
		t.Fatalf("metrics over %d, backend %q, %d steps", res.Metrics.N, res.Backend, res.Train.Steps)
	}
	if _, err := os.Stat(res.Checkpoint); err != nil {
		t.Fatal(err)
	}
	if m := res.MetricMap(); m["AC"] != res.Metrics.Accuracy {
		t.Fatal("metric map")
	}
	t.Logf("task 3: %d train, %d test flows, accuracy %.3f, %.1fs", res.TrainFlows, res.TestFlows, res.Metrics.Accuracy, res.WallSeconds)
}

func TestExtendKeepsOldCheckpointAndAddsLabelsByContext(t *testing.T) {
	d := testData(t)
	cfg := ExtendConfig{Config: smallConfig(t), Task: 2, New: []string{"p2p"}, NewLR: 1e-3, NewEpochs: 1}
	cfg.MaxTest, cfg.DecLen = 16, 0 // decoder length from the labels
	res, err := Extend(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.OldPhase.Labels, "p2p") || !slices.Contains(res.Extended.Labels, "p2p") {
		t.Fatalf("old labels %v, extended labels %v", res.OldPhase.Labels, res.Extended.Labels)
	}
	sum, err := fileSHA256(res.OldCheckpoint)
	if err != nil || sum != res.OldSHA256 {
		t.Fatalf("old checkpoint changed: %s vs %s (%v)", sum, res.OldSHA256, err)
	}
	// the second phase trained on new-class flows only and tests old and new
	task, _ := d.Reg.Task(2)
	b, _ := trainer.NewExampleBuilder(d.Tok, d.Reg, 128)
	flows, _ := d.flows(task.Dataset, netbench.SplitTrain)
	newTrain := 0
	for _, f := range flows {
		if l, ok := b.FlowLabel(f, task); ok && l == "p2p" {
			newTrain++
		}
	}
	if res.Extended.TrainFlows != newTrain || newTrain == 0 {
		t.Fatalf("extended phase trained on %d flows, %d p2p flows exist", res.Extended.TrainFlows, newTrain)
	}
	for _, p := range res.Extended.Pred {
		if !slices.Contains(res.Extended.Labels, p) {
			t.Fatalf("prediction %q outside the extended labels", p)
		}
	}
	// the model is unchanged in shape: labels come only through the context
	oldCk, err := trainer.ReadCheckpoint(res.OldCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	newCk, err := trainer.ReadCheckpoint(res.Extended.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(oldCk.Meta.Params, newCk.Meta.Params, func(a, b trainer.ParamMeta) bool {
		return a.Name == b.Name && slices.Equal(a.Dims, b.Dims)
	}) {
		t.Fatal("extension changed the model's parameters")
	}
	if dl := newCk.Meta.Config.DecLen; dl%8 != 0 || dl < len(b.LabelTokens("streaming"))+1 {
		t.Fatalf("decoder length %d", dl)
	}
	if newCk.Meta.Config.LearningRate != 1e-3 || oldCk.Meta.Config.LearningRate != 2e-3 {
		t.Fatalf("learning rates %g then %g", oldCk.Meta.Config.LearningRate, newCk.Meta.Config.LearningRate)
	}
	// running again from the saved old checkpoint skips the first phase and leaves it untouched
	cfg.OldCheckpoint = res.OldCheckpoint
	again, err := Extend(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again.OldPhase != nil || again.OldSHA256 != res.OldSHA256 {
		t.Fatal("second extension retrained or changed the old checkpoint")
	}
}

func TestScoreFieldHandComputed(t *testing.T) {
	real := []string{"80", "80", "443", "443"}
	gen := []string{"80", "80", "80", "99999"}
	r := ScoreField(trainer.FieldDstPort, real, gen)
	// p = {80: .5, 443: .5}, q = {80: .75, 99999: .25}, m = {80: .625, 443: .25, 99999: .125}
	kl1 := 0.5*math.Log(0.5/0.625) + 0.5*math.Log(0.5/0.25)
	kl2 := 0.75*math.Log(0.75/0.625) + 0.25*math.Log(0.25/0.125)
	if want := (kl1 + kl2) / 2; math.Abs(r.JSD-want) > 1e-12 {
		t.Fatalf("JSD %g, want %g", r.JSD, want)
	}
	if want := 0.5 * (0.25 + 0.5 + 0.25); math.Abs(r.TVD-want) > 1e-12 {
		t.Fatalf("TVD %g, want %g", r.TVD, want)
	}
	if r.Invalid != 1 || r.RankJSD != 0 {
		t.Fatalf("invalid %d, rank JSD %g", r.Invalid, r.RankJSD)
	}
	// IPs: the same popularity curve over different addresses has rank JSD 0
	ip := ScoreField(trainer.FieldSrcIP, []string{"10.0.0.1", "10.0.0.1", "10.0.0.2"}, []string{"1.1.1.1", "1.1.1.1", "2.2.2.2"})
	if ip.RankJSD != 0 || math.Abs(ip.JSD-math.Ln2) > 1e-12 || math.Abs(ip.TVD-1) > 1e-12 || ip.Invalid != 0 {
		t.Fatalf("ip: rank JSD %g, JSD %g, TVD %g, invalid %d", ip.RankJSD, ip.JSD, ip.TVD, ip.Invalid)
	}
	if x, ok := FieldNumber(trainer.FieldSrcIP, "10.0.2.108"); !ok || x != float64(10<<24|2<<8|108) {
		t.Fatalf("ip feature %g", x)
	}
	// detector features: IPv4 octets, ports, protocol, length; bad values give zeros and are counted
	x, bad := Features([]string{"10.0.2.108", "1.2.3.4", "80", "443", "60"}, 6)
	if bad != 0 || !slices.Equal(x, []float64{10, 0, 2, 108, 1, 2, 3, 4, 80, 443, 6, 60}) {
		t.Fatalf("features %v (%d bad)", x, bad)
	}
	x, bad = Features([]string{"10.0.2", "::1", "70000", "443", "len"}, 17)
	if bad != 4 || !slices.Equal(x, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 443, 17, 0}) {
		t.Fatalf("bad features %v (%d bad)", x, bad)
	}
}

func TestGenerateScoresSamplesOfTestFlows(t *testing.T) {
	d := testData(t)
	cfg := GenerateConfig{Config: smallConfig(t), Dataset: "ISCX-VPN", Fields: []string{trainer.FieldDstPort, trainer.FieldSrcIP}, TopK: 20}
	cfg.MaxTrain, cfg.MaxTest = 40, 12
	res, err := Generate(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Fields) != 2 || res.TestFlows != 12 {
		t.Fatalf("%d fields, %d test flows", len(res.Fields), res.TestFlows)
	}
	for _, f := range res.Fields {
		if len(f.Real) != res.TestFlows || len(f.Generated) != res.TestFlows {
			t.Fatalf("%s: %d real, %d generated", f.Field, len(f.Real), len(f.Generated))
		}
		if f.JSD < 0 || f.JSD > math.Ln2+1e-9 || f.TVD < 0 || f.TVD > 1+1e-9 {
			t.Fatalf("%s: JSD %g TVD %g", f.Field, f.JSD, f.TVD)
		}
		t.Logf("%s: JSD %.3f TVD %.3f rank JSD %.3f invalid %d; real %v generated %v", f.Field, f.JSD, f.TVD, f.RankJSD, f.Invalid, f.Real[:4], f.Generated[:4])
	}
	// sampling again from the saved generator is deterministic
	cfg.Generator = res.Checkpoint
	again, err := Generate(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Fields[0].Generated, res.Fields[0].Generated) {
		t.Fatal("sampling from the saved generator differs")
	}
	// the harness's packet choice is used when given
	cfg.Packet = func(int, *netbench.Flow) int { return 0 }
	cfg.MaxTest = 5
	first, err := Generate(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	test, _, _ := d.sampledFlows("ISCX-VPN", netbench.SplitTest, cfg.MaxTest, cfg.Seed) // the flows Generate tests on
	for i, v := range first.Fields[0].Real {
		if want, _ := trainer.HeaderValue(test[i], 0, trainer.FieldDstPort); v != want {
			t.Fatalf("flow %d: real value %q, packet 0 has %q", i, v, want)
		}
	}
}

func TestFuzzDetectorsEndToEnd(t *testing.T) {
	d := testData(t)
	gc := GenerateConfig{Config: smallConfig(t), TopK: 20}
	gc.MaxTrain, gc.MaxTest, gc.Epochs = 40, 30, 1
	res, err := Fuzz(context.Background(), d, FuzzConfig{Generate: gc, WithReal: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Detectors) != 3 || len(res.Real) != 3 || res.TestFlows == 0 {
		t.Fatalf("%+v", res)
	}
	for _, r := range append(res.Detectors, res.Real...) {
		if r.Accuracy < 0 || r.Accuracy > 1 || r.F1 < 0 || r.F1 > 1 || r.F1Positive < 0 || r.F1Positive > 1 {
			t.Fatalf("%+v", r)
		}
	}
	t.Logf("fuzz: %d train, %d test flows, generated %+v, real %+v, invalid %d, %.1fs", res.TrainFlows, res.TestFlows, res.Detectors, res.Real, res.Invalid, res.WallSeconds)
}

func TestStratifiedKeepsEveryClassAndProportions(t *testing.T) {
	var classes []string
	for i := 0; i < 900; i++ {
		classes = append(classes, "big")
	}
	for i := 0; i < 90; i++ {
		classes = append(classes, "mid")
	}
	for i := 0; i < 3; i++ {
		classes = append(classes, "tiny")
	}
	keep := Stratified(classes, 100, 7)
	if len(keep) != 100 {
		t.Fatalf("kept %d, want 100", len(keep))
	}
	count := map[string]int{}
	for k, i := range keep {
		if k > 0 && keep[k-1] >= i {
			t.Fatal("positions must be increasing (input order)")
		}
		count[classes[i]]++
	}
	if count["tiny"] < 1 || count["mid"] < 8 || count["mid"] > 11 || count["big"] < 85 {
		t.Fatalf("counts %v: want every class, in proportion", count)
	}
	if again := Stratified(classes, 100, 7); !slices.Equal(again, keep) {
		t.Fatal("same seed, different sample")
	}
	if all := Stratified(classes, 0, 7); len(all) != len(classes) {
		t.Fatal("limit 0 must keep everything")
	}
}
