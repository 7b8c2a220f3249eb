package trainer

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
	"github.com/lens-go/lens/netbench/registry"
	"github.com/lens-go/lens/netbench/span"
)

// Seq2Seq is one finetuning example: the encoder input (ending with </s>)
// and the decoder target (ending with </s>), both unpadded.
type Seq2Seq struct {
	Enc    []int32
	Target []int32
}

// Generation field keys (registry.Field.Key).
const (
	FieldSrcIP   = "src_ip"
	FieldDstIP   = "dst_ip"
	FieldSrcPort = "src_port"
	FieldDstPort = "dst_port"
	FieldLength  = "length"
)

// ExampleBuilder turns corpus flows into finetuning examples (Section 3.3
// and Figure 4 of the paper): classification inputs "packets <sep> task
// context </s>" with the label as target, and generation inputs "masked
// packet <sep> prompt </s>" with the masked field's value as target.
type ExampleBuilder struct {
	Tok *bbpe.Tokenizer
	Reg *registry.Registry
	// MaxEnc is the encoder length, </s> included (the model's EncLen).
	MaxEnc int
	// MaxPackets is the number of packet lines read from a flow; 0 means
	// netbench.MaxFlowPackets (34).
	MaxPackets int
	// NoPrompt leaves the generation prompt out of generation inputs (the
	// `w/o FT-Context` ablation of Table 7: the masked packet alone).
	NoPrompt bool

	sep, eos, sentinel int32
	newline            []int32
}

// NewExampleBuilder checks that tok has the Lens special tokens and returns
// a builder for encoder inputs of at most maxEnc tokens.
func NewExampleBuilder(tok *bbpe.Tokenizer, reg *registry.Registry, maxEnc int) (*ExampleBuilder, error) {
	b := &ExampleBuilder{Tok: tok, Reg: reg, MaxEnc: maxEnc}
	var ok bool
	if b.sep, ok = tok.ID(bbpe.Sep); !ok {
		return nil, fmt.Errorf("trainer: tokenizer has no %s token", bbpe.Sep)
	}
	if b.eos, ok = tok.ID(bbpe.EOS); !ok {
		return nil, fmt.Errorf("trainer: tokenizer has no %s token", bbpe.EOS)
	}
	if b.sentinel, ok = tok.SentinelID(0); !ok {
		return nil, fmt.Errorf("trainer: tokenizer has no sentinel %s", bbpe.Sentinel(0))
	}
	if maxEnc < 8 {
		return nil, fmt.Errorf("trainer: encoder length %d is too short for an example", maxEnc)
	}
	b.newline = tok.EncodeString("\n").IDs
	return b, nil
}

// EOS is the id of </s>.
func (b *ExampleBuilder) EOS() int32 { return b.eos }

// Sentinel is the id of <extra_id_0>, the mask of ports and lengths.
func (b *ExampleBuilder) Sentinel() int32 { return b.sentinel }

// TaskContext is the classification context of task t listing labels, or
// the `w/o FT-Context` ablation's context without them.
func (b *ExampleBuilder) TaskContext(t *registry.Task, labels []string, withLabels bool) string {
	if !withLabels {
		return b.Reg.ContextWithoutLabels(t)
	}
	return b.Reg.Context(t, labels)
}

// ContextTokens encodes the text after <sep> as pretraining does
// (FlowExample): with a leading space.
func (b *ExampleBuilder) ContextTokens(text string) []int32 {
	return b.Tok.EncodeString(" " + text).IDs
}

// LabelTokens is the decoder target of a label without </s> (the trie's
// sequence for it).
func (b *ExampleBuilder) LabelTokens(label string) []int32 {
	return b.Tok.EncodeString(label).IDs
}

// FlowLabel returns f's label in task t, or false when f's class is not
// part of t.
func (b *ExampleBuilder) FlowLabel(f *netbench.Flow, t *registry.Task) (string, bool) {
	d, c, err := b.Reg.Resolve(f.Label)
	if err != nil || d.Name != t.Dataset {
		return "", false
	}
	return c.Label(t.ID)
}

// Classification builds the input of flow f for a task context: its first
// MaxPackets packet lines (one per line), <sep>, the context, </s>: the
// tokens of FlowExample's pretraining input for the same text, then </s>. When the
// input is longer than MaxEnc, whole packets are dropped from the end; the
// context is never cut (an error when it cannot fit with at least one
// token of traffic). If even the first packet does not fit, it is cut to
// what fits. dropped is the number of packets left out for length.
func (b *ExampleBuilder) Classification(f *netbench.Flow, context string) (enc []int32, dropped int, err error) {
	ctx := b.ContextTokens(context)
	budget := b.MaxEnc - len(ctx) - 2 // <sep> and </s>
	if budget < 1 {
		return nil, 0, fmt.Errorf("trainer: the context needs %d tokens, more than the encoder length %d allows (%q...)",
			len(ctx)+2, b.MaxEnc, truncateString(context, 60))
	}
	n := len(f.Lines)
	if lim := b.maxPackets(); n > lim {
		n = lim
	}
	enc = make([]int32, 0, b.MaxEnc)
	kept := 0
	for i := range n {
		ids := b.Tok.EncodeString(f.Lines[i].Text).IDs
		need := len(ids)
		if i > 0 {
			need += len(b.newline)
		}
		if len(enc)+need > budget {
			if i == 0 {
				enc = append(enc, ids[:budget]...)
				kept = 1
			}
			break
		}
		if i > 0 {
			enc = append(enc, b.newline...)
		}
		enc = append(enc, ids...)
		kept++
	}
	enc = append(enc, b.sep)
	enc = append(enc, ctx...)
	enc = append(enc, b.eos)
	return enc, n - kept, nil
}

