package trainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file decides what a run folder resumes from: the newest checkpoint
// that reads back whole (corrupt ones are set aside), refused when the
// command asks for another shape than the run was started with, and with
// its run.json checked.

// ResumeCheckpoint returns the checkpoint a run in dir resumes from, read
// and verified: the newest one that reads back whole. Each newer one that
// does not (cut short by a full disk or an interrupted copy, torn by a lost
// write, changed afterwards) is renamed to NAME.bad, never deleted, and
// one line to log says which file, why, and which checkpoint the run
// resumes from instead. With no checkpoint in dir it returns "", nil, nil.
// When no checkpoint reads back whole it moves none and returns an error
// naming each and what is wrong with it.
func ResumeCheckpoint(dir string, log io.Writer) (string, *CheckpointState, error) {
	paths, err := checkpointPaths(dir)
	if err != nil {
		return "", nil, err
	}
	var bad []*CorruptCheckpointError
	for _, path := range paths {
		st, err := ReadCheckpoint(path)
		var ce *CorruptCheckpointError
		if errors.As(err, &ce) {
			bad = append(bad, ce)
			continue
		}
		if err != nil {
			return "", nil, err
		}
		for _, b := range bad {
			aside, err := moveAside(b.Path)
			if err != nil {
				return "", nil, fmt.Errorf("trainer: setting corrupt checkpoint %s aside: %w", b.Path, err)
			}
			logf(log, "checkpoint %s is corrupt (%s): kept aside as %s; resuming from the previous one, %s (step %d)\n",
				b.Path, b.Reason, filepath.Base(aside), filepath.Base(path), st.Meta.Step)
		}
		return path, st, nil
	}
	if len(bad) == 0 {
		return "", nil, nil
	}
	var why []string
	for _, b := range bad {
		why = append(why, fmt.Sprintf("%s (%s)", filepath.Base(b.Path), b.Reason))
	}
	return "", nil, fmt.Errorf("trainer: cannot resume the run in %s: no checkpoint there reads back whole: %s; "+
		"restore one from a copy, or start a new run in another folder (--out)", dir, strings.Join(why, ", "))
}

// moveAside renames path to path.bad (path.bad2, ... when that exists),
// keeping a file that must not be used but may still be examined.
func moveAside(path string) (string, error) {
	aside := path + ".bad"
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); os.IsNotExist(err) {
			break
		} else if err != nil {
			return "", err
		}
		aside = path + ".bad" + strconv.Itoa(i)
	}
	return aside, os.Rename(path, aside)
}

// shapeFields are the settings a run keeps for its whole life: the
// architecture (the checkpoint's tensors have its shapes), the tokenizer's
// vocabulary (the embedding and output layer), and the micro-batch shapes
// and accumulation (the compiled step, the stream position and the
// learning-rate schedule are in their units). Flag names the lens pretrain
// flag that sets each; fields of one flag are adjacent.
var shapeFields = []struct {
	name, flag string
	get        func(*Config) int
}{
	{"d_model", "--preset", func(c *Config) int { return c.DModel }},
	{"num_heads", "--preset", func(c *Config) int { return c.NumHeads }},
	{"d_kv", "--preset", func(c *Config) int { return c.DKV }},
	{"d_ff", "--preset", func(c *Config) int { return c.DFF }},
	{"encoder_layers", "--preset", func(c *Config) int { return c.EncoderLayer }},
	{"decoder_layers", "--preset", func(c *Config) int { return c.DecoderLayer }},
	{"relative_attention_num_buckets", "--preset", func(c *Config) int { return c.RelBuckets }},
	{"relative_attention_max_distance", "--preset", func(c *Config) int { return c.RelMaxDist }},
	{"grad_accum", "--preset", func(c *Config) int { return c.GradAccum }},
	{"vocab_size", "--tokenizer", func(c *Config) int { return c.VocabSize }},
	{"enc_len", "--enc-len", func(c *Config) int { return c.EncLen }},
	{"dec_len", "--dec-len", func(c *Config) int { return c.DecLen }},
	{"batch_size", "--batch", func(c *Config) int { return c.BatchSize }},
}

// ShapeChange is one setting a resume would change.
type ShapeChange struct {
	Field             string // Config's JSON name, e.g. "batch_size"
	Flag              string // the lens pretrain flag that sets it, e.g. "--batch"
	Stored, Requested int
}

// ShapeChangeError refuses to resume a run with settings that change its
// shape (see CheckResumeShape).
type ShapeChangeError struct {
	Dir, Checkpoint string
	Stored          Config // the configuration the run was started with
	Requested       Config
	Changes         []ShapeChange
}

