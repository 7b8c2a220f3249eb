package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lens-go/lens/harness/metrics"
	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/trainer"
)

// Evaluate decodes the task's test flows with a finetuned classification
// checkpoint (one Classify wrote) without training, and scores them. The
// test flows are those Classify picks with the same Seed, MaxTest and
// TestLabels. When cfg.Labels is empty the labels are the checkpoint's (as
// Classify recorded them), else the task's; the context is left out when
// cfg.WithoutContext is set or the checkpoint was finetuned without it.
func Evaluate(ctx context.Context, d *Data, cfg ClassifyConfig, checkpoint string) (*ClassifyResult, error) {
	start := time.Now()
	task, err := d.Reg.Task(cfg.Task)
	if err != nil {
		return nil, err
	}
	meta, err := trainer.ReadCheckpointMeta(checkpoint)
	if err != nil {
		return nil, err
	}
	var extra struct {
		Task           int      `json:"task"`
		Labels         []string `json:"labels"`
		WithoutContext bool     `json:"without_context"`
	}
	if len(meta.Extra) > 0 {
		_ = json.Unmarshal(meta.Extra, &extra)
	}
	if extra.Task != 0 && extra.Task != task.ID {
		return nil, fmt.Errorf("finetune: %s was finetuned on task %d, not %d", checkpoint, extra.Task, task.ID)
	}
	labels := cfg.Labels
	if len(labels) == 0 {
		labels = extra.Labels
	}
	if len(labels) == 0 {
		labels = task.Labels
	}
	for _, l := range labels {
		if !slices.Contains(task.Labels, l) {
			return nil, fmt.Errorf("finetune: %q is not a label of task %d", l, task.ID)
		}
	}
	withoutContext := cfg.WithoutContext || extra.WithoutContext
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tr, err := trainer.LoadTrainer(checkpoint, cfg.Backend)
	if err != nil {
		return nil, err
	}
	b, err := trainer.NewExampleBuilder(d.Tok, d.Reg, tr.Cfg.EncLen)
	if err != nil {
		return nil, err
	}
	res := &ClassifyResult{Task: task.ID, Labels: labels, Checkpoint: checkpoint, Backend: tr.BackendName}
	if withoutContext {
		res.Variant = "w/o FT-Context"
	}
	allowed := cfg.TestLabels
	if len(allowed) == 0 {
		allowed = labels
	}
	flows, err := d.flows(task.Dataset, netbench.SplitTest)
	if err != nil {
		return nil, err
	}
	var eligible []*netbench.Flow
	var eligibleLabels []string
	for _, f := range flows {
		l, ok := b.FlowLabel(f, task)
		if ok && slices.Contains(allowed, l) {
			eligible = append(eligible, f)
			eligibleLabels = append(eligibleLabels, l)
		}
	}
	var test []trainer.Seq2Seq
	for _, k := range Stratified(eligibleLabels, cfg.MaxTest, cfg.Seed) {
		ex, _, dropped, err := b.ClassificationExample(eligible[k], task, labels, !withoutContext)
		if err != nil {
			return nil, err
		}
		res.DroppedPackets += dropped
		test = append(test, ex)
		res.Truth = append(res.Truth, eligibleLabels[k])
	}
	res.TestFlows = len(test)
	if len(test) > 0 {
		if res.Pred, res.Scores, err = classifyWith(&cfg.Config, tr, b, test, labels, cfg.Scores); err != nil {
			return nil, err
		}
	}
	res.Metrics = metrics.Classify(labels, res.Truth, res.Pred)
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}
