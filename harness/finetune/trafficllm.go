package finetune

import (
	"context"
	"fmt"
	"time"

	"github.com/lens-go/lens/baselines"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/trainer"
)

// The TrafficLLM stand-in (package baselines) on Lens's generation tasks,
// with Lens's data: the dataset's training and test flows (MaxTrain,
// MaxTest), the same packet of each flow (cfg.Packet, else
// trainer.PickPacket), the same masked packet text
// (ExampleBuilder.MaskPacket), the same instruction (registry.Prompt) and
// the same values (trainer.HeaderValue), as text instead of tokens. One
// model learns all listed fields, told apart by the instruction, as in
// Generate. Sampling uses the GenerateConfig's Temperature, TopK and
// SampleSeed (and Seed when the baselines.Config has none); the stand-in's
// size and training come from the baselines.Config (the GenerateConfig's
// Lens settings Preset, LR, Epochs, Batch, ... are not used).

// trafficLLM is a tuned stand-in ready to sample.
type trafficLLM struct {
	g   *baselines.TrafficLLMGen
	b   *trainer.ExampleBuilder
	reg *registry.Registry
	ds  *registry.Dataset
	res *baselines.GenResult // losses, times, size
}

// trainTrafficLLM tunes the stand-in on the generation examples of
// cfg.Dataset's training flows; it returns it and the number of flows.
func trainTrafficLLM(ctx context.Context, d *Data, cfg *GenerateConfig, bc baselines.Config, fields []registry.Field) (*trafficLLM, int, error) {
	ds, err := d.Reg.Dataset(cfg.Dataset)
	if err != nil {
		return nil, 0, err
	}
	// MaskPacket and FlowLabel do not depend on the encoder length.
	b, err := trainer.NewExampleBuilder(d.Tok, d.Reg, 1<<16)
	if err != nil {
		return nil, 0, err
	}
	t := &trafficLLM{b: b, reg: d.Reg, ds: ds}
	flows, index, err := d.sampledFlows(ds.Name, netbench.SplitTrain, cfg.MaxTrain, cfg.Seed)
	if err != nil {
		return nil, 0, err
	}
	var kept []*netbench.Flow
	var pick []int
	for k, f := range flows { // as trainGenerator: the first MaxTrain flows with a packet
		if cfg.MaxTrain > 0 && len(kept) == cfg.MaxTrain {
			break
		}
		if i := cfg.packet(index[k], f); i >= 0 {
			kept = append(kept, f)
			pick = append(pick, i)
		}
	}
	var train []baselines.GenExample
	for k, f := range kept { // flow-major, as trainGenerator
		for _, fld := range fields {
			exs, _, err := t.examples([]*netbench.Flow{f}, pick[k:k+1], fld)
			if err != nil {
				return nil, 0, err
			}
			train = append(train, exs...)
		}
	}
	if len(train) == 0 {
		return nil, 0, fmt.Errorf("finetune: %s has no training flows", ds.Name)
	}
	if bc.Seed == 0 {
		bc.Seed = cfg.Seed
	}
	gc := baselines.GenConfig{Config: bc, Temperature: cfg.Temperature, TopK: cfg.TopK, SampleSeed: cfg.SampleSeed}
	for _, ex := range train {
		gc.MaxValue = max(gc.MaxValue, len(ex.Value))
	}
	if t.g, err = baselines.NewTrafficLLMGen(gc); err != nil {
		return nil, 0, err
	}
	t.res = &baselines.GenResult{Backend: t.g.Backend, Params: t.g.Params(), SeqLen: t.g.L, ValueLen: t.g.L - t.g.P}
	start := time.Now()
	if t.g.Cfg.PretrainEpochs > 0 {
		if t.res.PretrainLosses, err = t.g.DomainStage(ctx, train); err != nil {
			return nil, 0, err
		}
	}
	t.res.PretrainTime = time.Since(start)
	start = time.Now()
	if t.res.Losses, err = t.g.Fit(ctx, train); err != nil {
		return nil, 0, err
	}
	t.res.TrainTime = time.Since(start)
	return t, len(kept), nil
}

