package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"math/bits"
	"time"
)

// pcapng block types read (every other block is skipped).
const (
	blockSHB      = 0x0a0d0d0a // section header
	blockIDB      = 1          // interface description
	blockPB       = 2          // packet (obsolete)
	blockSPB      = 3          // simple packet
	blockEPB      = 6          // enhanced packet
	blockJournal  = 9          // systemd journal export entry
	blockCustom   = 0x00000bad // custom block (may be copied)
	blockCustomNC = 0x40000bad // custom block (not to be copied)
	byteOrderMark = 0x1a2b3c4d
)

// maxBlockLen bounds one block; a longer one is corrupt (the largest frame
// plus room for options, as wiretap allows).
const maxBlockLen = maxCapLenBig + 1<<20

// ngInterface is what an IDB says about its interface.
type ngInterface struct {
	link    uint32
	snaplen uint32
	pow10   bool  // resolution is 10^-res (else 2^-res)
	res     uint8 // if_tsresol exponent (default 6: microseconds)
	offset  int64 // if_tsoffset, seconds
}

type ngReader struct {
	s      *stream
	order  binary.ByteOrder
	ifaces []ngInterface
	// records counts the blocks since the last frame that tshark numbers
	// as frames but that hold no packet (custom blocks, journal entries),
	// so that frame numbers stay tshark's.
	records int
	last    time.Time // the latest packet time, given to simple packets
}

func newNgReader(s *stream) (*ngReader, error) {
	r := &ngReader{s: s}
	h, err := s.full(8)
	if err != nil {
		return nil, fmt.Errorf("section header block cut short: %d of 28 bytes", len(h))
	}
	if perr := r.section(0, h); perr != nil {
		return nil, perr.err
	}
	return r, nil
}

// checkLength rejects a block length below the block type's minimum, not a
// multiple of 4 or beyond any real block.
func checkLength(at int64, length, least uint32) *posError {
	var why string
	switch {
	case length < least:
		why = fmt.Sprintf("less than %d, the smallest such block", least)
	case length%4 != 0:
		why = "not a multiple of 4"
	case length > maxBlockLen:
		why = fmt.Sprintf("more than %d", maxBlockLen)
	default:
		return nil
	}
	return &posError{at, fmt.Errorf("block at byte %d: length %d invalid (%s)", at, length, why)}
}

// body reads the rest of the block that starts at byte at and whose 8-byte
// header (12 for a section header) has been read, checks the trailing copy
// of the length and returns the block's contents between header and trailer.
func (r *ngReader) body(at int64, length uint32) ([]byte, *posError) {
	read := r.s.off - at
	b, err := r.s.full(int(int64(length) - read))
	if err != nil {
		return nil, r.pastEnd(at, length)
	}
	if trailer := r.order.Uint32(b[len(b)-4:]); trailer != length {
		return nil, trailerMismatch(at, length, trailer)
	}
	return b[:len(b)-4], nil
}

// pastEnd is the error for a block whose length runs past the end of the
// file (read up to there).
func (r *ngReader) pastEnd(at int64, length uint32) *posError {
	return &posError{at, fmt.Errorf("block at byte %d: length %d invalid or the file cut short: the block would end at byte %d, the file ends at byte %d", at, length, at+int64(length), r.s.off)}
}

func trailerMismatch(at int64, length, trailer uint32) *posError {
	return &posError{at, fmt.Errorf("block at byte %d: length %d invalid (the copy at the block's end says %d)", at, length, trailer)}
}

func (r *ngReader) next(fr *Frame) *posError {
	for {
		at := r.s.off
		h, err := r.s.full(8)
		if err != nil {
			if len(h) == 0 && r.s.ioErr == nil {
				return &posError{at, io.EOF}
			}
			return &posError{at, fmt.Errorf("block at byte %d: block header cut short: %d of 8 bytes", at, len(h))}
		}
		typ := r.order.Uint32(h[0:])
		if typ == blockSHB {
			// A new section: its byte order may differ, so its length is
			// read after the byte-order magic.
			if perr := r.section(at, h); perr != nil {
				return perr
			}
			continue
		}
		length := r.order.Uint32(h[4:])
		least := uint32(12)
		switch typ {
		case blockIDB:
			least = 20
		case blockEPB, blockPB:
			least = 32
		case blockSPB:
			least = 16
		}
		if perr := checkLength(at, length, least); perr != nil {
			return perr
		}
		switch typ {
		case blockIDB, blockEPB, blockPB, blockSPB:
		case blockCustom, blockCustomNC, blockJournal:
			r.records++
			fallthrough
		default:
			// Skip blocks that hold no packet (statistics, name resolution,
			// decryption secrets, custom and unknown blocks), checking the
			// trailing copy of their length.
			if _, err := r.s.skip(int64(length) - 12); err != nil {
				return r.pastEnd(at, length)
			}
			var t [4]byte
			if _, err := r.s.readFull(t[:]); err != nil {
				return r.pastEnd(at, length)
			}
			if trailer := r.order.Uint32(t[:]); trailer != length {
				return trailerMismatch(at, length, trailer)
			}
			continue
		}
		body, perr := r.body(at, length)
		if perr != nil {
			return perr
		}
		switch typ {
		case blockIDB:
			r.ifaces = append(r.ifaces, r.parseIDB(body))
			continue
		case blockSPB:
			return r.simplePacket(at, length, body, fr)
		default:
			return r.packet(at, typ, length, body, fr)
		}
	}
}

