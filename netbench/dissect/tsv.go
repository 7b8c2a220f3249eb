package dissect

import (
	"encoding/hex"
	"strconv"
)

// TSVHeader is the header of the per-frame table `lens render` prints; it
// equals the columns of tshark's golden renderings.
const TSVHeader = "frame\tsrc\tdst\tsport\tdport\tprotocol\tframe_len\tinfo\tpayload12"

// Payload12 returns the first 12 bytes of the transport payload.
func (p *Packet) Payload12() []byte {
	if len(p.Payload) > 12 {
		return p.Payload[:12]
	}
	return p.Payload
}

// AppendTSV appends p as one row under TSVHeader (real addresses, payload12
// as hex without spaces), without the trailing newline.
func (p *Packet) AppendTSV(b []byte) []byte {
	b = strconv.AppendInt(b, int64(p.Number), 10)
	b = append(b, '\t')
	if p.HasIP {
		b = p.Src.AppendTo(b)
		b = append(b, '\t')
		b = p.Dst.AppendTo(b)
	} else {
		b = append(b, '\t')
	}
	b = append(b, '\t')
	if p.HasPorts {
		b = strconv.AppendUint(b, uint64(p.SrcPort), 10)
		b = append(b, '\t')
		b = strconv.AppendUint(b, uint64(p.DstPort), 10)
	} else {
		b = append(b, '\t')
	}
	b = append(b, '\t')
	b = append(b, p.Protocol...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(p.FrameLen), 10)
	b = append(b, '\t')
	b = append(b, p.Info.B...)
	b = append(b, '\t')
	b = hex.AppendEncode(b, p.Payload12())
	return b
}
