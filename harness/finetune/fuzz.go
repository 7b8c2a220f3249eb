package finetune

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/lens-go/lens/harness/detect"
	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/trainer"
)

// FuzzConfig is the fuzzing test (Section 4.3, Figure 3): a generator
// finetuned on the task's dataset generates the header fields of the task's
// training flows; decision tree, SVM and MLP detectors learn
// benign/malicious from them and are tested on the real test flows' real
// header fields.
type FuzzConfig struct {
	// Generate configures the generator (its Dataset defaults to the
	// task's; Fields are always all five).
	Generate GenerateConfig `json:"generate"`
	// Task is the detection task; 0 means 11 (IoT attack detection).
	Task int `json:"task"`
	// Positive is the label counted as 1; "" means "malicious".
	Positive string `json:"positive"`
	// DetectorSeed seeds the SVM and MLP.
	DetectorSeed uint64 `json:"detector_seed"`
	// WithReal also trains each detector on the real training headers, as
	// a reference.
	WithReal bool `json:"with_real"`
}

// DetectorResult is one detector's test performance.
type DetectorResult struct {
	Detector string  `json:"detector"` // "DT", "SVM", "MLP"
	Accuracy float64 `json:"accuracy"`
	// F1 is the macro F1 over benign and malicious (as the harness scores
	// every method in Figure 3); F1Positive that of the malicious class.
	F1         float64 `json:"f1"`
	F1Positive float64 `json:"f1_positive"`
}

// FuzzResult reports the fuzzing test.
type FuzzResult struct {
	Task      int              `json:"task"`
	Detectors []DetectorResult `json:"detectors"`
	// Real is the same detectors trained on the real training headers.
	Real []DetectorResult `json:"real,omitempty"`
	// Invalid counts generated field values that did not parse (their
	// feature is 0).
	Invalid     int                     `json:"invalid"`
	TrainFlows  int                     `json:"train_flows"`
	TestFlows   int                     `json:"test_flows"`
	Train       *trainer.FinetuneResult `json:"train,omitempty"`
	Checkpoint  string                  `json:"checkpoint,omitempty"`
	Backend     string                  `json:"backend"`
	WallSeconds float64                 `json:"wall_seconds"`
}

// FeatureFields are the header fields of a detector's feature vector, in order.
var FeatureFields = []string{trainer.FieldSrcIP, trainer.FieldDstIP, trainer.FieldSrcPort, trainer.FieldDstPort, trainer.FieldLength}

