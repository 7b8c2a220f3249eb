package finetune

import (
	"context"
	"fmt"
	"time"

	"github.com/lens-go/lens/harness/detect"
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
	F1       float64 `json:"f1"` // of the positive class
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
	if cfg.Task == 0 {
		cfg.Task = 11
	}
	if cfg.Positive == "" {
		cfg.Positive = "malicious"
	}
	task, err := d.Reg.Task(cfg.Task)
	if err != nil {
		return nil, err
	}
	gc := cfg.Generate
	if gc.Dataset == "" {
		gc.Dataset = task.Dataset
	}
	gc.Fields = FeatureFields
	fields, err := gc.fields(d.Reg)
	if err != nil {
		return nil, err
	}
	g, ftRes, _, ckpt, err := trainGenerator(ctx, d, &gc, fields)
	if err != nil {
		return nil, err
	}
	labelled := func(split string, limit int) ([]*netbench.Flow, []int, []int, error) {
		flows, err := d.flows(task.Dataset, split)
		if err != nil {
			return nil, nil, nil, err
		}
		var out []*netbench.Flow
		var pick, y []int
		for _, f := range flows {
			if limit > 0 && len(out) == limit {
				break
			}
			l, ok := g.b.FlowLabel(f, task)
			i := trainer.PickPacket(f, gc.Seed)
			if !ok || i < 0 {
				continue
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
	res := &FuzzResult{Task: task.ID, TrainFlows: len(trainF), TestFlows: len(testF), Train: ftRes, Checkpoint: ckpt, Backend: g.dec.BackendName()}
	xGen := make([][]float64, len(trainF))
	for i := range xGen {
		xGen[i] = make([]float64, len(fields))
	}
	for j, fld := range fields {
		gen, _, err := g.sample(trainF, trainPick, fld)
		if err != nil {
			return nil, err
		}
		for i, v := range gen {
			x, ok := FieldNumber(fld.Key, v)
			if !ok {
				res.Invalid++
			}
			xGen[i][j] = x
		}
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
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// RealFeatures are the real header fields of packet pick[i] of each flow.
func RealFeatures(flows []*netbench.Flow, pick []int, fields []registry.Field) ([][]float64, error) {
	out := make([][]float64, len(flows))
	for i, f := range flows {
		out[i] = make([]float64, len(fields))
		for j, fld := range fields {
			v, err := trainer.HeaderValue(f, pick[i], fld.Key)
			if err != nil {
				return nil, err
			}
			out[i][j], _ = FieldNumber(fld.Key, v)
		}
	}
	return out, nil
}

// RunDetectors trains a decision tree, a linear SVM and an MLP on (X, y)
// and returns each one's accuracy and positive-class F1 on (xTest, yTest).
func RunDetectors(X [][]float64, y []int, xTest [][]float64, yTest []int, seed uint64) ([]DetectorResult, error) {
	dets := []struct {
		name string
		d    detect.Detector
	}{{"DT", &detect.Tree{}}, {"SVM", &detect.SVM{Seed: seed}}, {"MLP", &detect.MLP{Seed: seed}}}
	var out []DetectorResult
	for _, dd := range dets {
		if err := dd.d.Fit(X, y); err != nil {
			return nil, fmt.Errorf("finetune: %s: %w", dd.name, err)
		}
		var tp, fp, fn, correct int
		for i, x := range xTest {
			p := dd.d.Predict(x)
			switch {
			case p == yTest[i]:
				correct++
				if p == 1 {
					tp++
				}
			case p == 1:
				fp++
			default:
				fn++
			}
		}
		f1 := 0.0
		if tp > 0 {
			f1 = 2 * float64(tp) / float64(2*tp+fp+fn)
		}
		out = append(out, DetectorResult{Detector: dd.name, Accuracy: float64(correct) / float64(len(xTest)), F1: f1})
	}
	return out, nil
}

// MetricMap returns the detector's numbers under the result package's
// names ("AC", "F1"), ready for result.Run.Metrics.
func (r DetectorResult) MetricMap() map[string]float64 {
	return map[string]float64{"AC": r.Accuracy, "F1": r.F1}
}
