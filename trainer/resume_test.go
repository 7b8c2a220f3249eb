package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeFallsBackPastCorruptCheckpoint: a run stopped after step 4
// (checkpoints of steps 3 and 4 kept) whose newest checkpoint is then cut
// short or torn resumes from step 3, says so in one line, keeps the bad
// file as step-000000004.ckpt.bad byte for byte, and ends with the numbers
// of an uninterrupted run (step 4 redone once).
func TestResumeFallsBackPastCorruptCheckpoint(t *testing.T) {
	pc := pretrainConfig(t)
	data := func() Source { return NewMemorySource(syntheticExamples(5, 96, 10, 1), true, 3) }
	whole := t.TempDir()
	if err := Pretrain(context.Background(), pc, data(), whole); err != nil {
		t.Fatal(err)
	}
	want := readMetrics(t, whole)
	for name, corrupt := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)*2/3] },
		"torn": func(b []byte) []byte {
			b = bytes.Clone(b)
			clear(b[len(b)/2 : len(b)/2+4096]) // a lost block of zeros
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			first := pc
			first.StopAfter = 4
			if err := Pretrain(context.Background(), first, data(), dir); err != nil {
				t.Fatal(err)
			}
			newest := filepath.Join(dir, CheckpointName(4))
			raw, err := os.ReadFile(newest)
			if err != nil {
				t.Fatal(err)
			}
			bad := corrupt(raw)
			if err := os.WriteFile(newest, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			var progress bytes.Buffer
			pc := pc
			pc.Progress = &progress
			if err := Pretrain(context.Background(), pc, data(), dir); err != nil {
				t.Fatal(err)
			}
			log := progress.String()
			wantLine := "checkpoint " + newest + " is corrupt ("
			wantTail := "): kept aside as step-000000004.ckpt.bad; resuming from the previous one, step-000000003.ckpt (step 3)\n"
			line := ""
			for l := range strings.Lines(log) {
				if strings.HasPrefix(l, wantLine) {
					line = l
				}
			}
			if line == "" || !strings.HasSuffix(line, wantTail) {
				t.Fatalf("no line %q...%q in the progress output:\n%s", wantLine, wantTail, log)
			}
			t.Logf("%s", strings.TrimSpace(line))
			if !strings.Contains(log, "resuming from "+filepath.Join(dir, CheckpointName(3))+" (step 3,") {
				t.Fatalf("the run did not resume from step 3:\n%s", log)
			}
			kept, err := os.ReadFile(newest + ".bad")
			if err != nil || !bytes.Equal(kept, bad) {
				t.Fatalf("the corrupt checkpoint was not kept aside unchanged (%v)", err)
			}
			got := readMetrics(t, dir)
			if len(got) != len(want) {
				t.Fatalf("%d metrics lines, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i].Step != want[i].Step || got[i].Loss != want[i].Loss || got[i].Examples != want[i].Examples {
					t.Fatalf("step %d: loss %.8f after %d examples; uninterrupted: step %d, loss %.8f after %d",
						got[i].Step, got[i].Loss, got[i].Examples, want[i].Step, want[i].Loss, want[i].Examples)
				}
			}
			if _, err := ReadCheckpoint(filepath.Join(dir, CheckpointName(6))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestResumeWithOnlyCorruptCheckpoints: when no checkpoint reads back
// whole the resume is refused with an error naming each and why, and none
// is moved (a rerun must not silently start over).
func TestResumeWithOnlyCorruptCheckpoints(t *testing.T) {
	tr := newSmoke(t, smokeConfig(t))
	dir := t.TempDir()
	for _, step := range []int{1, 2} {
		tr.Step = step
		path := filepath.Join(dir, CheckpointName(step))
		if err := tr.SaveCheckpoint(path, DataPosition{}, nil); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		if err := os.WriteFile(path, raw[:100*step], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	path, st, err := ResumeCheckpoint(dir, &log)
	if err == nil || path != "" || st != nil {
		t.Fatalf("got %q, %v, want an error", path, err)
	}
	for _, want := range []string{dir, "step-000000002.ckpt (", "step-000000001.ckpt (", "--out"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	t.Log(err)
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 2 || log.Len() != 0 {
		t.Fatalf("files %v, log %q: want both checkpoints in place and nothing logged", names, log.String())
	}
	// An empty folder is a new run.
	if path, st, err := ResumeCheckpoint(t.TempDir(), &log); path != "" || st != nil || err != nil {
		t.Fatalf("empty folder: %q, %v", path, err)
	}
}

// TestResumeRefusesChangedShape: resuming a run with another --batch,
// --enc-len or preset is refused before anything is loaded or written,
// with an error naming the flag, the stored and the requested value and
// what to do; the run then resumes with its stored values.
func TestResumeRefusesChangedShape(t *testing.T) {
	pc := pretrainConfig(t)
	data := func() Source { return NewMemorySource(syntheticExamples(5, 96, 10, 1), true, 3) }
	dir := t.TempDir()
	first := pc
	first.StopAfter = 2
	if err := Pretrain(context.Background(), first, data(), dir); err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(filepath.Join(dir, "*"))
	tiny, err := Preset("tiny", 96)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		change func(*Config)
		want   []string
	}{
		"batch": {func(c *Config) { c.BatchSize = 4 },
			[]string{"--batch: batch_size was 2, now 4", "pass its stored values (--batch 2)", "another --out"}},
		"enc-len": {func(c *Config) { c.EncLen = 48 },
			[]string{"--enc-len: enc_len was 32, now 48", "(--enc-len 32)"}},
		"preset": {func(c *Config) { c.Preset, c.DModel, c.DFF = tiny.Preset, tiny.DModel, tiny.DFF },
			[]string{"--preset: d_model was 64, now 256 (preset smoke, now tiny); d_ff was 128, now 512", "(--preset smoke)"}},
		"two flags": {func(c *Config) { c.BatchSize, c.DecLen = 3, 8 },
			[]string{"--dec-len: dec_len was 16, now 8", "--batch: batch_size was 2, now 3", "(--dec-len 16, --batch 2)"}},
	} {
		t.Run(name, func(t *testing.T) {
			changed := pc
			tc.change(&changed.Model)
			err := Pretrain(context.Background(), changed, data(), dir)
			var se *ShapeChangeError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *ShapeChangeError", err)
			}
			msg := err.Error()
			for _, want := range append(tc.want, dir, "step-000000002.ckpt") {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q:\n%s", want, msg)
				}
			}
			t.Logf("\n%s", msg)
			if after, _ := filepath.Glob(filepath.Join(dir, "*")); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Fatalf("the refused resume changed the folder: %v, was %v", after, before)
			}
		})
	}
	// Other settings may change: more steps, another learning rate.
	more := pc
	more.Model.Steps, more.Model.LearningRate = 7, 2e-3
	if err := Pretrain(context.Background(), more, data(), dir); err != nil {
		t.Fatal(err)
	}
	if p, _ := LatestCheckpoint(dir); filepath.Base(p) != CheckpointName(7) {
		t.Fatalf("newest checkpoint %s, want step 7", p)
	}
}

// TestResumeRewritesBrokenRunJSON: a run.json that is not valid JSON is
// reported on resume with its line, column and byte, kept as run.json.bad
// and written again from the checkpoint; a missing one is written again.
func TestResumeRewritesBrokenRunJSON(t *testing.T) {
	pc := pretrainConfig(t)
	data := func() Source { return NewMemorySource(syntheticExamples(5, 96, 10, 1), true, 3) }
	dir := t.TempDir()
	first := pc
	first.StopAfter = 2
	if err := Pretrain(context.Background(), first, data(), dir); err != nil {
		t.Fatal(err)
	}
	runPath := filepath.Join(dir, "run.json")
	good, err := os.ReadFile(runPath)
	if err != nil {
		t.Fatal(err)
	}
	broken := []byte("{\n  \"backend\": \"go\",\n  \"config\": {\"d_model\": 64,,\n")
	if err := os.WriteFile(runPath, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	second := pc
	second.StopAfter, second.Progress = 1, &progress
	if err := Pretrain(context.Background(), second, data(), dir); err != nil {
		t.Fatal(err)
	}
	want := runPath + " is not valid JSON (line 3, column 28, byte 48: invalid character ',' looking for beginning of object key string): " +
		"kept aside as run.json.bad and written again from checkpoint step-000000002.ckpt\n"
	if !strings.Contains(progress.String(), want) {
		t.Fatalf("progress output does not say\n%s\nit says\n%s", want, progress.String())
	}
	if b, _ := os.ReadFile(runPath + ".bad"); !bytes.Equal(b, broken) {
		t.Fatalf("run.json.bad holds %q, want the broken file", b)
	}
	again, _ := os.ReadFile(runPath)
	if !bytes.Equal(again, good) {
		t.Fatalf("run.json written again:\n%s\nwritten at the start:\n%s", again, good)
	}
	// Missing: written again, nothing set aside.
	os.Remove(runPath)
	progress.Reset()
	if err := Pretrain(context.Background(), second, data(), dir); err != nil {
		t.Fatal(err)
	}
	if want := runPath + " is missing: written from checkpoint step-000000003.ckpt\n"; !strings.Contains(progress.String(), want) {
		t.Fatalf("progress output does not say %q:\n%s", want, progress.String())
	}
	if b, _ := os.ReadFile(runPath); !bytes.Equal(b, good) {
		t.Fatalf("run.json written again:\n%s", b)
	}
	var rec map[string]any
	if err := json.Unmarshal(good, &rec); err != nil || rec["masking"] == nil || rec["sentinels"] == nil || rec["params"] == nil {
		t.Fatalf("run.json %s lacks fields (%v)", good, err)
	}
}

func TestJSONPosition(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a": x}`, "line 1, column 7, byte 6: invalid character 'x'"},
		{"[1,\n 2,\n 3 4]", "line 3, column 4, byte 11: invalid character '4' after array element"},
		{`{"a": 1`, "line 1, column 8, byte 7: unexpected end of JSON input"},
		{"{\"step\": \"x\"}", "line 1, column 12, byte 11: json: cannot unmarshal string"},
	} {
		var v struct{ Step int }
		err := json.Unmarshal([]byte(tc.in), &v)
		if got := JSONPosition([]byte(tc.in), err); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: got %q, want %q...", tc.in, got, tc.want)
		}
	}
}
