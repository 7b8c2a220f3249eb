package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lens-go/lens/harness/result"
	"github.com/lens-go/lens/trainer"
)

// cached runs fn once for an identity: its runs are stored in
// OUT/runs/<name>-<hash>.json and served from there on later
// reproductions; fn gets its own folder for checkpoints. A failure is
// reported, remembered as the reason for the method's missing cells, and
// does not stop the reproduction.
func (h *Harness) cached(name, method string, id any, fn func(dir string) ([]result.Run, error)) {
	hid := hashOf(struct {
		ID   any
		Code string
	}{id, h.cfg.CodeVersion})
	path := filepath.Join(h.cfg.Out, "runs", name+"-"+hid+".json")
	if b, err := os.ReadFile(path); err == nil {
		var runs []result.Run
		err := json.Unmarshal(b, &runs)
		if err == nil {
			for _, r := range runs {
				h.set.Put(r)
			}
			fmt.Fprintf(h.log, "[%s] %-24s cached\n", ts(), name)
			return
		}
		// A broken cache entry is said, kept aside, and run again.
		what := "kept aside as " + filepath.Base(path) + ".bad"
		if rerr := os.Rename(path, path+".bad"); rerr != nil {
			what = rerr.Error()
		}
		fmt.Fprintf(h.log, "[%s] %-24s cached runs %s are not valid JSON (%s): %s; running again\n",
			ts(), name, path, trainer.JSONPosition(b, err), what)
	}
	dir := filepath.Join(h.cfg.Out, "runs", name+"-"+hid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.fail(method, name, err)
		return
	}
	start := time.Now()
	runs, err := fn(dir)
	if err != nil {
		h.fail(method, name, err)
		return
	}
	for i := range runs {
		if runs[i].ID == "" {
			runs[i].ID = hashOf([]any{name, hid, i})
		}
		if runs[i].Prov.WallSeconds == 0 {
			runs[i].Prov.WallSeconds = time.Since(start).Seconds()
		}
		h.set.Put(runs[i])
	}
	b, _ := json.MarshalIndent(runs, "", " ")
	if err := os.WriteFile(path+".tmp", b, 0o644); err == nil {
		os.Rename(path+".tmp", path)
	}
	fmt.Fprintf(h.log, "[%s] %-24s done in %s\n", ts(), name, time.Since(start).Round(time.Second))
}

// fail records why a run has no numbers.
func (h *Harness) fail(method, name string, err error) {
	msg := fmt.Sprintf("%s failed: %v", name, err)
	fmt.Fprintf(h.log, "[%s] %-24s FAILED: %v\n", ts(), name, err)
	if old, ok := h.set.Notes[method]; ok && !strings.HasPrefix(old, "not run") {
		h.set.Notes[method] = old + "; " + msg
	} else {
		h.set.Notes[method] = msg
	}
}
