package netbench

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"

	"github.com/lens-go/lens/netbench/dissect"
	"github.com/lens-go/lens/netbench/span"
)

// MaxFlowPackets is the number of packets of a flow that are rendered (the
// paper keeps the first 34).
const MaxFlowPackets = 34

// Line is one rendered packet line with the spans of its fields.
type Line struct {
	Text  string      `json:"text"`
	Spans []span.Span `json:"spans"`
}

// Header holds the raw header fields of one packet, kept for the
// header-field generation tasks and the fuzzing test.
type Header struct {
	Dir     uint8  `json:"dir"` // 0 initiator -> responder, 1 the reverse
	SrcPort uint16 `json:"sport,omitempty"`
	DstPort uint16 `json:"dport,omitempty"`
	Proto   uint8  `json:"proto"`
	Len     int    `json:"len"`
}

// Flow is a bidirectional conversation: a TCP or UDP 5-tuple, or for other
// IP protocols an address pair and protocol. Src is the initiator.
type Flow struct {
	Capture string     `json:"capture"`
	Label   string     `json:"label,omitempty"`
	Proto   uint8      `json:"proto"`
	Src     netip.Addr `json:"src"`
	Dst     netip.Addr `json:"dst"`
	SrcPort uint16     `json:"sport,omitempty"`
	DstPort uint16     `json:"dport,omitempty"`
	First   time.Time  `json:"first"`
	Last    time.Time  `json:"last"`
	Packets int        `json:"packets"` // total packets, rendered or not
	Lines   []Line     `json:"lines"`   // the first MaxFlowPackets packets
	Headers []Header   `json:"headers"` // raw fields of the same packets
	// Raw holds the first packets' bytes from the IP header on (at most
	// FlowTableConfig.RawPackets packets of RawBytes bytes each), the input
	// of the byte-level baselines.
	Raw [][]byte `json:"raw,omitempty"`
}

// FlowKey identifies a flow independent of direction.
type FlowKey struct {
	A, B   netip.Addr
	PA, PB uint16
	Proto  uint8
}

// keyOf returns the flow key of a dissected packet and whether the packet's
// source is the key's A side.
func keyOf(p *dissect.Packet) (FlowKey, bool) {
	proto := p.IPProto
	var sp, dp uint16
	if p.HasPorts {
		proto = p.Transport
		sp, dp = p.SrcPort, p.DstPort
	}
	c := p.Src.Compare(p.Dst)
	if c < 0 || (c == 0 && sp <= dp) {
		return FlowKey{p.Src, p.Dst, sp, dp, proto}, true
	}
	return FlowKey{p.Dst, p.Src, dp, sp, proto}, false
}

// RenderLine renders p as an anonymised packet line of a flow whose
// initiator is fromInitiator's side:
//
//	<SIP> → <DIP> TCP 60 34665 → 443 [SYN] Seq=0 Win=29200 Len=0 MSS=1460 4745 5420 2f64
func RenderLine(t *span.Text, p *dissect.Packet, fromInitiator bool) {
	t.Reset()
	a, b := "<SIP>", "<DIP>"
	if !fromInitiator {
		a, b = b, a
	}
	t.Field(span.Address, a)
	t.Lit(" → ")
	t.Field(span.Address, b)
	t.Lit(" ")
	t.Field(span.Protocol, p.Protocol)
	t.Lit(" ")
	t.Int(span.FrameLen, int64(p.FrameLen))
	if len(p.Info.B) > 0 {
		t.Lit(" ")
		off := int32(t.Len())
		t.LitBytes(p.Info.B)
		for _, s := range p.Info.Spans {
			t.Spans = append(t.Spans, span.Span{Start: s.Start + off, End: s.End + off, Kind: s.Kind})
		}
	}
	if pl := p.Payload12(); len(pl) > 0 {
		t.Lit(" ")
		start := t.Begin()
		t.B = appendHexGroups(t.B, pl)
		t.End(span.PayloadHex, start)
	}
}

// appendHexGroups appends b as hex in groups of 4 digits: "4745 5420 2f64".
func appendHexGroups(dst, b []byte) []byte {
	for i := 0; i < len(b); i += 2 {
		if i > 0 {
			dst = append(dst, ' ')
		}
		end := i + 2
		if end > len(b) {
			end = len(b)
		}
		dst = hex.AppendEncode(dst, b[i:end])
	}
	return dst
}

// FlowTableConfig bounds a FlowTable.
type FlowTableConfig struct {
	// IdleTimeout flushes a flow that saw no packet for this long (capture
	// time). 0 means DefaultIdleTimeout; NoIdleTimeout (any negative value)
	// means none: one flow per 5-tuple for the whole capture, as the paper's
	// SplitCap sessions.
	IdleTimeout time.Duration
	// MaxFlows flushes the least recently seen flow beyond this many active
	// flows. 0 means 1<<16.
	MaxFlows int
	// RawPackets and RawBytes bound the raw bytes kept per flow; 0 means
	// 5 packets of 512 bytes (YaTC reads 5 packets of 320; DeepPacket and
	// Datanet read more of each packet in their papers: a documented cut).
	// A negative RawPackets keeps none.
	RawPackets, RawBytes int
}

// DefaultIdleTimeout is the idle timeout of a FlowTableConfig that sets none.
const DefaultIdleTimeout = 5 * time.Minute

// NoIdleTimeout turns the idle timeout off (FlowTableConfig.IdleTimeout).
const NoIdleTimeout time.Duration = -1

