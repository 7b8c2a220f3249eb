package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcap magic numbers, as read little-endian from the first four bytes; the
// byte-swapped value means a big-endian file.
const (
	magicMicro    = 0xa1b2c3d4 // standard, microsecond timestamps
	magicNano     = 0xa1b23c4d // nanosecond timestamps
	magicModified = 0xa1b2cd34 // Kuznetsov's patched libpcap (ss990915, ss991029)
	magicIxiaHW   = 0x1c0001ac // Ixia hardware: 4 extra bytes after the header
	magicIxiaSW   = 0x1c0001ab // Ixia software: the same
)

func isPcapMagic(m uint32) bool {
	switch m {
	case magicMicro, magicNano, magicModified, magicIxiaHW, magicIxiaSW:
		return true
	}
	switch bits.ReverseBytes32(m) {
	case magicMicro, magicNano, magicModified, magicIxiaHW, magicIxiaSW:
		return true
	}
	return false
}

// pcapVariant is one of the record layouts written under the pcap magics.
// The standard and modified magics are each shared by several layouts,
// which are told apart, as wiretap does, by trying the first records.
type pcapVariant int

const (
	pcapStandard pcapVariant = iota // 16-byte record header
	pcapNano                        // standard layout, nanosecond timestamps
	pcapAIX                         // AIX: version 2.2, ifType link types, nanoseconds
	pcapSS990417                    // Red Hat 6.1: standard magic, 24-byte record header
	pcapSS990915                    // SuSE 6.3: modified magic, 28-byte record header
	pcapSS991029                    // modified magic, 24-byte record header
	pcapNokia                       // Nokia IPSO: standard magic, 20-byte record header
)

func (v pcapVariant) headerLen() int {
	switch v {
	case pcapSS990417, pcapSS991029:
		return 24
	case pcapSS990915:
		return 28
	case pcapNokia:
		return 20
	}
	return 16
}

// How a file's version says the captured and original lengths are ordered:
// files before version 2.3 (and DG/UX's 543.0) have them the other way round,
// and some 2.3 files have either order.
type lengthOrder int

const (
	lengthsInOrder lengthOrder = iota
	lengthsSwapped
	lengthsMaybeSwapped
)

type pcapReader struct {
	s       *stream
	order   binary.ByteOrder
	variant pcapVariant
	lengths lengthOrder
	link    uint32
	snaplen uint32
	maxCap  uint32
	hdr     [28]byte
}

func newPcapReader(s *stream) (*pcapReader, error) {
	h, err := s.full(24)
	if err != nil {
		return nil, fmt.Errorf("file header cut short: %d of 24 bytes", len(h))
	}
	r := &pcapReader{s: s, order: binary.LittleEndian}
	m := binary.LittleEndian.Uint32(h)
	if !isPcapMagicLE(m) {
		r.order = binary.BigEndian
		m = bits.ReverseBytes32(m)
	}
	major, minor := r.order.Uint16(h[4:]), r.order.Uint16(h[6:])
	r.snaplen = r.order.Uint32(h[16:])
	network := r.order.Uint32(h[20:])
	if major < 2 {
		return nil, fmt.Errorf("version %d.%d unsupported (pcap files are version 2.0 or later)", major, minor)
	}
	switch {
	case major == 2 && minor < 3, major == 543:
		r.lengths = lengthsSwapped
	case major == 2 && minor == 3:
		r.lengths = lengthsMaybeSwapped
	}
	if m == magicIxiaHW || m == magicIxiaSW {
		if extra, err := s.full(4); err != nil {
			return nil, fmt.Errorf("Ixia file header cut short: %d of 28 bytes", 24+len(extra))
		}
	}
	variant := pcapVariant(-1)
	switch m {
	case magicNano:
		variant = pcapNano
	case magicIxiaHW, magicIxiaSW:
		variant = pcapStandard
	case magicMicro:
		// AIX writes version 2.2 and RFC 1573 ifType values for the link.
		if major == 2 && minor == 2 {
			aix := map[uint32]uint32{6: 1, 9: 6, 15: 10, 24: 0}
			if lt, ok := aix[network]; ok {
				network, variant = lt, pcapAIX
			}
		}
	}
	// The upper bits hold an FCS length and reserved bits; the link type is
	// the low 16.
	r.link = network & 0xffff
	r.maxCap = maxCapLenFor(r.link)
	switch {
	case variant >= 0:
		r.variant = variant
	case m == magicModified:
		r.variant = r.guess(pcapSS991029, pcapSS990915)
	default:
		r.variant = r.guess(pcapStandard, pcapSS990417, pcapNokia)
	}
	return r, nil
}

