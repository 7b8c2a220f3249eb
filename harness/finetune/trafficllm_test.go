package finetune

import (
	"context"
	"testing"

	"github.com/lens-go/lens/baselines"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/trainer"
)

// The stand-in's examples are Lens's generation examples as text: the
// masked packet and the instruction Lens's encoder reads, the value Lens's
// target holds, for the same flows and packets.
func TestTrafficLLMExamplesAreLensExamples(t *testing.T) {
	d := testData(t)
	cfg := GenerateConfig{Config: smallConfig(t), Dataset: "ISCX-VPN"}
	fields, err := cfg.fields(d.Reg)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := d.Reg.Dataset(cfg.Dataset)
	b, err := trainer.NewExampleBuilder(d.Tok, d.Reg, 4096)
	if err != nil {
		t.Fatal(err)
	}
	tl := &trafficLLM{b: b, reg: d.Reg, ds: ds}
	flows, index, _ := d.indexedFlows(ds.Name, netbench.SplitTrain)
	flows, index = flows[:6], index[:6]
	n := len(flows)
	pick := make([]int, n)
	for j := range flows {
		pick[j] = cfg.packet(index[j], flows[j])
	}
	var exs []baselines.GenExample
	var values []string
	for _, fld := range fields {
		e, v, err := tl.examples(flows, pick, fld)
		if err != nil {
			t.Fatal(err)
		}
		exs, values = append(exs, e...), append(values, v...)
	}
	for k, fld := range fields {
		for j := range n {
			ex := exs[k*n+j]
			lens, value, err := b.GenerationExample(flows[j], cfg.packet(index[j], flows[j]), fld, ds)
			if err != nil {
				t.Fatal(err)
			}
			in, _ := d.Tok.Decode(lens.Enc)
			if want := ex.Packet + bbpe.Sep + " " + ex.Instruction + bbpe.EOS; string(in) != want {
				t.Fatalf("%s: Lens reads %q, the stand-in %q", fld.Key, in, want)
			}
			if value != ex.Value || values[k*n+j] != value {
				t.Fatalf("%s: value %q, Lens's %q", fld.Key, ex.Value, value)
			}
			if tok, ok := d.Tok.ID(ex.Mask); ex.Mask != "" && (!ok || tok != lens.Target[0]) {
				t.Fatalf("%s: mask %q is not Lens's mask token %d", fld.Key, ex.Mask, lens.Target[0])
			}
		}
	}
}

func TestGenerateTrafficLLMEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	d := testData(t)
	cfg := GenerateConfig{Config: smallConfig(t), Dataset: "ISCX-VPN", Fields: []string{trainer.FieldDstPort, trainer.FieldSrcIP}, TopK: 20}
	cfg.MaxTrain, cfg.MaxTest = 40, 12
	bc := baselines.Config{Preset: "smoke", Epochs: 2, PretrainEpochs: 1, Batch: 16}
	res, gen, err := GenerateTrafficLLM(context.Background(), d, cfg, bc)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Fields) != 2 || res.TestFlows != 12 || res.TrainFlows != 40 || len(gen.Losses) != 2 || len(gen.PretrainLosses) != 1 {
		t.Fatalf("%d fields, %d test and %d train flows, losses %v %v", len(res.Fields), res.TestFlows, res.TrainFlows, gen.Losses, gen.PretrainLosses)
	}
	test, _, _ := d.sampledFlows("ISCX-VPN", netbench.SplitTest, cfg.MaxTest, cfg.Seed) // the flows it tests on
	for k, f := range res.Fields {
		if len(f.Real) != 12 || len(f.Generated) != 12 {
			t.Fatalf("%s: %d real, %d generated", f.Field, len(f.Real), len(f.Generated))
		}
		for i, v := range f.Real {
			if want, _ := trainer.HeaderValue(test[i], trainer.PickPacket(test[i], cfg.Seed), cfg.Fields[k]); v != want {
				t.Fatalf("%s flow %d: real %q, want %q", f.Field, i, v, want)
			}
		}
		t.Logf("%s: TVD %.3f invalid %d; generated %q", f.Field, f.TVD, f.Invalid, f.Generated[:4])
	}
	t.Logf("window %d, value bytes %d, cut %d, params %d", gen.SeqLen, gen.ValueLen, gen.Cut, gen.Params)

	gc := GenerateConfig{Config: smallConfig(t), TopK: 20}
	gc.MaxTrain, gc.MaxTest = 40, 30
	fz, _, err := FuzzTrafficLLM(context.Background(), d, FuzzConfig{Generate: gc}, bc)
	if err != nil {
		t.Fatal(err)
	}
	if len(fz.Detectors) != 3 || fz.TestFlows == 0 || fz.TrainFlows == 0 {
		t.Fatalf("%+v", fz)
	}
	t.Logf("fuzz: %d train, %d test flows, %+v, invalid %d", fz.TrainFlows, fz.TestFlows, fz.Detectors, fz.Invalid)
}
