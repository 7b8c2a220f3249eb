package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// captureStdout runs f with os.Stdout going to a pipe and returns what it printed.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	ferr := f()
	os.Stdout = old
	w.Close()
	out := <-done
	return out, ferr
}

// TestSubcommandHelp: every new subcommand answers --help with its usage.
func TestSubcommandHelp(t *testing.T) {
	for _, name := range []string{"finetune", "eval", "extend", "generate", "fuzz", "baseline"} {
		c, ok := commands[name]
		if !ok {
			t.Errorf("%s: not registered", name)
			continue
		}
		if err := c.run([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v", name, err)
		}
	}
}

// TestFinetuneEvalBaseline pretrains a few steps on the synthetic corpus,
// finetunes Task 1 (VPN or not), re-evaluates the checkpoint with 'lens
// eval' and checks it scores what finetuning wrote; then generates
// destination ports and trains Datanet on the same task.
func TestFinetuneEvalBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: trains models")
	}
	corpus, tok, _ := fixture(t)
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre")
	if err := runPretrain([]string{"--preset", "smoke", "--corpus", corpus, "--tokenizer", tok, "--out", pre,
		"--steps", "4", "--enc-len", "128", "--dec-len", "32", "--checkpoint-every", "4", "--backend", "go"}); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "ft")
	out, err := captureStdout(t, func() error {
		return runFinetune([]string{"--task", "1", "--corpus", corpus, "--tokenizer", tok, "--from", pre, "--out", run,
			"--epochs", "1", "--max-train", "16", "--max-test", "12", "--backend", "go"})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("finetune:\n%s", out)
	var ft, ev classificationJSON
	readJSON(t, filepath.Join(run, "eval.json"), &ft)
	if ft.TestFlows == 0 || len(ft.Pred) != ft.TestFlows || !strings.Contains(out, "macro-F1") {
		t.Fatalf("finetune wrote %d test flows, %d predictions; printed %q", ft.TestFlows, len(ft.Pred), out)
	}
	evJSON := filepath.Join(dir, "ev.json")
	out, err = captureStdout(t, func() error {
		return runEval([]string{"--task", "1", "--corpus", corpus, "--tokenizer", tok, "--max-test", "12", "--backend", "go",
			"--json", evJSON, run})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("eval:\n%s", out)
	readJSON(t, evJSON, &ev)
	if ev.Accuracy != ft.Accuracy || strings.Join(ev.Pred, ",") != strings.Join(ft.Pred, ",") || strings.Join(ev.Truth, ",") != strings.Join(ft.Truth, ",") {
		t.Errorf("eval: accuracy %v, predictions %v on %v; finetune: %v, %v on %v", ev.Accuracy, ev.Pred, ev.Truth, ft.Accuracy, ft.Pred, ft.Truth)
	}

	out, err = captureStdout(t, func() error {
		return runGenerate([]string{"--dataset", "ISCX-VPN", "--field", "dst_port", "--corpus", corpus, "--tokenizer", tok, "--from", pre,
			"--out", filepath.Join(dir, "gen"), "--epochs", "1", "--max-train", "8", "--max-test", "8", "--backend", "go"})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generate:\n%s", out)
	var gen struct {
		Fields []struct {
			Field     string   `json:"field"`
			Generated []string `json:"generated"`
		} `json:"fields"`
	}
	readJSON(t, filepath.Join(dir, "gen", "generate.json"), &gen)
	if len(gen.Fields) != 1 || gen.Fields[0].Field != "dst_port" || len(gen.Fields[0].Generated) == 0 || !strings.Contains(out, "JSD") {
		t.Errorf("generate wrote %+v", gen.Fields)
	}

	out, err = captureStdout(t, func() error {
		return runBaseline([]string{"Datanet", "--task", "1", "--corpus", corpus, "--epochs", "2", "--backend", "go"})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline:\n%s", out)
	if !regexp.MustCompile(`accuracy [01]\.\d{4}`).MatchString(out) {
		t.Errorf("baseline printed no accuracy: %q", out)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
