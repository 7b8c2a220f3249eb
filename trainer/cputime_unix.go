//go:build unix

package trainer

import (
	"syscall"
	"time"
)

// processCPUTime is the user plus system CPU time of this process so far.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
