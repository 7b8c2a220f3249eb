package trainer

import (
	"fmt"
	"strings"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/span"
)

// FlowExample tokenizes a flow for pretraining: its packet lines joined by
// newlines, each token tagged with the kind of the field it carries and the
// field's id (from the lines' typed spans; tokens of literal text get kind
// span.None and field -1), then <sep> and context. Whole packets are dropped
// from the end until the example fits maxLen tokens (the context is never
// cut; maxLen <= 0 means no limit). It returns false when not even one packet
// fits.
func FlowExample(f *netbench.Flow, context string, tok *bbpe.Tokenizer, maxLen int) (Example, bool) {
	ctxIDs := tok.EncodeString(" " + context).IDs
	sepID := int32(bbpe.SepID)
	lines := f.Lines
	for len(lines) > 0 {
		ex := linesExample(lines, tok)
		if maxLen <= 0 || len(ex.IDs)+1+len(ctxIDs) <= maxLen {
			ex.IDs = append(ex.IDs, sepID)
			ex.Kinds = append(ex.Kinds, span.None)
			ex.Fields = append(ex.Fields, -1)
			ex.ContextStart = len(ex.IDs)
			for _, id := range ctxIDs {
				ex.IDs = append(ex.IDs, id)
				ex.Kinds = append(ex.Kinds, span.Context)
				ex.Fields = append(ex.Fields, -1)
			}
			return ex, true
		}
		// Drop packets from the end; estimate how many by the overflow.
		over := len(ex.IDs) + 1 + len(ctxIDs) - maxLen
		drop := 1
		if per := len(ex.IDs) / len(lines); per > 0 && over/per > 1 {
			drop = over / per
		}
		lines = lines[:max(0, len(lines)-drop)]
	}
	return Example{}, false
}

// linesExample encodes lines joined by "\n" and tags the tokens.
func linesExample(lines []netbench.Line, tok *bbpe.Tokenizer) Example {
	var sb strings.Builder
	offsets := make([]int, len(lines))
	for i, l := range lines {
		if i > 0 {
			sb.WriteByte('\n')
		}
		offsets[i] = sb.Len()
		sb.WriteString(l.Text)
	}
	enc := tok.EncodeString(sb.String())
	ex := Example{IDs: enc.IDs, Kinds: make([]span.Kind, len(enc.IDs)), Fields: make([]int32, len(enc.IDs))}
	for i := range ex.Fields {
		ex.Fields[i] = -1
	}
	field := int32(0)
	for i, l := range lines {
		for _, s := range l.Spans {
			lo, hi := enc.TokenRange(offsets[i]+int(s.Start), offsets[i]+int(s.End))
			for t := lo; t < hi; t++ {
				ex.Kinds[t] = s.Kind
				ex.Fields[t] = field
			}
			field++
		}
	}
	return ex
}

// CorpusExamples tokenizes the flows of one split of a corpus, keeping the
// flows of this worker's shard (flow index modulo world equals rank), so
// that across a world of workers every flow is used exactly once per epoch.
// Pretraining flows get their dataset's context (never a task label).
func CorpusExamples(c *netbench.Corpus, s *netbench.Splits, split string, reg *registry.Registry, tok *bbpe.Tokenizer, maxLen, rank, world int) ([]Example, error) {
	if world <= 0 {
		world = 1
	}
	if rank < 0 || rank >= world {
		return nil, fmt.Errorf("trainer: rank %d outside a world of %d", rank, world)
	}
	var out []Example
	i, kept := 0, 0
	err := c.Flows(func(f *netbench.Flow) error {
		idx := i
		i++
		if !s.In(idx, split) {
			return nil
		}
		kept++
		if (kept-1)%world != rank {
			return nil
		}
		d, err := reg.Dataset(s.Dataset[idx])
		if err != nil {
			return fmt.Errorf("flow %d: %w", idx, err)
		}
		if ex, ok := FlowExample(f, netbench.PretrainContext(d), tok, maxLen); ok {
			out = append(out, ex)
		}
		return nil
	})
	return out, err
}