func (e *ShapeChangeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trainer: %s holds a run started with other shapes than this command asks for (checkpoint %s), so it cannot resume:",
		e.Dir, filepath.Base(e.Checkpoint))
	var keep []string
	for i, c := range e.Changes {
		if i > 0 && e.Changes[i-1].Flag == c.Flag {
			fmt.Fprintf(&b, "; %s was %d, now %d", c.Field, c.Stored, c.Requested)
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %s was %d, now %d", c.Flag, c.Field, c.Stored, c.Requested)
		switch c.Flag {
		case "--preset":
			keep = append(keep, "--preset "+cmpOr(e.Stored.Preset, "(the one it was started with)"))
			if e.Stored.Preset != e.Requested.Preset {
				fmt.Fprintf(&b, " (preset %s, now %s)", e.Stored.Preset, e.Requested.Preset)
			}
		case "--tokenizer":
			keep = append(keep, fmt.Sprintf("the tokenizer it was started with (vocabulary of %d)", c.Stored))
		default:
			keep = append(keep, fmt.Sprintf("%s %d", c.Flag, c.Stored))
		}
	}
	fmt.Fprintf(&b, "\nTo resume this run, pass its stored values (%s); to train with the new ones, start a new run with another --out.",
		strings.Join(keep, ", "))
	return b.String()
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// CheckResumeShape returns a *ShapeChangeError when requested differs
// from stored, the configuration of checkpoint in the run folder dir, in
// a setting a run keeps for its whole life (model dimensions, vocabulary,
// encoder and decoder lengths, batch size, gradient accumulation). Other
// settings (steps, learning rate, dropout, checkpoint interval) may change
// on resume.
func CheckResumeShape(dir, checkpoint string, stored, requested Config) error {
	var changes []ShapeChange
	for _, f := range shapeFields {
		if s, r := f.get(&stored), f.get(&requested); s != r {
			changes = append(changes, ShapeChange{Field: f.name, Flag: f.flag, Stored: s, Requested: r})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return &ShapeChangeError{Dir: dir, Checkpoint: checkpoint, Stored: stored, Requested: requested, Changes: changes}
}

// resumePoint is the checkpoint a Pretrain in dir with configuration cfg
// resumes from ("" for a new run): the newest good one (ResumeCheckpoint),
// refused if cfg changes the run's shape (CheckResumeShape), with run.json
// checked (checkRunRecord).
func resumePoint(dir string, cfg Config, log io.Writer) (string, *CheckpointState, error) {
	path, st, err := ResumeCheckpoint(dir, log)
	if err != nil || path == "" {
		return "", nil, err
	}
	if err := CheckResumeShape(dir, path, st.Meta.Config, cfg); err != nil {
		return "", nil, err
	}
	if err := checkRunRecord(dir, path, st.Meta, log); err != nil {
		return "", nil, err
	}
	return path, st, nil
}

// runRecordName is the file in a run folder that records the run's
// configuration, written when the run starts.
const runRecordName = "run.json"

// runRecord is the content of run.json: the model configuration, the
// backend, the parameter count, and extra's fields (the masking policy and
// the sentinel count).
func runRecord(cfg Config, extra json.RawMessage, backend string, params int) ([]byte, error) {
	rec := map[string]any{"config": cfg, "backend": backend, "params": params}
	if len(extra) > 0 {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(extra, &fields); err != nil {
			return nil, fmt.Errorf("trainer: run record extra fields: %w", err)
		}
		for k, v := range fields {
			rec[k] = v
		}
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	return append(b, '\n'), err
}

// checkRunRecord reads dir's run.json when a run resumes from checkpoint
// (whose metadata is meta). A run.json that is missing, not valid JSON, or
// without a configuration is written again from the checkpoint, which
// holds the same facts; a broken one is first renamed to run.json.bad; one
// line to log says which file, what was wrong with it (for invalid JSON:
// line, column and byte offset) and what was done.
func checkRunRecord(dir, checkpoint string, meta CheckpointMeta, log io.Writer) error {
	path := filepath.Join(dir, runRecordName)
	data, err := os.ReadFile(path)
	var problem string
	switch {
	case os.IsNotExist(err):
		problem = "is missing"
	case err != nil:
		return err
	default:
		var rec struct {
			Config *Config `json:"config"`
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			problem = "is not valid JSON (" + JSONPosition(data, err) + ")"
		} else if rec.Config == nil {
			problem = `has no "config"`
		} else {
			return nil
		}
	}
	what := "written"
	if data != nil {
		aside, err := moveAside(path)
		if err != nil {
			return fmt.Errorf("trainer: %s %s; setting it aside: %w", path, problem, err)
		}
		what = "kept aside as " + filepath.Base(aside) + " and written again"
	}
	params := 0
	for _, p := range meta.Params {
		params += ParamSpec{Dims: p.Dims}.Size()
	}
	rec, err := runRecord(meta.Config, meta.Extra, meta.Backend, params)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, rec); err != nil {
		return err
	}
	logf(log, "%s %s: %s from checkpoint %s\n", path, problem, what, filepath.Base(checkpoint))
	return nil
}

// JSONPosition says where in data the JSON decoding error err is (line,
// column and byte offset, counted from 1, 1 and 0), then what it is, for
// messages about files such as run.json.
func JSONPosition(data []byte, err error) string {
	// Offset counts the bytes read when the error was found, the culprit
	// included; at the end of the input there is none.
	at := int64(-1)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end"):
		at = int64(len(data))
	case se != nil:
		at = se.Offset - 1
	case errors.As(err, &te):
		at = te.Offset - 1
	}
	if at < 0 {
		return err.Error()
	}
	at = min(at, int64(len(data)))
	line := 1 + bytes.Count(data[:at], []byte{'\n'})
	col := at - int64(bytes.LastIndexByte(data[:at], '\n'))
	return fmt.Sprintf("line %d, column %d, byte %d: %v", line, col, at, err)
}
