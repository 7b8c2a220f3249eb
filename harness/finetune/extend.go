package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ExtendConfig is one extension scenario (Section 4.2, Appendix C.1):
// finetune on the old classes (the task's labels minus the new ones, the
// context listing old labels only), save; reload that checkpoint, add the
// new labels to the context and finetune only on new-class training flows
// at a low learning rate; test on old and new test flows.
type ExtendConfig struct {
	// Config is the old-class phase (Init is the pretrained checkpoint).
	Config
	Task int `json:"task"`
	// NewClasses takes the first n of the task's extension classes
	// (Appendix C.1: 1, 3 or 5); New lists them explicitly instead.
	NewClasses int      `json:"new_classes"`
	New        []string `json:"new,omitempty"`
	// NewLR is the new-class phase's learning rate; 0 means 5e-6 (the paper).
	NewLR float64 `json:"new_lr"`
	// NewEpochs is the new-class phase's epochs; 0 means Epochs.
	NewEpochs int `json:"new_epochs"`
	// OldCheckpoint, when it names an existing file, is the old-class
	// model and the first phase is skipped.
	OldCheckpoint string `json:"old_checkpoint,omitempty"`
}

// ExtendResult reports both phases.
type ExtendResult struct {
	Task int      `json:"task"`
	Old  []string `json:"old"`
	New  []string `json:"new"`
	// OldPhase is the old-class model on the old test flows (nil when the
	// old checkpoint was given).
	OldPhase *ClassifyResult `json:"old_phase,omitempty"`
	// Extended is the extended model on old and new test flows.
	Extended *ClassifyResult `json:"extended"`
	// OldCheckpoint and its sha256, checked unchanged after the second phase.
	OldCheckpoint string  `json:"old_checkpoint"`
	OldSHA256     string  `json:"old_sha256"`
	WallSeconds   float64 `json:"wall_seconds"`
}

// Extend runs an extension scenario.
func Extend(ctx context.Context, d *Data, cfg ExtendConfig) (*ExtendResult, error) {
	start := time.Now()
	task, err := d.Reg.Task(cfg.Task)
	if err != nil {
		return nil, err
	}
	newLabels := cfg.New
	if len(newLabels) == 0 {
		if cfg.NewClasses <= 0 || cfg.NewClasses > len(task.Extension) {
			return nil, fmt.Errorf("finetune: task %d has %d extension classes, asked for %d", task.ID, len(task.Extension), cfg.NewClasses)
		}
		newLabels = task.Extension[:cfg.NewClasses]
	}
	var old []string
	for _, l := range task.Labels {
		if !slices.Contains(newLabels, l) {
			old = append(old, l)
		}
	}
	for _, l := range newLabels {
		if !slices.Contains(task.Labels, l) {
			return nil, fmt.Errorf("finetune: new class %q is not a label of task %d", l, task.ID)
		}
	}
	res := &ExtendResult{Task: task.ID, Old: old, New: newLabels}
	oldPath := cfg.OldCheckpoint
	if _, err := os.Stat(oldPath); oldPath == "" || err != nil {
		if cfg.Out == "" {
			return nil, fmt.Errorf("finetune: extension needs Out (or an existing OldCheckpoint) to save the old-class model")
		}
		name := fmt.Sprintf("task%d-old%d-seed%d.ckpt", task.ID, len(newLabels), cfg.Seed)
		if oldPath != "" {
			name = filepath.Base(oldPath)
		}
		r, err := Classify(ctx, d, ClassifyConfig{Config: cfg.Config, Task: task.ID, Labels: old, Checkpoint: name})
		if err != nil {
			return nil, fmt.Errorf("finetune: old-class phase: %w", err)
		}
		res.OldPhase, oldPath = r, r.Checkpoint
	}
	before, err := fileSHA256(oldPath)
	if err != nil {
		return nil, err
	}
	res.OldCheckpoint, res.OldSHA256 = oldPath, before

	// Second phase: the old model, the context listing old and new labels
	// (in the task's order), trained on new-class flows only.
	all := make([]string, 0, len(task.Labels))
	for _, l := range task.Labels {
		if slices.Contains(old, l) || slices.Contains(newLabels, l) {
			all = append(all, l)
		}
	}
	nc := cfg.Config
	nc.Init = oldPath
	nc.LR = cfg.NewLR
	if nc.LR <= 0 {
		nc.LR = 5e-6
	}
	if cfg.NewEpochs > 0 {
		nc.Epochs = cfg.NewEpochs
	}
	nc.EncLen, nc.DecLen = 0, 0 // the old model's lengths
	ext, err := Classify(ctx, d, ClassifyConfig{Config: nc, Task: task.ID, Labels: all, TrainLabels: newLabels,
		Checkpoint: fmt.Sprintf("task%d-extended%d-seed%d.ckpt", task.ID, len(newLabels), cfg.Seed)})
	if err != nil {
		return nil, fmt.Errorf("finetune: new-class phase: %w", err)
	}
	res.Extended = ext
	after, err := fileSHA256(oldPath)
	if err != nil {
		return nil, err
	}
	if after != before {
		return nil, fmt.Errorf("finetune: the old-class checkpoint %s changed during extension", oldPath)
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
