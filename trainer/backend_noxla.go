//go:build noxla

package trainer

func xlaCompiledIn() bool  { return false }
func xlaPlugins() []string { return nil }
