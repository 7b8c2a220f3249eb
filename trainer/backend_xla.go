//go:build !noxla

package trainer

import "github.com/gomlx/go-xla/compute/xla" // registers "xla" (needs cgo; plugins load at run time)

func init() {
	// Never download plugins: training machines may be offline.
	xla.EnableAutoInstall(false)
}

func xlaCompiledIn() bool { return true }

// xlaPlugins lists the installed PJRT plugins ("cpu", "cuda", ...).
func xlaPlugins() (plugins []string) {
	defer func() {
		if recover() != nil {
			plugins = nil
		}
	}()
	return xla.GetAvailablePlugins()
}