func isPcapMagicLE(m uint32) bool {
	switch m {
	case magicMicro, magicNano, magicModified, magicIxiaHW, magicIxiaSW:
		return true
	}
	return false
}

// guess picks the record layout under which the first three records look
// sane: the first with no fault, else the one with the fewest.
func (r *pcapReader) guess(candidates ...pcapVariant) pcapVariant {
	ahead, err := r.s.br.Peek(peekWindow)
	atEOF := err != nil
	best, bestScore := candidates[0], int(^uint(0)>>1)
	for _, v := range candidates {
		score := r.faults(v, ahead, atEOF)
		if score == 0 {
			return v
		}
		if score < bestScore {
			best, bestScore = v, score
		}
	}
	return best
}

// faults counts what is wrong with the first bad one of the first three
// records read as layout v (0: all three look right). Records beyond the
// look-ahead window are taken as right.
func (r *pcapReader) faults(v pcapVariant, ahead []byte, atEOF bool) int {
	pos := 0
	hl := v.headerLen()
	for range 3 {
		if len(ahead)-pos < hl {
			switch {
			case pos == len(ahead) && atEOF, !atEOF:
				return 0 // the file ends cleanly here, or we cannot see further
			default:
				return 1 // the file ends inside a record header
			}
		}
		h := ahead[pos : pos+hl]
		frac := r.order.Uint32(h[4:])
		incl, orig := r.lengthsOf(h)
		n := 0
		if frac >= 1000000 {
			n++
		}
		if incl > r.maxCap {
			n++
		}
		if orig > 128<<20 {
			n++
		}
		if incl > r.snaplen {
			n++
		}
		if incl > orig {
			n++
		}
		if n > 0 {
			return n
		}
		pos += hl + int(incl)
		if pos > len(ahead) {
			if atEOF {
				return 1 // the file ends inside the record
			}
			return 0
		}
	}
	return 0
}

func (r *pcapReader) lengthsOf(h []byte) (incl, orig uint32) {
	incl, orig = r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	switch r.lengths {
	case lengthsSwapped:
		incl, orig = orig, incl
	case lengthsMaybeSwapped:
		if incl > orig {
			incl, orig = orig, incl
		}
	}
	return incl, orig
}

func (r *pcapReader) next(fr *Frame) *posError {
	at := r.s.off
	hl := r.variant.headerLen()
	k, err := r.s.readFull(r.hdr[:hl])
	if err != nil {
		if k == 0 && r.s.ioErr == nil {
			return &posError{at, io.EOF}
		}
		return &posError{at, fmt.Errorf("record at byte %d: record header cut short: %d of %d bytes", at, k, hl)}
	}
	h := r.hdr[:hl]
	incl, orig := r.lengthsOf(h)
	if incl > r.maxCap {
		return &posError{at, fmt.Errorf("record at byte %d: captured length %d invalid (more than %d, the largest frame tshark reads)", at, incl, r.maxCap)}
	}
	sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	if r.variant == pcapAIX && r.link == 10 { // AIX pads FDDI frames with 3 bytes
		if incl < 3 {
			return &posError{at, fmt.Errorf("record at byte %d: captured length %d invalid (AIX FDDI records start with 3 bytes of padding)", at, incl)}
		}
		if _, err := r.s.skip(3); err != nil {
			return &posError{at, cutShort(at, int64(hl)+int64(incl), r.s.off)}
		}
		incl -= 3
		orig = max(orig, 3) - 3
	}
	data, err := r.s.full(int(incl))
	if err != nil && errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF && incl > 0 {
		return &posError{at, cutShort(at, int64(hl)+int64(incl), r.s.off)}
	}
	nsec := int64(frac) * 1000
	if r.variant == pcapNano || r.variant == pcapAIX {
		nsec = int64(frac)
	}
	*fr = Frame{Time: time.Unix(int64(sec), nsec), OrigLen: int(orig), Data: data, LinkType: LinkType(r.link)}
	return nil
}

func cutShort(at, length, end int64) error {
	return fmt.Errorf("record at byte %d: %d-byte record cut short: the file ends at byte %d", at, length, end)
}
