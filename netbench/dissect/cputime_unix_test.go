//go:build unix

package dissect

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used: on a
// shared machine it measures the work done better than the wall clock.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
