//go:build unix

package bbpe

import (
	"syscall"
	"time"
)

// cpuTime returns the user and system CPU time of the process so far, which
// other processes on a shared machine do not inflate as they do wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