func (b *ExampleBuilder) maxPackets() int {
	if b.MaxPackets > 0 {
		return b.MaxPackets
	}
	return netbench.MaxFlowPackets
}

// ClassificationExample is Classification with the flow's label in task t
// as target (the label's tokens and </s>). withLabels false gives the
// `w/o FT-Context` input (same target).
func (b *ExampleBuilder) ClassificationExample(f *netbench.Flow, t *registry.Task, labels []string, withLabels bool) (Seq2Seq, string, int, error) {
	label, ok := b.FlowLabel(f, t)
	if !ok {
		return Seq2Seq{}, "", 0, fmt.Errorf("trainer: flow %s (%s) has no label in task %d", f.Tuple(), f.Label, t.ID)
	}
	enc, dropped, err := b.Classification(f, b.TaskContext(t, labels, withLabels))
	if err != nil {
		return Seq2Seq{}, "", 0, err
	}
	target := append(b.LabelTokens(label), b.eos)
	return Seq2Seq{Enc: enc, Target: target}, label, dropped, nil
}

// PickPacket chooses the packet of f used for generation, deterministically
// from seed and the flow's identity (capture, 5-tuple, start time).
func PickPacket(f *netbench.Flow, seed uint64) int {
	if len(f.Lines) == 0 {
		return -1
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s|%d", seed, f.Capture, f.Tuple(), f.First.UnixNano())
	return int(h.Sum64() % uint64(len(f.Lines)))
}

// HeaderValue returns the true value of field key for packet i of f as the
// generation target text: the packet's source or destination address, port,
// or frame length, from the flow's raw headers.
func HeaderValue(f *netbench.Flow, i int, key string) (string, error) {
	if i < 0 || i >= len(f.Headers) {
		return "", fmt.Errorf("trainer: flow %s has no header for packet %d", f.Tuple(), i)
	}
	h := f.Headers[i]
	src, dst := f.Src, f.Dst
	if h.Dir == 1 {
		src, dst = dst, src
	}
	switch key {
	case FieldSrcIP:
		return addrString(src), nil
	case FieldDstIP:
		return addrString(dst), nil
	case FieldSrcPort:
		return strconv.Itoa(int(h.SrcPort)), nil
	case FieldDstPort:
		return strconv.Itoa(int(h.DstPort)), nil
	case FieldLength:
		return strconv.Itoa(h.Len), nil
	}
	return "", fmt.Errorf("trainer: unknown generation field %q", key)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// GenerationMask is where a generation input hides its field.
type GenerationMask struct {
	// Text is the packet line as the model reads it.
	Text string
	// Start, End is the byte range of the mask token in Text (End == Start
	// when the line does not show the field, e.g. ports of a DNS packet).
	Start, End int
	// Token is the mask token: <SIP> or <DIP> for addresses, <extra_id_0>
	// for ports and length; the target starts with it (Figure 4).
	Token int32
}

// MaskPacket renders packet i of f for generating field key: for
// addresses, the field's own address position keeps its <SIP>/<DIP>
// placeholder (the mask) and the other end's placeholder is replaced by its
// real address, as in Figure 4 ("<SIP> → 93.189.89.83 ..."); for ports
// and the packet length, the field's span is replaced by <extra_id_0>.
func (b *ExampleBuilder) MaskPacket(f *netbench.Flow, i int, key string) (GenerationMask, error) {
	if i < 0 || i >= len(f.Lines) || i >= len(f.Headers) {
		return GenerationMask{}, fmt.Errorf("trainer: flow %s has no packet %d", f.Tuple(), i)
	}
	line := f.Lines[i]
	h := f.Headers[i]
	var addrs, ports []span.Span
	frameLen := -1
	for j, s := range line.Spans {
		switch s.Kind {
		case span.Address:
			addrs = append(addrs, s)
		case span.Port:
			ports = append(ports, s)
		case span.FrameLen:
			if frameLen < 0 {
				frameLen = j
			}
		}
	}
	text := line.Text
	field := func(s span.Span) string { return text[s.Start:s.End] }
	replace := func(s span.Span, with string) string { return text[:s.Start] + with + text[s.End:] }
	sentinel := bbpe.Sentinel(0)
	switch key {
	case FieldSrcIP, FieldDstIP:
		if len(addrs) < 2 {
			return GenerationMask{}, fmt.Errorf("trainer: packet %d of flow %s has %d address fields", i, f.Tuple(), len(addrs))
		}
		self, other := addrs[0], addrs[1]
		src, dst := f.Src, f.Dst
		if h.Dir == 1 {
			src, dst = dst, src
		}
		shown := addrString(dst)
		if key == FieldDstIP {
			self, other = other, self
			shown = addrString(src)
		}
		tok, ok := b.Tok.ID(field(self))
		if !ok {
			return GenerationMask{}, fmt.Errorf("trainer: address placeholder %q is not a token", field(self))
		}
		out := replace(other, shown)
		start := int(self.Start)
		if other.Start < self.Start {
			start += len(shown) - int(other.End-other.Start)
		}
		return GenerationMask{Text: out, Start: start, End: start + int(self.End-self.Start), Token: tok}, nil
	case FieldSrcPort, FieldDstPort:
		want := strconv.Itoa(int(h.SrcPort))
		if key == FieldDstPort {
			want = strconv.Itoa(int(h.DstPort))
		}
		pick := -1
		for j, s := range ports {
			if field(s) != want {
				continue
			}
			if pick < 0 || key == FieldDstPort { // first match for the source, last for the destination
				pick = j
			}
			if key == FieldSrcPort {
				break
			}
		}
		if pick < 0 {
			return GenerationMask{Text: text, Start: len(text), End: len(text), Token: b.sentinel}, nil
		}
		s := ports[pick]
		return GenerationMask{Text: replace(s, sentinel), Start: int(s.Start), End: int(s.Start) + len(sentinel), Token: b.sentinel}, nil
	case FieldLength:
		if frameLen < 0 {
			return GenerationMask{Text: text, Start: len(text), End: len(text), Token: b.sentinel}, nil
		}
		s := line.Spans[frameLen]
		return GenerationMask{Text: replace(s, sentinel), Start: int(s.Start), End: int(s.Start) + len(sentinel), Token: b.sentinel}, nil
	}
	return GenerationMask{}, fmt.Errorf("trainer: unknown generation field %q", key)
}

// GenerationExample builds the generation example of field fld for packet
// i of f (dataset d): the masked packet, <sep>, the prompt ("Generate
// source ip for the VPN network traffic:"), </s>; the target is the mask
// token, the true value, </s> (Figure 4: "<SIP>10.0.2.108</s>"). The packet
// text is cut from its end if the input would exceed MaxEnc, never before
// the mask. value is the true value.
func (b *ExampleBuilder) GenerationExample(f *netbench.Flow, i int, fld registry.Field, d *registry.Dataset) (ex Seq2Seq, value string, err error) {
	value, err = HeaderValue(f, i, fld.Key)
	if err != nil {
		return Seq2Seq{}, "", err
	}
	m, err := b.MaskPacket(f, i, fld.Key)
	if err != nil {
		return Seq2Seq{}, "", err
	}
	ex.Enc, err = b.GenerationInput(m, fld, d)
	if err != nil {
		return Seq2Seq{}, "", err
	}
	ex.Target = append([]int32{m.Token}, b.Tok.EncodeString(value).IDs...)
	ex.Target = append(ex.Target, b.eos)
	return ex, value, nil
}

// GenerationInput is the encoder input of a masked packet for field fld.
func (b *ExampleBuilder) GenerationInput(m GenerationMask, fld registry.Field, d *registry.Dataset) ([]int32, error) {
	var prompt []int32
	if !b.NoPrompt {
		prompt = b.ContextTokens(b.Reg.Prompt(fld, d))
	}
	enc := b.Tok.EncodeString(m.Text)
	budget := b.MaxEnc - len(prompt) - 2
	if budget < 1 {
		return nil, fmt.Errorf("trainer: the generation prompt needs %d tokens, more than the encoder length %d", len(prompt)+2, b.MaxEnc)
	}
	ids := enc.IDs
	if len(ids) > budget {
		_, maskEnd := enc.TokenRange(m.Start, m.End)
		if maskEnd > budget {
			return nil, fmt.Errorf("trainer: the masked field ends at token %d, past the %d tokens of packet the encoder length %d leaves",
				maskEnd, budget, b.MaxEnc)
		}
		ids = ids[:budget]
	}
	out := make([]int32, 0, len(ids)+len(prompt)+2)
	out = append(out, ids...)
	if !b.NoPrompt {
		out = append(out, b.sep)
		out = append(out, prompt...)
	}
	return append(out, b.eos), nil
}

// GeneratedValue extracts the generated value from decoded target tokens:
// the leading mask token and everything from </s> on are dropped.
func (b *ExampleBuilder) GeneratedValue(ids []int32, mask int32) string {
	if len(ids) > 0 && ids[0] == mask {
		ids = ids[1:]
	}
	for k, id := range ids {
		if id == b.eos {
			ids = ids[:k]
			break
		}
	}
	out, err := b.Tok.AppendDecode(nil, ids, true)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
