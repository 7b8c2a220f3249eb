//go:build !unix

package bbpe

import "time"

// cpuTime is not measured here; benchmarks then leave out CPU-time metrics.
func cpuTime() time.Duration { return 0 }