// Fuzz runs the fuzzing test.
func Fuzz(ctx context.Context, d *Data, cfg FuzzConfig) (*FuzzResult, error) {
	start := time.Now()
	task, gc, fields, err := fuzzSetup(d, &cfg)
	if err != nil {
		return nil, err
	}
	g, ftRes, _, ckpt, err := trainGenerator(ctx, d, &gc, fields)
	if err != nil {
		return nil, err
	}
	res, err := fuzzWith(d, cfg, task, &gc, fields, g.b, func(flows []*netbench.Flow, pick []int, fld registry.Field) ([]string, error) {
		gen, _, err := g.sample(flows, pick, fld)
		return gen, err
	})
	if err != nil {
		return nil, err
	}
	res.Train, res.Checkpoint, res.Backend = ftRes, ckpt, g.dec.BackendName()
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// fuzzSetup resolves cfg's defaults, its task, the generation config (the
// task's dataset, all five fields) and the fields.
func fuzzSetup(d *Data, cfg *FuzzConfig) (*registry.Task, GenerateConfig, []registry.Field, error) {
	if cfg.Task == 0 {
		cfg.Task = 11
	}
	if cfg.Positive == "" {
		cfg.Positive = "malicious"
	}
	task, err := d.Reg.Task(cfg.Task)
	if err != nil {
		return nil, GenerateConfig{}, nil, err
	}
	gc := cfg.Generate
	if gc.Dataset == "" {
		gc.Dataset = task.Dataset
	}
	gc.Fields = FeatureFields
	fields, err := gc.fields(d.Reg)
	return task, gc, fields, err
}

// fuzzWith runs the fuzzing test with a trained generator: sample
// generates field fld of packet pick[i] of each flow. b provides the flows'
// labels.
func fuzzWith(d *Data, cfg FuzzConfig, task *registry.Task, gc *GenerateConfig, fields []registry.Field, b *trainer.ExampleBuilder,
	sample func(flows []*netbench.Flow, pick []int, fld registry.Field) ([]string, error)) (*FuzzResult, error) {
	labelled := func(split string, limit int) ([]*netbench.Flow, []int, []int, error) {
		flows, index, err := d.sampledFlows(task.Dataset, split, limit, gc.Seed)
		if err != nil {
			return nil, nil, nil, err
		}
		var out []*netbench.Flow
		var pick, y []int
		for k, f := range flows {
			if limit > 0 && len(out) == limit {
				break
			}
			l, ok := b.FlowLabel(f, task)
			i := gc.packet(index[k], f)
			if !ok || i < 0 || !f.Src.Is4() || !f.Dst.Is4() {
				continue // the detectors' features are IPv4 octets (as the harness's)
			}
			out = append(out, f)
			pick = append(pick, i)
			if l == cfg.Positive {
				y = append(y, 1)
			} else {
				y = append(y, 0)
			}
		}
		return out, pick, y, nil
	}
	trainF, trainPick, yTrain, err := labelled(netbench.SplitTrain, gc.MaxTrain)
	if err != nil {
		return nil, err
	}
	testF, testPick, yTest, err := labelled(netbench.SplitTest, gc.MaxTest)
	if err != nil {
		return nil, err
	}
	if len(trainF) == 0 || len(testF) == 0 {
		return nil, fmt.Errorf("finetune: task %d has %d training and %d test flows", task.ID, len(trainF), len(testF))
	}
	res := &FuzzResult{Task: task.ID, TrainFlows: len(trainF), TestFlows: len(testF)}
	values := make([][]string, len(fields)) // values[j][i]: field j of flow i
	for j, fld := range fields {
		gen, err := sample(trainF, trainPick, fld)
		if err != nil {
			return nil, err
		}
		values[j] = gen
	}
	xGen := make([][]float64, len(trainF))
	for i, f := range trainF {
		v := make([]string, len(fields))
		for j := range fields {
			v[j] = values[j][i]
		}
		x, bad := Features(v, f.Headers[trainPick[i]].Proto)
		res.Invalid += bad
		xGen[i] = x
	}
	xTest, err := RealFeatures(testF, testPick, fields)
	if err != nil {
		return nil, err
	}
	if res.Detectors, err = RunDetectors(xGen, yTrain, xTest, yTest, cfg.DetectorSeed); err != nil {
		return nil, err
	}
	if cfg.WithReal {
		xReal, err := RealFeatures(trainF, trainPick, fields)
		if err != nil {
			return nil, err
		}
		if res.Real, err = RunDetectors(xReal, yTrain, xTest, yTest, cfg.DetectorSeed); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// RealFeatures are the detector features of the real header fields of
// packet pick[i] of each flow.
func RealFeatures(flows []*netbench.Flow, pick []int, fields []registry.Field) ([][]float64, error) {
	out := make([][]float64, len(flows))
	for i, f := range flows {
		v := make([]string, len(fields))
		for j, fld := range fields {
			var err error
			if v[j], err = trainer.HeaderValue(f, pick[i], fld.Key); err != nil {
				return nil, err
			}
		}
		out[i], _ = Features(v, f.Headers[pick[i]].Proto)
	}
	return out, nil
}

// Features turns the five field values (FeatureFields order) of a packet
// into the detectors' numeric features as the harness does for every
// method: source and destination IPv4 octets, ports, the IP protocol (not
// generated: the packet's own) and the length. A value that does not parse
// gives zeros and is counted in bad.
func Features(values []string, proto uint8) (x []float64, bad int) {
	x = make([]float64, 0, 12)
	for _, v := range values[:2] {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			bad++
			x = append(x, 0, 0, 0, 0)
			continue
		}
		for _, o := range a.As4() {
			x = append(x, float64(o))
		}
	}
	num := func(key, v string) float64 {
		n, ok := FieldNumber(key, v)
		if !ok {
			bad++
			return 0
		}
		return n
	}
	x = append(x, num(trainer.FieldSrcPort, values[2]), num(trainer.FieldDstPort, values[3]), float64(proto), num(trainer.FieldLength, values[4]))
	return x, bad
}

// RunDetectors trains a decision tree (depth 8, as the harness), a linear
// SVM and an MLP on (X, y; 1 = positive) and returns each one's accuracy
// and F1 on (xTest, yTest).
func RunDetectors(X [][]float64, y []int, xTest [][]float64, yTest []int, seed uint64) ([]DetectorResult, error) {
	dets := []struct {
		name string
		d    detect.Detector
	}{{"DT", &detect.Tree{MaxDepth: 8}}, {"SVM", &detect.SVM{Seed: seed}}, {"MLP", &detect.MLP{Seed: seed}}}
	var out []DetectorResult
	for _, dd := range dets {
		if err := dd.d.Fit(X, y); err != nil {
			return nil, fmt.Errorf("finetune: %s: %w", dd.name, err)
		}
		names := []string{"benign", "malicious"}
		truth, pred := make([]string, len(xTest)), make([]string, len(xTest))
		for i, x := range xTest {
			truth[i], pred[i] = names[yTest[i]], names[dd.d.Predict(x)]
		}
		c := metrics.Classify(names, truth, pred)
		out = append(out, DetectorResult{Detector: dd.name, Accuracy: c.Accuracy, F1: c.MacroF1, F1Positive: c.PerClass["malicious"].F1})
	}
	return out, nil
}

// MetricMap returns the detector's numbers under the result package's
// names ("AC", "F1"), ready for result.Run.Metrics.
func (r DetectorResult) MetricMap() map[string]float64 {
	return map[string]float64{"AC": r.Accuracy, "F1": r.F1}
}