// examples are the stand-in's examples of field fld of packet pick[i] of
// each flow, and the real values.
func (t *trafficLLM) examples(flows []*netbench.Flow, pick []int, fld registry.Field) ([]baselines.GenExample, []string, error) {
	instr := t.reg.Prompt(fld, t.ds)
	var exs []baselines.GenExample
	var real []string
	for k, f := range flows {
		m, err := t.b.MaskPacket(f, pick[k], fld.Key)
		if err != nil {
			return nil, nil, err
		}
		v, err := trainer.HeaderValue(f, pick[k], fld.Key)
		if err != nil {
			return nil, nil, err
		}
		if m.Start > m.End || m.End > len(m.Text) {
			return nil, nil, fmt.Errorf("finetune: mask range [%d,%d) outside a %d-byte packet line", m.Start, m.End, len(m.Text))
		}
		exs = append(exs, baselines.GenExample{Instruction: instr, Packet: m.Text, Mask: m.Text[m.Start:m.End], Value: v})
		real = append(real, v)
	}
	return exs, real, nil
}

// sample generates field fld of packet pick[i] of each flow; it also
// returns the real values.
func (t *trafficLLM) sample(flows []*netbench.Flow, pick []int, fld registry.Field) (gen, real []string, err error) {
	exs, real, err := t.examples(flows, pick, fld)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	gen, err = t.g.Sample(exs)
	t.res.TestTime += time.Since(start)
	return gen, real, err
}

// GenerateTrafficLLM is Generate with the TrafficLLM stand-in as the
// generator: the same examples and scores (ScoreField). It also returns
// the stand-in's losses, times and size (Generated is left empty: the
// values are in the fields' results).
func GenerateTrafficLLM(ctx context.Context, d *Data, cfg GenerateConfig, bc baselines.Config) (*GenerateResult, *baselines.GenResult, error) {
	start := time.Now()
	fields, err := cfg.fields(d.Reg)
	if err != nil {
		return nil, nil, err
	}
	t, trainN, err := trainTrafficLLM(ctx, d, &cfg, bc, fields)
	if err != nil {
		return nil, nil, err
	}
	test, index, err := d.sampledFlows(t.ds.Name, netbench.SplitTest, cfg.MaxTest, cfg.Seed) // as Generate
	if err != nil {
		return nil, nil, err
	}
	var kept []*netbench.Flow
	var pick []int
	for k, f := range test {
		if i := cfg.packet(index[k], f); i >= 0 {
			kept = append(kept, f)
			pick = append(pick, i)
		}
	}
	res := &GenerateResult{Dataset: t.ds.Name, TrainFlows: trainN, TestFlows: len(kept), Backend: t.g.Backend}
	for _, fld := range fields {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		gen, real, err := t.sample(kept, pick, fld)
		if err != nil {
			return nil, nil, err
		}
		res.Fields = append(res.Fields, ScoreField(fld.Key, real, gen))
	}
	t.res.Cut = t.g.Cut
	res.WallSeconds = time.Since(start).Seconds()
	return res, t.res, nil
}

// FuzzTrafficLLM is Fuzz (Figure 3) with the TrafficLLM stand-in as the
// generator: tuned on the task's dataset (all five fields), it generates
// the fields of the task's labelled training flows from their masked
// packets; the same detectors, features and test flows as Fuzz.
func FuzzTrafficLLM(ctx context.Context, d *Data, cfg FuzzConfig, bc baselines.Config) (*FuzzResult, *baselines.GenResult, error) {
	start := time.Now()
	task, gc, fields, err := fuzzSetup(d, &cfg)
	if err != nil {
		return nil, nil, err
	}
	t, _, err := trainTrafficLLM(ctx, d, &gc, bc, fields)
	if err != nil {
		return nil, nil, err
	}
	res, err := fuzzWith(d, cfg, task, &gc, fields, t.b, func(flows []*netbench.Flow, pick []int, fld registry.Field) ([]string, error) {
		gen, _, err := t.sample(flows, pick, fld)
		return gen, err
	})
	if err != nil {
		return nil, nil, err
	}
	t.res.Cut = t.g.Cut
	res.Backend = t.g.Backend
	res.WallSeconds = time.Since(start).Seconds()
	return res, t.res, nil
}
