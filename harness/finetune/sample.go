package finetune

import (
	"math"
	"sort"

	"github.com/lens-go/lens/netbench"
)

// Stratified picks at most limit of the items whose classes are given, in
// proportion to each class's share and at least one of every class while
// room remains (so small classes of a long tail are tested too), each class's
// items taken in a fixed pseudo-random order from seed. It returns the
// chosen positions in their input order; limit <= 0 keeps everything. A cap
// that took the first items instead would keep only the first few classes of
// a corpus written class by class.
func Stratified(classes []string, limit int, seed uint64) []int {
	n := len(classes)
	if limit <= 0 || n <= limit {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all
	}
	byClass := map[string][]int{}
	var names []string
	for i, c := range classes {
		if _, ok := byClass[c]; !ok {
			names = append(names, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	sort.Strings(names)
	quota := map[string]int{}
	total := 0
	for _, c := range names {
		q := int(math.Floor(float64(limit) * float64(len(byClass[c])) / float64(n)))
		q = max(q, 1)
		quota[c] = q
		total += q
	}
	// Trim the largest quotas while over the limit; fill the largest classes
	// while under it.
	for total > limit {
		big := ""
		for _, c := range names {
			if big == "" || quota[c] > quota[big] {
				big = c
			}
		}
		if quota[big] <= 1 {
			break
		}
		quota[big]--
		total--
	}
	for total < limit {
		grown := false
		for _, c := range names {
			if total < limit && quota[c] < len(byClass[c]) {
				quota[c]++
				total++
				grown = true
			}
		}
		if !grown {
			break
		}
	}
	var out []int
	for _, c := range names {
		items := append([]int(nil), byClass[c]...)
		sort.Slice(items, func(a, b int) bool { return mix(uint64(items[a])^seed) < mix(uint64(items[b])^seed) })
		out = append(out, items[:min(quota[c], len(items))]...)
	}
	sort.Ints(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// sampledFlows is indexedFlows capped at limit flows by Stratified over the
// flows' fine classes.
func (d *Data) sampledFlows(dataset, split string, limit int, seed uint64) ([]*netbench.Flow, []int, error) {
	flows, index, err := d.indexedFlows(dataset, split)
	if err != nil || limit <= 0 || len(flows) <= limit {
		return flows, index, err
	}
	classes := make([]string, len(flows))
	for i, idx := range index {
		classes[i] = d.Splits.Class[idx]
	}
	keep := Stratified(classes, limit, seed)
	outF := make([]*netbench.Flow, len(keep))
	outI := make([]int, len(keep))
	for k, i := range keep {
		outF[k], outI[k] = flows[i], index[i]
	}
	return outF, outI, nil
}