// section reads a section header block at byte at whose first 8 bytes
// (type and length) are h, and starts a section with no interfaces.
func (r *ngReader) section(at int64, h []byte) *posError {
	var first [8]byte
	copy(first[:], h)
	rest, err := r.s.full(4)
	if err != nil {
		return &posError{at, fmt.Errorf("section header block at byte %d cut short: %d of 28 bytes", at, 8+len(rest))}
	}
	switch bom := binary.LittleEndian.Uint32(rest); bom {
	case byteOrderMark:
		r.order = binary.LittleEndian
	case bits.ReverseBytes32(byteOrderMark):
		r.order = binary.BigEndian
	default:
		return &posError{at, fmt.Errorf("section header block at byte %d: byte-order magic %08x invalid", at, bom)}
	}
	length := r.order.Uint32(first[4:])
	if perr := checkLength(at, length, 28); perr != nil {
		return perr
	}
	body, perr := r.body(at, length)
	if perr != nil {
		return perr
	}
	if major := r.order.Uint16(body[0:]); major != 1 {
		return &posError{at, fmt.Errorf("section header block at byte %d: pcapng version %d.%d unsupported", at, major, r.order.Uint16(body[2:]))}
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// parseIDB reads an interface's link type, snapshot length and timestamp
// options; malformed options are ignored as the interface is still usable.
func (r *ngReader) parseIDB(b []byte) ngInterface {
	in := ngInterface{link: uint32(r.order.Uint16(b[0:])), snaplen: r.order.Uint32(b[4:]), pow10: true, res: 6}
	opts := b[8:]
	for len(opts) >= 4 {
		code, n := r.order.Uint16(opts[0:]), int(r.order.Uint16(opts[2:]))
		if code == 0 || 4+n > len(opts) {
			break
		}
		v := opts[4 : 4+n]
		switch {
		case code == 9 && n >= 1: // if_tsresol
			in.pow10, in.res = v[0]&0x80 == 0, v[0]&0x7f
		case code == 14 && n >= 8: // if_tsoffset
			in.offset = int64(r.order.Uint64(v))
		}
		opts = opts[min(len(opts), 4+(n+3)&^3):]
	}
	return in
}

func (r *ngReader) iface(at int64, id uint32) (*ngInterface, *posError) {
	if int(id) >= len(r.ifaces) || id > 1<<30 {
		return nil, &posError{at, fmt.Errorf("block at byte %d: packet on interface %d, but its section describes %d", at, id, len(r.ifaces))}
	}
	return &r.ifaces[id], nil
}

// packet reads an enhanced (or obsolete) packet block.
func (r *ngReader) packet(at int64, typ, length uint32, b []byte, fr *Frame) *posError {
	var id uint32
	if typ == blockEPB {
		id = r.order.Uint32(b[0:])
	} else {
		id = uint32(r.order.Uint16(b[0:]))
	}
	in, perr := r.iface(at, id)
	if perr != nil {
		return perr
	}
	ts := uint64(r.order.Uint32(b[4:]))<<32 | uint64(r.order.Uint32(b[8:]))
	capLen, orig := r.order.Uint32(b[12:]), r.order.Uint32(b[16:])
	if room := uint32(len(b) - 20); capLen > room {
		return &posError{at, fmt.Errorf("block at byte %d: length %d invalid (too short for its %d captured bytes)", at, length, capLen)}
	}
	if lim := maxCapLenFor(in.link); capLen > lim {
		return &posError{at, fmt.Errorf("block at byte %d: captured length %d invalid (more than %d, the largest frame tshark reads)", at, capLen, lim)}
	}
	r.last = in.time(ts)
	*fr = Frame{Time: r.last, OrigLen: int(orig), Data: b[20 : 20+capLen], LinkType: LinkType(in.link)}
	return nil
}

// simplePacket reads a simple packet block: interface 0, the captured
// length implied by the block and the snapshot length, and no timestamp
// (tshark shows none; the frame gets the latest packet's time, or the Unix
// epoch, so that flows see time go forward).
func (r *ngReader) simplePacket(at int64, length uint32, b []byte, fr *Frame) *posError {
	in, perr := r.iface(at, 0)
	if perr != nil {
		return perr
	}
	orig := r.order.Uint32(b[0:])
	capLen := min(orig, uint32(len(b)-4))
	if in.snaplen != 0 {
		capLen = min(capLen, in.snaplen)
	}
	if lim := maxCapLenFor(in.link); capLen > lim {
		return &posError{at, fmt.Errorf("block at byte %d: captured length %d invalid (more than %d, the largest frame tshark reads)", at, capLen, lim)}
	}
	if r.last.IsZero() {
		r.last = time.Unix(0, 0)
	}
	*fr = Frame{Time: r.last, OrigLen: int(orig), Data: b[4 : 4+capLen], LinkType: LinkType(in.link)}
	return nil
}

// time converts a timestamp in the interface's units to a time.
func (in *ngInterface) time(ts uint64) time.Time {
	if in.pow10 && in.res == 6 {
		return time.Unix(int64(ts/1e6)+in.offset, int64(ts%1e6)*1000)
	}
	if in.pow10 && in.res == 9 {
		return time.Unix(int64(ts/1e9)+in.offset, int64(ts%1e9))
	}
	// Any other resolution: seconds = ts / unit, exactly.
	unit := new(big.Int)
	if in.pow10 {
		unit.Exp(big.NewInt(10), big.NewInt(int64(in.res)), nil)
	} else {
		unit.Lsh(big.NewInt(1), uint(in.res))
	}
	sec, rem := new(big.Int).QuoRem(new(big.Int).SetUint64(ts), unit, new(big.Int))
	nsec := rem.Mul(rem, big.NewInt(1e9))
	nsec.Quo(nsec, unit)
	return time.Unix(sec.Int64()+in.offset, nsec.Int64())
}
