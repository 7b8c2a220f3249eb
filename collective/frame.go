package collective

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire format of a ring frame: a fixed 40-byte little-endian header followed
// by Length payload bytes.
//
//	off size field
//	  0    2 magic 0x4c52 ("LR")
//	  2    1 type (frameData)
//	  3    1 flags (flagCompressed)
//	  4    4 step: ring step within the call, 0 .. 2(n-1)-1
//	  8    8 seq: call sequence number on this ring
//	 16    8 offset: element offset of the chunk in the caller's buffer
//	 24    8 total: element count of the caller's buffer
//	 32    4 count: elements in this chunk
//	 36    4 length: payload bytes that follow
const (
	headerSize     = 40
	frameMagic     = 0x4c52
	frameData      = 1
	flagCompressed = 1
	maxChunkBytes  = 64 << 20
)

// header is a decoded frame header.
type header struct {
	typ, flags    uint8
	step          uint32
	seq           uint64
	offset, total uint64
	count, length uint32
}

func (h *header) put(b []byte) {
	_ = b[headerSize-1]
	binary.LittleEndian.PutUint16(b[0:], frameMagic)
	b[2] = h.typ
	b[3] = h.flags
	binary.LittleEndian.PutUint32(b[4:], h.step)
	binary.LittleEndian.PutUint64(b[8:], h.seq)
	binary.LittleEndian.PutUint64(b[16:], h.offset)
	binary.LittleEndian.PutUint64(b[24:], h.total)
	binary.LittleEndian.PutUint32(b[32:], h.count)
	binary.LittleEndian.PutUint32(b[36:], h.length)
}

// errMalformed is wrapped by every frame validation error.
var errMalformed = errors.New("malformed frame")

// parse decodes b into h and checks it against the frame the receiver
// expects (want) and the payload limit. It never trusts the length field
// before checking it.
func (h *header) parse(b []byte, want *header, maxPayload int) error {
	_ = b[headerSize-1]
	if m := binary.LittleEndian.Uint16(b[0:]); m != frameMagic {
		return fmt.Errorf("%w: bad magic %#04x, want %#04x", errMalformed, m, frameMagic)
	}
	h.typ = b[2]
	h.flags = b[3]
	h.step = binary.LittleEndian.Uint32(b[4:])
	h.seq = binary.LittleEndian.Uint64(b[8:])
	h.offset = binary.LittleEndian.Uint64(b[16:])
	h.total = binary.LittleEndian.Uint64(b[24:])
	h.count = binary.LittleEndian.Uint32(b[32:])
	h.length = binary.LittleEndian.Uint32(b[36:])
	switch {
	case h.typ != frameData:
		return fmt.Errorf("%w: unknown type %d", errMalformed, h.typ)
	case h.flags&^flagCompressed != 0:
		return fmt.Errorf("%w: unknown flags %#02x", errMalformed, h.flags)
	case uint64(h.length) > uint64(maxPayload):
		return fmt.Errorf("%w: oversized payload %d bytes > limit %d", errMalformed, h.length, maxPayload)
	case h.seq != want.seq:
		return fmt.Errorf("%w: call sequence %d, want %d", errMalformed, h.seq, want.seq)
	case h.total != want.total:
		return fmt.Errorf("%w: buffer length %d elements, want %d (ranks called AllReduce with different lengths?)", errMalformed, h.total, want.total)
	case h.step != want.step:
		return fmt.Errorf("%w: step %d, want %d", errMalformed, h.step, want.step)
	case h.offset != want.offset || h.count != want.count:
		return fmt.Errorf("%w: chunk [%d, +%d), want [%d, +%d) (ranks configured with different ChunkBytes?)", errMalformed, h.offset, h.count, want.offset, want.count)
	case h.flags&flagCompressed == 0 && uint64(h.length) != 4*uint64(h.count):
		return fmt.Errorf("%w: payload %d bytes for %d float32", errMalformed, h.length, h.count)
	}
	return nil
}
