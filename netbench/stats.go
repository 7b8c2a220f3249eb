package netbench

import (
	"sort"
)

// Percentiles are the 0/25/50/75/100th percentiles of a sample (Table 9).
type Percentiles [5]float64

func percentiles(v []int) Percentiles {
	var p Percentiles
	if len(v) == 0 {
		return p
	}
	sort.Ints(v)
	for i, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		// nearest-rank on the sorted sample
		k := int(q*float64(len(v)-1) + 0.5)
		p[i] = float64(v[k])
	}
	return p
}

// Stats are Table 9 and Table 10 of a corpus.
type Stats struct {
	Flows          int
	PacketsPerFlow Percentiles // total packets of each flow
	TokensPerFlow  Percentiles // tokenized length of the rendered (first 34 packets) flow
	TokenizerName  string
	PerDataset     []DatasetShare
}

// DatasetShare is one row of Table 10.
type DatasetShare struct {
	Dataset                  string
	Flows                    int
	Pretrain, Finetune, Test float64 // shares of the dataset's flows
}

// ComputeStats computes Table 9 over every flow of c (tokens counted by
// tokens, or by whitespace-separated words when tokens is nil) and Table 10
// from splits s (may be nil).
func ComputeStats(c *Corpus, s *Splits, tokens func(string) int, tokenizerName string) (*Stats, error) {
	var pk, tk []int
	if tokens == nil {
		tokenizerName = "whitespace words (no tokenizer given)"
		tokens = func(t string) int {
			n, in := 0, false
			for i := 0; i < len(t); i++ {
				sp := t[i] == ' ' || t[i] == '\n'
				if !sp && !in {
					n++
				}
				in = !sp
			}
			return n
		}
	}
	err := c.Flows(func(f *Flow) error {
		pk = append(pk, f.Packets)
		tk = append(tk, tokens(f.String()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	st := &Stats{Flows: len(pk), PacketsPerFlow: percentiles(pk), TokensPerFlow: percentiles(tk), TokenizerName: tokenizerName}
	if s != nil {
		per := map[string]*DatasetShare{}
		var names []string
		for i, d := range s.Dataset {
			if d == "" {
				continue
			}
			ds := per[d]
			if ds == nil {
				ds = &DatasetShare{Dataset: d}
				per[d] = ds
				names = append(names, d)
			}
			ds.Flows++
			if s.In(i, SplitPretrain) {
				ds.Pretrain++
			}
			if s.In(i, SplitTrain) {
				ds.Finetune++
			}
			if s.In(i, SplitTest) {
				ds.Test++
			}
		}
		sort.Strings(names)
		for _, n := range names {
			ds := per[n]
			f := float64(ds.Flows)
			ds.Pretrain, ds.Finetune, ds.Test = ds.Pretrain/f, ds.Finetune/f, ds.Test/f
			st.PerDataset = append(st.PerDataset, *ds)
		}
	}
	return st, nil
}