// withDefaults fills in the zero fields.
func (cfg FlowTableConfig) withDefaults() FlowTableConfig {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.IdleTimeout < 0 {
		cfg.IdleTimeout = NoIdleTimeout
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = 1 << 16
	}
	if cfg.RawPackets == 0 {
		cfg.RawPackets = 5
	}
	if cfg.RawBytes <= 0 {
		cfg.RawBytes = 512
	}
	return cfg
}

// FlowTable groups dissected packets of one capture into flows and hands
// each finished flow to emit. Memory is bounded by MaxFlows flows of at most
// MaxFlowPackets lines each, however long the capture.
type FlowTable struct {
	cfg     FlowTableConfig
	capture string
	label   string
	emit    func(*Flow) error
	active  map[FlowKey]*flowEntry
	// recency list, oldest first at head.next
	head     flowEntry
	lastScan time.Time
	scratch  span.Text
}

type flowEntry struct {
	key        FlowKey
	flow       *Flow
	initIsA    bool
	spans      []span.Span // slab the flow's lines take their spans from
	raw        []byte      // slab the flow's raw packets are cut from
	prev, next *flowEntry
}

// NewFlowTable returns a table for the frames of one capture.
func NewFlowTable(cfg FlowTableConfig, capture, label string, emit func(*Flow) error) *FlowTable {
	cfg = cfg.withDefaults()
	ft := &FlowTable{cfg: cfg, capture: capture, label: label, emit: emit, active: map[FlowKey]*flowEntry{}}
	ft.head.prev, ft.head.next = &ft.head, &ft.head
	return ft
}

// Add adds a dissected packet captured at ts. Packets without an IP header
// belong to no flow and are ignored (the caller counts them).
func (ft *FlowTable) Add(p *dissect.Packet, ts time.Time) error {
	if !p.HasIP {
		return nil
	}
	if ft.cfg.IdleTimeout > 0 && (ts.Sub(ft.lastScan) > ft.cfg.IdleTimeout/4 || ts.Before(ft.lastScan)) {
		if err := ft.expire(ts); err != nil {
			return err
		}
		ft.lastScan = ts
	}
	key, srcIsA := keyOf(p)
	e := ft.active[key]
	if e == nil {
		if len(ft.active) >= ft.cfg.MaxFlows {
			if err := ft.flush(ft.head.next); err != nil {
				return err
			}
		}
		f := &Flow{Capture: ft.capture, Label: ft.label, Proto: key.Proto, Src: p.Src, Dst: p.Dst, First: ts}
		if p.HasPorts {
			f.SrcPort, f.DstPort = p.SrcPort, p.DstPort
		}
		e = &flowEntry{key: key, flow: f, initIsA: srcIsA}
		ft.active[key] = e
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
	}
	// move to the tail (newest)
	e.prev, e.next = ft.head.prev, &ft.head
	ft.head.prev.next = e
	ft.head.prev = e

	f := e.flow
	f.Packets++
	f.Last = ts
	if len(f.Lines) < MaxFlowPackets {
		fromInit := srcIsA == e.initIsA
		RenderLine(&ft.scratch, p, fromInit)
		// Lines take their spans from one slab per flow: fewer, larger allocations.
		n := len(ft.scratch.Spans)
		if cap(e.spans)-len(e.spans) < n {
			e.spans = make([]span.Span, 0, max(n, 2*cap(e.spans), 32))
		}
		start := len(e.spans)
		e.spans = append(e.spans, ft.scratch.Spans...)
		f.Lines = append(f.Lines, Line{Text: string(ft.scratch.B), Spans: e.spans[start:len(e.spans):len(e.spans)]})
		h := Header{Proto: key.Proto, Len: p.FrameLen}
		if !fromInit {
			h.Dir = 1
		}
		if p.HasPorts {
			h.SrcPort, h.DstPort = p.SrcPort, p.DstPort
		}
		f.Headers = append(f.Headers, h)
	}
	if len(f.Raw) < ft.cfg.RawPackets {
		ip := p.IP
		if len(ip) > ft.cfg.RawBytes {
			ip = ip[:ft.cfg.RawBytes]
		}
		if cap(e.raw)-len(e.raw) < len(ip) {
			e.raw = make([]byte, 0, max(len(ip), 2*cap(e.raw), 256))
		}
		start := len(e.raw)
		e.raw = append(e.raw, ip...)
		f.Raw = append(f.Raw, e.raw[start:len(e.raw):len(e.raw)])
	}
	return nil
}

// expire flushes flows idle since before now-IdleTimeout.
func (ft *FlowTable) expire(now time.Time) error {
	for e := ft.head.next; e != &ft.head; {
		next := e.next
		if now.Sub(e.flow.Last) < ft.cfg.IdleTimeout {
			break // the list is ordered by last activity
		}
		if err := ft.flush(e); err != nil {
			return err
		}
		e = next
	}
	return nil
}

func (ft *FlowTable) flush(e *flowEntry) error {
	e.prev.next, e.next.prev = e.next, e.prev
	delete(ft.active, e.key)
	return ft.emit(e.flow)
}

// Close flushes every remaining flow, oldest first.
func (ft *FlowTable) Close() error {
	for ft.head.next != &ft.head {
		if err := ft.flush(ft.head.next); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of active flows.
func (ft *FlowTable) Len() int { return len(ft.active) }

// String renders a flow's lines one per line (as the model reads them).
func (f *Flow) String() string {
	var b []byte
	for i, l := range f.Lines {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l.Text...)
	}
	return string(b)
}

// Tuple names the flow's 5-tuple as "proto src:sport > dst:dport".
func (f *Flow) Tuple() string {
	return strconv.Itoa(int(f.Proto)) + " " + netip.AddrPortFrom(f.Src, f.SrcPort).String() + " > " + netip.AddrPortFrom(f.Dst, f.DstPort).String()
}
