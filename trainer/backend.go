package trainer

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // registers the pure-Go backend "go"
)

// BackendEnv names the environment variable that chooses the backend when
// NewBackend is given an empty name.
const BackendEnv = "LENS_BACKEND"

// BackendNotice receives the one-line notice printed when a requested backend
// is unavailable and NewBackend falls back to "go". Tests may redirect it.
var BackendNotice io.Writer = os.Stderr

// NewBackend opens a compute backend and returns it with the configuration
// that actually runs (for logs and results).
//
// name is a GoMLX backend configuration ("go", "go:parallelism=4", "xla",
// "xla:cuda", ...), "auto", or empty. Empty reads $LENS_BACKEND and then
// means "auto". "auto" uses XLA when a PJRT plugin is installed and the
// binary was built with XLA support, else "go". A request for XLA that
// cannot be met falls back to "go" with a one-line notice on BackendNotice;
// an unknown backend name is an error (never a panic).
func NewBackend(name string) (compute.Backend, string, error) {
	if name == "" {
		name = os.Getenv(BackendEnv)
	}
	if name == "" {
		name = "auto"
	}
	if name == "auto" {
		if plugins := xlaPlugins(); len(plugins) > 0 {
			name = "xla:" + plugins[0]
		} else {
			name = "go"
		}
	}
	backendName, _, _ := strings.Cut(name, ":")
	if isXLA(backendName) {
		if !xlaCompiledIn() {
			return fallbackToGo(name, "this binary was built without XLA (-tags noxla)")
		}
		if len(xlaPlugins()) == 0 {
			return fallbackToGo(name, "no PJRT plugin installed (set PJRT_PLUGIN_LIBRARY_PATH)")
		}
	}
	if known := compute.List(); !slices.Contains(known, backendName) {
		slices.Sort(known)
		return nil, "", fmt.Errorf("trainer: unknown backend %q (compiled in: %s)", backendName, strings.Join(known, ", "))
	}
	b, err := openBackend(name)
	if err != nil {
		if isXLA(backendName) {
			return fallbackToGo(name, err.Error())
		}
		return nil, "", fmt.Errorf("trainer: backend %q: %w", name, err)
	}
	return b, name, nil
}

func isXLA(name string) bool {
	switch name {
	case "xla", "stablehlo", "hlo", "shlo":
		return true
	}
	return false
}

func fallbackToGo(asked, why string) (compute.Backend, string, error) {
	firstLine, _, _ := strings.Cut(why, "\n")
	fmt.Fprintf(BackendNotice, "lens: backend %q unavailable (%s); using \"go\"\n", asked, firstLine)
	b, err := openBackend("go")
	if err != nil {
		return nil, "", err
	}
	return b, "go", nil
}

// openBackend calls compute.NewWithConfig, turning a panic into an error.
func openBackend(config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}
