// Package dissect renders captured frames as tshark 4.0 prints them with
// default preferences in one pass: the Protocol column, the frame length, the
// Info column and the first bytes of the transport payload, with every field
// of the Info column marked by a typed span. It keeps the per-conversation
// state tshark keeps (TCP sequence analysis, reassembly of PDUs that span
// segments, IP fragments) with bounded memory.
package dissect

import (
	"net/netip"

	"github.com/lens-go/lens/netbench/capture"
	"github.com/lens-go/lens/netbench/span"
)

// Packet is the rendering of one frame. A Dissector reuses one Packet's
// storage from frame to frame; copy what must outlive the next call.
type Packet struct {
	Number   int    // 1-based frame number
	FrameLen int    // length on the wire (frame.len)
	Protocol string // the Protocol column
	Info     span.Text

	// Network fields, from the first (outermost) IP header.
	HasIP    bool
	Src, Dst netip.Addr
	IPProto  uint8 // protocol of the innermost transport seen (6 TCP, 17 UDP, ...)

	// Transport fields, from the first TCP header, else the first UDP header.
	HasPorts         bool
	SrcPort, DstPort uint16
	Transport        uint8 // 6 for TCP, 17 for UDP, 0 when HasPorts is false

	// Payload is the first TCP segment payload if non-empty, else the first
	// UDP payload: the bytes tshark's tcp.payload / udp.payload hold.
	Payload []byte

	// IP is the captured bytes from the first IP header on (the input of
	// the byte-level baselines); it aliases the frame's data.
	IP []byte

	// Skip is set when the frame could not be dissected past the link layer
	// (unknown link type, truncated header); SkipReason says why.
	Skip       bool
	SkipReason string

	// TCP header fields of the first TCP header (valid when Transport == 6).
	TCP TCPFields

	// scratch
	infoScratch span.Text
	tcpPayload  []byte // first non-empty TCP payload (tshark's first tcp.payload)
	udpPayload  []byte // first UDP payload (tshark's first udp.payload)
	tcpDone     bool
	udpDone     bool
}

// TCPFields are the raw TCP header values kept for the generation tasks.
type TCPFields struct {
	Flags  uint16
	Seq    uint32
	Ack    uint32
	Window uint16
	Len    int
}

// Config tunes a Dissector. The zero value uses the defaults.
type Config struct {
	// MaxConversations bounds the TCP and UDP conversation tables; the least
	// recently seen conversation is dropped beyond it. 0 means 1<<16.
	MaxConversations int
}

// Dissector renders the frames of one capture in order. It is not safe for
// concurrent use; use one per capture.
type Dissector struct {
	cfg    Config
	tcp    *convTable[tcpKey, tcpConv]
	udp    *convTable[udpKey, udpConv]
	frags  *fragTable
	frame  int
	linkOK bool

	// Per-frame scratch, kept here so that nothing escapes to the heap per
	// frame: the frame context and, per nesting level, the segment and
	// datagram handed to application dissectors.
	c    ctx
	segs [maxTunnelDepth + 2]tcpSegment
	dgs  [maxTunnelDepth + 2]udpDatagram
}

// New returns a Dissector with the given configuration.
func New(cfg Config) *Dissector {
	if cfg.MaxConversations <= 0 {
		cfg.MaxConversations = 1 << 16
	}
	return &Dissector{
		cfg:   cfg,
		tcp:   newConvTable[tcpKey, tcpConv](cfg.MaxConversations),
		udp:   newConvTable[udpKey, udpConv](cfg.MaxConversations),
		frags: newFragTable(1024),
	}
}

// recoverPanics makes Dissect turn a panic of a dissector into a malformed
// frame, as tshark turns a dissector exception into "[Malformed Packet]",
// so that one bad frame never takes a batch down. The fuzz test turns it
// off to find such bugs.
var recoverPanics = true

// Dissect renders frame f into p.
func (d *Dissector) Dissect(f *capture.Frame, p *Packet) {
	if recoverPanics {
		defer func() {
			if r := recover(); r != nil {
				p.Skip = true
				p.SkipReason = "dissector failure"
				if p.Protocol == "" {
					p.Protocol = "Unknown"
				}
				p.Info.Lit("[Malformed Packet]")
			}
		}()
	}
	d.frame++
	p.reset()
	p.Number = f.Index
	p.FrameLen = f.OrigLen
	d.c = ctx{d: d, p: p, frame: f, truncated: len(f.Data) < f.OrigLen}
	c := &d.c
	c.link(f.LinkType, f.Data)
	if p.Protocol == "" {
		p.Protocol = "Unknown"
	}
	// tshark's -e tcp.payload -e udp.payload -E occurrence=f: the first TCP
	// payload when there is one, else the first UDP payload.
	if len(p.tcpPayload) > 0 {
		p.Payload = p.tcpPayload
	} else {
		p.Payload = p.udpPayload
	}
}

func (p *Packet) reset() {
	info := p.Info
	info.Reset()
	scratch := p.infoScratch
	scratch.Reset()
	*p = Packet{Info: info, infoScratch: scratch}
}

// ctx carries the state of dissecting one frame down the layers.
type ctx struct {
	d         *Dissector
	p         *Packet
	frame     *capture.Frame
	truncated bool // captured bytes shorter than the wire length
	ipDepth   int
	tunnels   int // encapsulations followed so far (bounded by maxTunnelDepth)
	ipMissing int // bytes of the current IP payload past the captured data
	nTCP      int // TCP headers dissected so far in this frame
	nUDP      int // UDP headers dissected so far in this frame
	// the innermost IP addresses, used for conversation keys
	src, dst netip.Addr
	// fragment reassembly: set when the current IP payload is a reassembled datagram
	reassembled bool
	ipTTL       uint8 // TTL / hop limit of the innermost IP header
	// the Info column's fence (see colClear)
	fenceB, fenceS int
}

// setProto sets the Protocol column.
func (c *ctx) setProto(s string) { c.p.Protocol = s }

// info returns the Info column for writing, cleared.
func (c *ctx) clearInfo() *span.Text { c.p.Info.Reset(); return &c.p.Info }
