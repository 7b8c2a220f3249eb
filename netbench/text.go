package netbench

import (
	"bufio"
	"io"

	"github.com/lens-go/lens/netbench/registry"
)

// WritePretrainLines writes the packet lines of every pretraining flow of
// corpus c under splits s, one per line, followed by the flow's dataset
// context: the text the tokenizer learns from (Section 3.1).
func WritePretrainLines(c *Corpus, s *Splits, reg *registry.Registry, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	i := 0
	err := c.Flows(func(f *Flow) error {
		idx := i
		i++
		if !s.In(idx, SplitPretrain) {
			return nil
		}
		for _, l := range f.Lines {
			bw.WriteString(l.Text)
			bw.WriteByte('\n')
		}
		if d, err := reg.Dataset(s.Dataset[idx]); err == nil {
			bw.WriteString(PretrainContext(d))
			bw.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// RegistryText lists the natural-language sentences of the registry: the
// pretraining contexts, every task context (with its labels) and every
// generation prompt. It is the tokenizer's natural-language corpus when the
// user gives none.
func RegistryText(reg *registry.Registry) []string {
	var out []string
	for i := range reg.Datasets {
		d := &reg.Datasets[i]
		out = append(out, PretrainContext(d))
		for _, f := range reg.Generation.Fields {
			out = append(out, reg.Prompt(f, d))
		}
	}
	for i := range reg.Tasks {
		t := &reg.Tasks[i]
		out = append(out, reg.Context(t, t.Labels), reg.ContextWithoutLabels(t))
	}
	return out
}
