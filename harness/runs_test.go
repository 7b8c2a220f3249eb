package harness

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lens-go/lens/harness/result"
)

// TestBrokenRunCacheIsSaidAndRerun: a cached runs file that is not valid
// JSON is not silently skipped: the log names it with the line and column
// of the error, it is kept as NAME.bad, and the run is done again (and
// cached anew); a good cache entry is served without running.
func TestBrokenRunCacheIsSaidAndRerun(t *testing.T) {
	var log bytes.Buffer
	h := &Harness{cfg: Config{Out: t.TempDir(), CodeVersion: "test"}, log: &log, set: &result.Set{Notes: map[string]string{}}}
	calls := 0
	fn := func(dir string) ([]result.Run, error) {
		calls++
		return []result.Run{{ID: "r1", Method: "M"}}, nil
	}
	h.cached("task1", "M", 1, fn)
	paths, _ := filepath.Glob(filepath.Join(h.cfg.Out, "runs", "task1-*.json"))
	if calls != 1 || len(paths) != 1 {
		t.Fatalf("%d calls, cache files %v", calls, paths)
	}
	broken := []byte("[\n {\"id\": \"r1\",, }\n]\n")
	if err := os.WriteFile(paths[0], broken, 0o644); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	h.cached("task1", "M", 1, fn)
	want := "cached runs " + paths[0] + " are not valid JSON (line 2, column 14, byte 15: invalid character ','"
	if calls != 2 || !strings.Contains(log.String(), want) || !strings.Contains(log.String(), "kept aside as "+filepath.Base(paths[0])+".bad; running again") {
		t.Fatalf("%d calls; log does not say %q...:\n%s", calls, want, log.String())
	}
	t.Log(strings.TrimSpace(log.String()))
	if b, _ := os.ReadFile(paths[0] + ".bad"); !bytes.Equal(b, broken) {
		t.Fatalf("kept %q, want the broken file", b)
	}
	log.Reset()
	h.cached("task1", "M", 1, fn)
	if calls != 2 || !strings.Contains(log.String(), "cached") {
		t.Fatalf("the rerun's runs were not cached: %d calls, log %q", calls, log.String())
	}
}
