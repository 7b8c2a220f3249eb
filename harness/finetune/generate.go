package finetune

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/trainer"
)

// GenerateConfig is one header-field generation run (Section 4.3, Table 6)
// on one dataset: finetune on generation examples of its training flows
// (one packet per flow, chosen by seed), then sample the fields of its test
// flows and compare their distribution with the real values.
type GenerateConfig struct {
	Config
	Dataset string `json:"dataset"`
	// Fields are generation field keys (src_ip, dst_ip, src_port, dst_port,
	// length); empty means all five. One model learns all listed fields,
	// told apart by the prompt; the paper trains one per field (list one).
	Fields []string `json:"fields,omitempty"`
	// Temperature and TopK of sampling; 0 means 1.0 and the whole vocabulary.
	Temperature float64 `json:"temperature"`
	TopK        int     `json:"top_k"`
	// SampleSeed seeds sampling (0: Seed).
	SampleSeed uint64 `json:"sample_seed"`
	// Generator, when set, is a finetuned generation checkpoint to sample
	// from; training is skipped.
	Generator string `json:"generator,omitempty"`
	// WithoutContext leaves the prompt out of the inputs (Table 7's
	// `w/o FT-Context`): the model sees the masked packet alone.
	WithoutContext bool `json:"without_context,omitempty"`
}

// FieldResult compares generated and real values of one field.
type FieldResult struct {
	Field     string   `json:"field"`
	Real      []string `json:"real"`
	Generated []string `json:"generated"`
	JSD       float64  `json:"jsd"`
	TVD       float64  `json:"tvd"`
	// RankJSD is NetShare's popularity-rank JSD, for IP fields only.
	RankJSD float64 `json:"rank_jsd,omitempty"`
	// Invalid counts generated values that do not parse as the field's type.
	Invalid int `json:"invalid"`
}

// GenerateResult reports a generation run.
type GenerateResult struct {
	Dataset     string                  `json:"dataset"`
	Fields      []FieldResult           `json:"fields"`
	Train       *trainer.FinetuneResult `json:"train,omitempty"`
	TrainFlows  int                     `json:"train_flows"`
	TestFlows   int                     `json:"test_flows"`
	Checkpoint  string                  `json:"checkpoint,omitempty"`
	Backend     string                  `json:"backend"`
	WallSeconds float64                 `json:"wall_seconds"`
}

// generator is a finetuned generation model ready to sample.
type generator struct {
	b   *trainer.ExampleBuilder
	dec *trainer.Decoder
	ds  *registry.Dataset
	sc  trainer.SampleConfig
}

func (g *GenerateConfig) fields(reg *registry.Registry) ([]registry.Field, error) {
	if len(g.Fields) == 0 {
		return reg.Generation.Fields, nil
	}
	var out []registry.Field
	for _, k := range g.Fields {
		i := slices.IndexFunc(reg.Generation.Fields, func(f registry.Field) bool { return f.Key == k })
		if i < 0 {
			return nil, fmt.Errorf("finetune: unknown generation field %q", k)
		}
		out = append(out, reg.Generation.Fields[i])
	}
	return out, nil
}

// trainGenerator finetunes (or loads) the generator of cfg.Dataset.
func trainGenerator(ctx context.Context, d *Data, cfg *GenerateConfig, fields []registry.Field) (*generator, *trainer.FinetuneResult, int, string, error) {
	ds, err := d.Reg.Dataset(cfg.Dataset)
	if err != nil {
		return nil, nil, 0, "", err
	}
	var tr *trainer.Trainer
	var ftRes *trainer.FinetuneResult
	ckpt := cfg.Generator
	trainN := 0
	if ckpt != "" {
		if tr, err = trainer.LoadTrainer(ckpt, cfg.Backend); err != nil {
			return nil, nil, 0, "", err
		}
	} else {
		encLen, err := cfg.encLen(d)
		if err != nil {
			return nil, nil, 0, "", err
		}
		b, err := trainer.NewExampleBuilder(d.Tok, d.Reg, encLen)
		if err != nil {
			return nil, nil, 0, "", err
		}
		b.NoPrompt = cfg.WithoutContext
		flows, index, err := d.sampledFlows(ds.Name, netbench.SplitTrain, cfg.MaxTrain, cfg.Seed)
		if err != nil {
			return nil, nil, 0, "", err
		}
		var train []trainer.Seq2Seq
		for k, f := range flows {
			if cfg.MaxTrain > 0 && trainN == cfg.MaxTrain {
				break
			}
			i := cfg.packet(index[k], f)
			if i < 0 {
				continue
			}
			trainN++
			for _, fld := range fields {
				ex, _, err := b.GenerationExample(f, i, fld, ds)
				if err != nil {
					return nil, nil, 0, "", err
				}
				train = append(train, ex)
			}
		}
		fc := cfg.finetune(d, fmt.Sprintf("gen-%s-seed%d.ckpt", ds.Name, cfg.Seed))
		if fc.DecLen == 0 {
			fc.DecLen = targetLen(train, 0)
		}
		fc.Extra = extraJSON(map[string]any{"generation": ds.Name, "fields": cfg.Fields})
		if tr, ftRes, err = trainer.Finetune(ctx, fc, train); err != nil {
			return nil, nil, 0, "", err
		}
		ckpt = ftRes.Checkpoint
	}
	b, err := trainer.NewExampleBuilder(d.Tok, d.Reg, tr.Cfg.EncLen)
	if err != nil {
		return nil, nil, 0, "", err
	}
	b.NoPrompt = cfg.WithoutContext
	dec, err := cfg.decoder(tr)
	if err != nil {
		return nil, nil, 0, "", err
	}
	sc := trainer.SampleConfig{Temperature: cfg.Temperature, TopK: cfg.TopK, Seed: cfg.SampleSeed}
	if sc.Temperature <= 0 {
		sc.Temperature = 1
	}
	if sc.Seed == 0 {
		sc.Seed = cfg.Seed
	}
	return &generator{b: b, dec: dec, ds: ds, sc: sc}, ftRes, trainN, ckpt, nil
}

