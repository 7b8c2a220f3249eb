// Package baselines implements the paper's comparison methods, each with its
// own published input representation (FS-Net, BiLSTM_Att, Datanet,
// DeepPacket, TSCRNN, YaTC, ET-BERT and ET-BERT-LwF, a TrafficLLM stand-in
// and NetShare), trained and tested on exactly the splits Lens uses.
package baselines

import (
	"encoding/binary"
)

// Packet is one packet of a flow as the baselines see it: its direction
// (0 from the initiator) and its bytes from the IP header on.
type Packet struct {
	Dir int
	IP  []byte
}

// ipLayout locates the IP header, the transport header and the payload of
// an IPv4 or IPv6 packet (without extension headers), and the offsets of
// its addresses. ok is false for anything else or truncated headers.
type ipLayout struct {
	ipHdr, l4Hdr      int // lengths
	proto             uint8
	srcOff, dstOff, n int // address offsets and length
}

func layout(b []byte) (l ipLayout, ok bool) {
	if len(b) < 1 {
		return l, false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return l, false
		}
		l.ipHdr = int(b[0]&0x0f) * 4
		l.proto = b[9]
		l.srcOff, l.dstOff, l.n = 12, 16, 4
	case 6:
		if len(b) < 40 {
			return l, false
		}
		l.ipHdr = 40
		l.proto = b[6]
		l.srcOff, l.dstOff, l.n = 8, 24, 16
	default:
		return l, false
	}
	if l.ipHdr > len(b) {
		return l, false
	}
	t := b[l.ipHdr:]
	switch l.proto {
	case 6:
		if len(t) < 20 {
			return l, false
		}
		l.l4Hdr = int(t[12]>>4) * 4
	case 17:
		l.l4Hdr = 8
	default:
		l.l4Hdr = 0
	}
	if l.ipHdr+l.l4Hdr > len(b) {
		return l, false
	}
	return l, true
}

// maskAddresses returns a copy of an IP packet with its addresses (and, if
// ports is set, its TCP/UDP ports) zeroed.
func maskAddresses(b []byte, ports bool) []byte {
	c := append([]byte(nil), b...)
	l, ok := layout(c)
	if !ok {
		return c
	}
	clear(c[l.srcOff : l.srcOff+l.n])
	clear(c[l.dstOff : l.dstOff+l.n])
	if ports && (l.proto == 6 || l.proto == 17) && len(c) >= l.ipHdr+4 {
		clear(c[l.ipHdr : l.ipHdr+4])
	}
	return c
}

// FSNetSequence is FS-Net's input: the packet-length sequence of the flow's
// first n packets, direction-signed (server-to-client lengths negative) and
// shifted into token ids 1..2*MaxLen+1 (0 pads).
func FSNetSequence(lengths []int, dirs []int, n int) []int32 {
	const maxLen = 1500
	out := make([]int32, n)
	for i := 0; i < n && i < len(lengths); i++ {
		l := min(lengths[i], maxLen)
		if dirs[i] == 1 {
			l = -l
		}
		out[i] = int32(l + maxLen + 1)
	}
	return out
}

// FSNetVocab is the size of FSNetSequence's token space.
const FSNetVocab = 2*1500 + 2

// DeepPacketVector is DeepPacket's per-packet input: the IP packet (the
// link layer is already gone) with addresses zeroed, a UDP header padded
// with zeros to the 20 bytes of a TCP header, cut or zero-padded to 1500
// bytes and scaled to [0, 1].
func DeepPacketVector(p []byte) []float32 {
	b := maskAddresses(p, false)
	if l, ok := layout(b); ok && l.proto == 17 {
		at := l.ipHdr + 8
		padded := make([]byte, 0, len(b)+12)
		padded = append(padded, b[:at]...)
		padded = append(padded, make([]byte, 12)...)
		b = append(padded, b[at:]...)
	}
	return scaled(b, 1500)
}

func scaled(b []byte, n int) []float32 {
	out := make([]float32, n)
	for i := 0; i < n && i < len(b); i++ {
		out[i] = float32(b[i]) / 255
	}
	return out
}

// DatanetVector is Datanet's per-packet input: the first 1480 bytes of the
// packet from the IP header on, addresses zeroed, scaled to [0, 1].
func DatanetVector(p []byte) []float32 { return scaled(maskAddresses(p, false), 1480) }

// ByteMatrix is the per-flow input of BiLSTM_Att and TSCRNN: the first
// packets packets' first bytes bytes each (addresses zeroed), scaled to
// [0, 1], row-major [packets][bytes].
func ByteMatrix(pkts []Packet, packets, bytes int) []float32 {
	out := make([]float32, packets*bytes)
	for i := 0; i < packets && i < len(pkts); i++ {
		copy(out[i*bytes:(i+1)*bytes], scaled(maskAddresses(pkts[i].IP, false), bytes))
	}
	return out
}

// YaTCMatrix is YaTC's input: the first 5 packets, each as 80 header bytes
// (IP and transport header, zero-padded or cut) and 240 payload bytes, with
// addresses and ports zeroed (as NetMamba does), stacked into a 40x40 byte
// matrix scaled to [0, 1].
func YaTCMatrix(pkts []Packet) []float32 {
	const hdr, pay = 80, 240
	m := make([]byte, 5*(hdr+pay))
	for i := 0; i < 5 && i < len(pkts); i++ {
		b := maskAddresses(pkts[i].IP, true)
		row := m[i*(hdr+pay):]
		l, ok := layout(b)
		h := len(b)
		if ok {
			h = l.ipHdr + l.l4Hdr
		}
		copy(row[:hdr], b[:min(h, len(b))])
		if h < len(b) {
			copy(row[hdr:hdr+pay], b[h:])
		}
	}
	return scaled(m, len(m))
}

// ETBERTTokens is ET-BERT's input: the payload bytes of the first packets
// as overlapping hex bigrams (two consecutive bytes form one of 65536
// tokens), up to maxTokens, each packet's bigrams separated by sep. Token ids
// are offset by the number of special tokens (first).
func ETBERTTokens(pkts []Packet, packets, perPacket, maxTokens int, first, sep int32) []int32 {
	var out []int32
	for i := 0; i < packets && i < len(pkts); i++ {
		b := pkts[i].IP
		l, ok := layout(b)
		if !ok {
			continue
		}
		pay := b[l.ipHdr+l.l4Hdr:]
		n := 0
		for j := 0; j+1 < len(pay) && n < perPacket; j++ {
			out = append(out, first+int32(binary.BigEndian.Uint16(pay[j:])))
			n++
		}
		out = append(out, sep)
		if len(out) >= maxTokens {
			return out[:maxTokens]
		}
	}
	return out
}

// ETBERTVocab is the size of ETBERTTokens' token space given first special ids.
func ETBERTVocab(first int32) int { return int(first) + 65536 }
