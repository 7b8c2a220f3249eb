package trainer

import (
	"slices"
	"strconv"
	"testing"

	"github.com/lens-go/lens/netbench"
	"github.com/lens-go/lens/netbench/bbpe"
)

func trafficTokens(b *ExampleBuilder, f *netbench.Flow, k int) []int32 {
	var out []int32
	for i := range k {
		if i > 0 {
			out = append(out, b.newline...)
		}
		out = append(out, b.Tok.EncodeString(f.Lines[i].Text).IDs...)
	}
	return out
}

func TestClassificationDropsWholePacketsKeepsContext(t *testing.T) {
	fx := loadFixture(t)
	task, _ := fx.Reg.Task(3)
	var f *netbench.Flow
	for _, fl := range fx.Flows {
		if _, ok := (&ExampleBuilder{Reg: fx.Reg}).FlowLabel(fl, task); ok && len(fl.Lines) >= 10 {
			f = fl
			break
		}
	}
	if f == nil {
		t.Fatal("no fixture flow of task 3 with 10 packets")
	}
	full, err := NewExampleBuilder(fx.Tok, fx.Reg, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctxText := full.TaskContext(task, task.Labels, true)
	ctx := full.ContextTokens(ctxText)
	for _, maxEnc := range []int{1 << 20, len(ctx) + 2 + 200, len(ctx) + 2 + 90, len(ctx) + 2 + 5} {
		b, _ := NewExampleBuilder(fx.Tok, fx.Reg, maxEnc)
		ex, label, dropped, err := b.ClassificationExample(f, task, task.Labels, true)
		if err != nil {
			t.Fatal(err)
		}
		enc := ex.Enc
		if len(enc) > maxEnc {
			t.Fatalf("maxEnc %d: input has %d tokens", maxEnc, len(enc))
		}
		if enc[len(enc)-1] != bbpe.EOSID || !slices.Equal(enc[len(enc)-1-len(ctx):len(enc)-1], ctx) || enc[len(enc)-2-len(ctx)] != b.sep {
			t.Fatalf("maxEnc %d: input does not end with <sep> context </s>", maxEnc)
		}
		traffic := enc[:len(enc)-2-len(ctx)]
		kept := min(len(f.Lines), netbench.MaxFlowPackets) - dropped
		if maxEnc == 1<<20 && dropped != 0 {
			t.Fatalf("no limit: %d packets dropped", dropped)
		}
		if maxEnc == len(ctx)+2+5 {
			// not even the first packet fits: it is cut, the context stays
			if kept != 1 || len(traffic) != 5 || !slices.Equal(traffic, trafficTokens(b, f, 1)[:5]) {
				t.Fatalf("tiny budget: kept %d packets, traffic %v", kept, traffic)
			}
		} else {
			if !slices.Equal(traffic, trafficTokens(b, f, kept)) {
				t.Fatalf("maxEnc %d: traffic is not the first %d whole packets", maxEnc, kept)
			}
			if dropped > 0 && len(trafficTokens(b, f, kept+1)) <= maxEnc-len(ctx)-2 {
				t.Fatalf("maxEnc %d: dropped a packet that fits", maxEnc)
			}
		}
		want := append(fx.Tok.EncodeString(label).IDs, bbpe.EOSID)
		if !slices.Equal(ex.Target, want) || ex.Target[len(ex.Target)-1] != bbpe.EOSID {
			t.Fatalf("target %v, want label %q then </s> %v", ex.Target, label, want)
		}
		if wantLabel, _ := b.FlowLabel(f, task); label != wantLabel || !slices.Contains(task.Labels, label) {
			t.Fatalf("label %q", label)
		}
	}
	// w/o FT-Context: the context without labels, the same target
	b, _ := NewExampleBuilder(fx.Tok, fx.Reg, 512)
	with, _, _, _ := b.ClassificationExample(f, task, task.Labels, true)
	without, _, _, err := b.ClassificationExample(f, task, task.Labels, false)
	if err != nil {
		t.Fatal(err)
	}
	noCtx := b.ContextTokens(fx.Reg.ContextWithoutLabels(task))
	if !slices.Equal(without.Target, with.Target) || !slices.Equal(without.Enc[len(without.Enc)-1-len(noCtx):len(without.Enc)-1], noCtx) {
		t.Fatal("w/o FT-Context example differs in target or context")
	}
	// without truncation the input is the pretraining input (FlowExample) of the same text, then </s>
	pre, ok := FlowExample(f, ctxText, fx.Tok, 0)
	whole, _, _ := full.Classification(f, ctxText)
	if !ok || !slices.Equal(whole, append(slices.Clone(pre.IDs), bbpe.EOSID)) {
		t.Fatal("classification input differs from the pretraining input of the same flow and context")
	}
	// a context that cannot fit is an error, never a cut context
	small, _ := NewExampleBuilder(fx.Tok, fx.Reg, len(ctx)+1)
	if _, _, _, err := small.ClassificationExample(f, task, task.Labels, true); err == nil {
		t.Fatal("context longer than the encoder accepted")
	}
}

func TestGenerationMaskAndTarget(t *testing.T) {
	fx := loadFixture(t)
	b, _ := NewExampleBuilder(fx.Tok, fx.Reg, 256)
	d, _ := fx.Reg.Dataset("ISCX-VPN")
	sentinel := bbpe.Sentinel(0)
	sip, _ := fx.Tok.ID(bbpe.SIP)
	dip, _ := fx.Tok.ID(bbpe.DIP)
	checked := map[string]int{}
	for _, f := range fx.Flows[:40] {
		for _, i := range []int{0, 1, PickPacket(f, 3)} {
			h := f.Headers[i]
			line := f.Lines[i]
			src, dst := f.Src.String(), f.Dst.String()
			if h.Dir == 1 {
				src, dst = dst, src
			}
			for _, fld := range fx.Reg.Generation.Fields {
				ex, value, err := b.GenerationExample(f, i, fld, d)
				if err != nil {
					t.Fatal(err)
				}
				m, _ := b.MaskPacket(f, i, fld.Key)
				switch fld.Key {
				case FieldSrcIP:
					if value != src {
						t.Fatalf("src ip %q, want %q", value, src)
					}
					// the packet's own source keeps its placeholder, the other end shows its address
					self := line.Text[:5]
					wantText := self + " → " + dst + line.Text[15:]
					if m.Text != wantText || m.Text[m.Start:m.End] != self {
						t.Fatalf("src ip mask %q [%d,%d), want %q", m.Text, m.Start, m.End, wantText)
					}
				case FieldDstIP:
					if value != dst {
						t.Fatalf("dst ip %q, want %q", value, dst)
					}
					wantText := src + " → " + line.Text[10:]
					if m.Text != wantText || m.Text[m.Start:m.End] != line.Text[10:15] {
						t.Fatalf("dst ip mask %q [%d,%d), want %q", m.Text, m.Start, m.End, wantText)
					}
				case FieldSrcPort, FieldDstPort, FieldLength:
					v := map[string]int{FieldSrcPort: int(h.SrcPort), FieldDstPort: int(h.DstPort), FieldLength: h.Len}[fld.Key]
					if value != strconv.Itoa(v) {
						t.Fatalf("%s value %q, want %d", fld.Key, value, v)
					}
					if m.Start < m.End {
						if m.Text[m.Start:m.End] != sentinel {
							t.Fatalf("%s: sentinel not at the mask range in %q", fld.Key, m.Text)
						}
						// the original line had exactly the value on that span
						orig := line.Text[m.Start : len(line.Text)-(len(m.Text)-m.End)]
						if orig != value || line.Text[:m.Start]+sentinel+line.Text[m.Start+len(orig):] != m.Text {
							t.Fatalf("%s: masked %q of %q, want the value %q", fld.Key, orig, line.Text, value)
						}
						checked[fld.Key]++
					}
				}
				// the input is the masked packet, <sep>, the prompt, </s>
				dec, _ := fx.Tok.Decode(ex.Enc)
				wantIn := m.Text + bbpe.Sep + " " + fx.Reg.Prompt(fld, d) + bbpe.EOS
				if string(dec) != wantIn {
					t.Fatalf("%s input %q, want %q", fld.Key, dec, wantIn)
				}
				encM := fx.Tok.EncodeString(m.Text)
				lo, hi := encM.TokenRange(m.Start, m.End)
				if m.Start < m.End && (hi-lo != 1 || ex.Enc[lo] != m.Token) {
					t.Fatalf("%s: mask tokens [%d,%d) = %v, want the single token %d", fld.Key, lo, hi, ex.Enc[lo:hi], m.Token)
				}
				if fld.Key == FieldSrcIP || fld.Key == FieldDstIP {
					if m.Token != sip && m.Token != dip {
						t.Fatalf("address mask token %d", m.Token)
					}
					checked[fld.Key]++
				} else if m.Token != b.Sentinel() {
					t.Fatalf("%s mask token %d, want <extra_id_0>", fld.Key, m.Token)
				}
				// target: mask token, the true value, </s>
				wantT := append([]int32{m.Token}, fx.Tok.EncodeString(value).IDs...)
				wantT = append(wantT, bbpe.EOSID)
				if !slices.Equal(ex.Target, wantT) {
					t.Fatalf("%s target %v, want %v", fld.Key, ex.Target, wantT)
				}
				if got := b.GeneratedValue(ex.Target, m.Token); got != value {
					t.Fatalf("%s: GeneratedValue of the target %q, want %q", fld.Key, got, value)
				}
			}
		}
	}
	for _, k := range []string{FieldSrcIP, FieldDstIP, FieldSrcPort, FieldDstPort, FieldLength} {
		if checked[k] == 0 {
			t.Errorf("no packet exercised the mask of %s", k)
		}
	}
	if PickPacket(fx.Flows[0], 3) != PickPacket(fx.Flows[0], 3) {
		t.Fatal("PickPacket not deterministic")
	}
}

// TestGenerationWithoutPrompt is Table 7's `w/o FT-Context` input: the
// masked packet alone, no <sep> and no prompt, the same target.
func TestGenerationWithoutPrompt(t *testing.T) {
	fx := loadFixture(t)
	b, _ := NewExampleBuilder(fx.Tok, fx.Reg, 256)
	nb, _ := NewExampleBuilder(fx.Tok, fx.Reg, 256)
	nb.NoPrompt = true
	d, _ := fx.Reg.Dataset("ISCX-VPN")
	fld := fx.Reg.Generation.Fields[3] // destination port
	sep, _ := fx.Tok.ID(bbpe.Sep)
	f := fx.Flows[0]
	with, v1, err := b.GenerationExample(f, 0, fld, d)
	if err != nil {
		t.Fatal(err)
	}
	without, v2, err := nb.GenerationExample(f, 0, fld, d)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != v2 || !slices.Equal(with.Target, without.Target) {
		t.Fatalf("targets differ: %q %v vs %q %v", v1, with.Target, v2, without.Target)
	}
	if slices.Contains(without.Enc, sep) || !slices.Contains(with.Enc, sep) {
		t.Fatal("the prompt (after <sep>) must be present with context and absent without")
	}
	i := slices.Index(with.Enc, sep)
	if !slices.Equal(without.Enc[:len(without.Enc)-1], with.Enc[:i]) {
		t.Fatal("without the prompt the input must be the same masked packet")
	}
}