// sample generates field fld of packet pick[i] of each flow; it also
// returns the real values.
func (g *generator) sample(flows []*netbench.Flow, pick []int, fld registry.Field) (gen, real []string, err error) {
	var enc, prefix [][]int32
	for k, f := range flows {
		m, err := g.b.MaskPacket(f, pick[k], fld.Key)
		if err != nil {
			return nil, nil, err
		}
		in, err := g.b.GenerationInput(m, fld, g.ds)
		if err != nil {
			return nil, nil, err
		}
		v, err := trainer.HeaderValue(f, pick[k], fld.Key)
		if err != nil {
			return nil, nil, err
		}
		enc = append(enc, in)
		prefix = append(prefix, []int32{m.Token}) // the target starts with the mask token
		real = append(real, v)
	}
	out, err := g.dec.Sample(enc, prefix, g.sc)
	if err != nil {
		return nil, nil, err
	}
	for k, ids := range out {
		gen = append(gen, g.b.GeneratedValue(ids, prefix[k][0]))
	}
	return gen, real, nil
}

// Generate finetunes a generator on a dataset and scores its samples of
// the test flows' fields against the real values (JSD and TVD over exact
// values; RankJSD for IPs).
func Generate(ctx context.Context, d *Data, cfg GenerateConfig) (*GenerateResult, error) {
	start := time.Now()
	fields, err := cfg.fields(d.Reg)
	if err != nil {
		return nil, err
	}
	g, ftRes, trainN, ckpt, err := trainGenerator(ctx, d, &cfg, fields)
	if err != nil {
		return nil, err
	}
	test, index, err := d.sampledFlows(g.ds.Name, netbench.SplitTest, cfg.MaxTest, cfg.Seed)
	if err != nil {
		return nil, err
	}
	pick := make([]int, 0, len(test))
	kept := test[:0:0]
	for k, f := range test {
		if i := cfg.packet(index[k], f); i >= 0 {
			kept = append(kept, f)
			pick = append(pick, i)
		}
	}
	res := &GenerateResult{Dataset: g.ds.Name, Train: ftRes, TrainFlows: trainN, TestFlows: len(kept), Checkpoint: ckpt, Backend: g.dec.BackendName()}
	for _, fld := range fields {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gen, real, err := g.sample(kept, pick, fld)
		if err != nil {
			return nil, err
		}
		res.Fields = append(res.Fields, ScoreField(fld.Key, real, gen))
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// ScoreField compares generated with real values of a field: JSD and TVD
// of the empirical distributions over exact values, RankJSD for IPs, and
// the count of generated values that are not valid for the field.
func ScoreField(key string, real, gen []string) FieldResult {
	r := FieldResult{Field: key, Real: real, Generated: gen}
	p, q := metrics.Empirical(real), metrics.Empirical(gen)
	r.JSD, r.TVD = metrics.JSD(p, q), metrics.TVD(p, q)
	if key == trainer.FieldSrcIP || key == trainer.FieldDstIP {
		r.RankJSD = metrics.RankJSD(real, gen)
	}
	for _, v := range gen {
		if _, ok := FieldNumber(key, v); !ok {
			r.Invalid++
		}
	}
	return r
}

// FieldNumber is a field value as a number for the detectors: an IPv4
// address as its 32-bit integer (IPv6: its first 32 bits), a port or a
// length as itself. ok is false for a value that is not valid for the field.
func FieldNumber(key, v string) (float64, bool) {
	switch key {
	case trainer.FieldSrcIP, trainer.FieldDstIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return 0, false
		}
		b := a.As16()
		if a.Is4() {
			b4 := a.As4()
			return float64(uint32(b4[0])<<24 | uint32(b4[1])<<16 | uint32(b4[2])<<8 | uint32(b4[3])), true
		}
		return float64(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])), true
	case trainer.FieldSrcPort, trainer.FieldDstPort:
		n, err := strconv.Atoi(v)
		return float64(n), err == nil && n >= 0 && n <= 65535
	case trainer.FieldLength:
		n, err := strconv.Atoi(v)
		return float64(n), err == nil && n >= 0 && n <= 1<<18
	}
	return 0, false
}

// MetricMap returns the field's numbers under the result package's names
// ("JSD", "TVD", "JSD_rank" for IPs), ready for result.Run.Metrics.
func (r FieldResult) MetricMap() map[string]float64 {
	m := map[string]float64{"JSD": r.JSD, "TVD": r.TVD}
	if r.Field == trainer.FieldSrcIP || r.Field == trainer.FieldDstIP {
		m["JSD_rank"] = r.RankJSD
	}
	return m
}
