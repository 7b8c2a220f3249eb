package main

import (
	"runtime/debug"
)

// version is set by the Makefile (-ldflags "-X main.version=...") to git
// describe's answer.
var version string

// codeVersion names the build: the version the Makefile stamped, else the
// VCS revision Go recorded (with "+dirty" when the tree had changes), else
// "devel".
func codeVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return rev + dirty
}
