// Package capture reads packet capture files (pcap in all the variants
// tshark 4.0 reads, and pcapng; any byte order, optionally gzip-compressed)
// into frames, one at a time and without copying, so that memory does not
// grow with the capture.
package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// LinkType is a capture's link-layer header type (a LINKTYPE_ value).
type LinkType uint16

// Link types the dissector understands.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in host order
	LinkEthernet  LinkType = 1   // Ethernet II / 802.3, optionally VLAN-tagged
	LinkPPP       LinkType = 9   // PPP, 2-byte protocol
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkRawAlt    LinkType = 12  // DLT_RAW on some BSDs
	LinkRawAlt2   LinkType = 14  // DLT_RAW on OpenBSD
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing
	LinkIEEE80211 LinkType = 105 // 802.11 without radiotap
	LinkCHDLC     LinkType = 104 // Cisco HDLC
	LinkLoop      LinkType = 108 // OpenBSD loopback: address family in network order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkRadiotap  LinkType = 127 // 802.11 with radiotap header
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Frame is one captured frame. Data is valid until the next call to Next.
type Frame struct {
	Index int       // 1-based frame number, as tshark counts
	Time  time.Time // capture timestamp
	// OrigLen is the length on the wire (tshark's frame.len). It is never
	// less than len(Data): a record that claims fewer bytes on the wire than
	// it captured (tshark shows the smaller number) gets len(Data).
	OrigLen  int
	Data     []byte // captured bytes (may be shorter than OrigLen)
	LinkType LinkType
}

// Format names a capture file format.
type Format string

// The formats Open recognises.
const (
	FormatPcap   Format = "pcap"
	FormatPcapNG Format = "pcapng"
)

// maxCapLen is the largest record tshark 4.0 accepts for most link types
// (wiretap's WTAP_MAX_PACKET_SIZE_STANDARD); a larger one is corrupt.
const maxCapLen = 262144

// maxCapLenBig is the limit for the link types whose frames may be larger
// (D-Bus, USBPcap, as wiretap allows).
const maxCapLenBig = 128 << 20

// maxCapLenFor returns the largest captured length accepted for a link type.
func maxCapLenFor(lt uint32) uint32 {
	switch lt {
	case 231, 249: // LINKTYPE_DBUS, LINKTYPE_USBPCAP
		return maxCapLenBig
	}
	return maxCapLen
}

// Reader yields the frames of one capture file.
type Reader struct {
	name   string
	f      *os.File
	format Format
	s      *stream
	pcap   *pcapReader
	ng     *ngReader
	n      int
	err    error
}

// Open opens a pcap or pcapng file, recognised by its magic number.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

// NewReader reads a capture from rd; name is used in error messages. A
// gzip-compressed capture is decompressed on the fly, as tshark does (byte
// offsets in errors then count the decompressed stream).
func NewReader(name string, rd io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(rd, peekWindow)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%s: not a capture file: %d bytes, too short for a file header", name, len(magic))
	}
	gz := false
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: bad gzip header: %w", name, noEOF(err))
		}
		br = bufio.NewReaderSize(zr, peekWindow)
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("%s: not a capture file: %d bytes after gzip decompression, too short for a file header", name, len(magic))
		}
		gz = true
	}
	r := &Reader{name: name, s: &stream{br: br, gz: gz}}
	m := binary.LittleEndian.Uint32(magic)
	switch {
	case m == 0x0a0d0d0a:
		r.format = FormatPcapNG
		r.ng, err = newNgReader(r.s)
	case isPcapMagic(m):
		r.format = FormatPcap
		r.pcap, err = newPcapReader(r.s)
	default:
		return nil, fmt.Errorf("%s: not a pcap or pcapng file (magic %08x)", name, m)
	}
	if err != nil {
		if r.s.ioErr != nil {
			err = r.s.ioErr
		}
		return nil, fmt.Errorf("%s: bad %s header: %w", name, r.format, err)
	}
	return r, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Format reports the file's format.
func (r *Reader) Format() Format { return r.format }

// Next reads the next frame into fr. It returns io.EOF at the clean end of the
// file and a *ReadError naming the file and the byte offset for a corrupt or
// truncated record; after an error the reader is finished.
func (r *Reader) Next(fr *Frame) (err error) {
	if r.err != nil {
		return r.err
	}
	defer func() {
		// A malformed file must never take the process down: report it as a
		// read error at this frame.
		if p := recover(); p != nil {
			err = &ReadError{File: r.name, Frame: r.n + 1, Offset: r.s.off, Err: fmt.Errorf("malformed record: %v", p)}
			r.err = err
		}
	}()
	var perr *posError
	if r.ng != nil {
		perr = r.ng.next(fr)
	} else {
		perr = r.pcap.next(fr)
	}
	if perr != nil {
		if perr.err == io.EOF {
			r.err = io.EOF
			return io.EOF
		}
		if r.s.ioErr != nil {
			perr.err = fmt.Errorf("byte %d: %w", r.s.off, r.s.ioErr)
		}
		r.err = &ReadError{File: r.name, Frame: r.n + 1, Offset: perr.off, Err: perr.err, gz: r.s.gz}
		return r.err
	}
	if r.ng != nil {
		r.n += r.ng.records
		r.ng.records = 0
	}
	r.n++
	fr.Index = r.n
	if fr.OrigLen < len(fr.Data) {
		fr.OrigLen = len(fr.Data)
	}
	return nil
}

// Close closes the underlying file if Open opened it.
func (r *Reader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// ReadError is a corrupt or truncated record in a capture file. Its message
// names the file, the byte offset of the record (pcap) or block (pcapng)
// and what is wrong with it.
type ReadError struct {
	File   string
	Frame  int   // the 1-based frame number that could not be read
	Offset int64 // byte offset of the bad record or block in the (decompressed) file
	Err    error
	gz     bool
}

func (e *ReadError) Error() string {
	name := e.File
	if e.gz {
		name += " (decompressed)"
	}
	return fmt.Sprintf("%s: %v (frame %d and after not read)", name, e.Err, e.Frame)
}

func (e *ReadError) Unwrap() error { return e.Err }

// posError is an error at a byte offset, before it is given a file name.
type posError struct {
	off int64
	err error // io.EOF at the clean end of the file
}

// peekWindow is the read buffer, and how far ahead the pcap variant
// heuristics look (up to three records, as wiretap does; records beyond
// the window are taken as right). It is small because corpora often hold
// thousands of small captures, each opened once.
const peekWindow = 64 << 10

// stream is the capture's bytes with the offset of the next unread one.
type stream struct {
	br  *bufio.Reader
	off int64
	buf []byte
	gz  bool
	// ioErr is the first error reading the file that was not its end (a
	// disk or gzip error); it, rather than "cut short", is reported.
	ioErr error
}

// full reads exactly n bytes into the stream's reusable buffer, growing it
// only as data arrives, so a record that claims more bytes than the file has
// costs no more memory than the file. It returns the bytes read so far and
// io.ErrUnexpectedEOF (or io.EOF when nothing was read) if the file ends.
func (s *stream) full(n int) ([]byte, error) {
	const chunk = 1 << 20
	if cap(s.buf) < n && n <= chunk {
		s.buf = make([]byte, n, max(n, 2048))
	}
	s.buf = s.buf[:0]
	for len(s.buf) < n {
		want := min(n-len(s.buf), chunk)
		if cap(s.buf)-len(s.buf) < want {
			// Grow by doubling, but never past n.
			nb := make([]byte, len(s.buf), min(n, max(2*cap(s.buf), len(s.buf)+want)))
			copy(nb, s.buf)
			s.buf = nb
		}
		k, err := io.ReadFull(s.br, s.buf[len(s.buf):len(s.buf)+want])
		s.buf = s.buf[:len(s.buf)+k]
		s.off += int64(k)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF && s.ioErr == nil {
			s.ioErr = err // a read or decompression error, not the end of the file
		}
		if err != nil {
			if len(s.buf) == 0 {
				return s.buf, io.EOF
			}
			return s.buf, io.ErrUnexpectedEOF
		}
	}
	return s.buf, nil
}

// readFull reads len(b) bytes into b, as io.ReadFull does, keeping the
// offset and any error that is not the end of the file.
func (s *stream) readFull(b []byte) (int, error) {
	k, err := io.ReadFull(s.br, b)
	s.off += int64(k)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF && s.ioErr == nil {
		s.ioErr = err
	}
	return k, err
}

// skip discards n bytes; it returns how many were there.
func (s *stream) skip(n int64) (int64, error) {
	var done int64
	for done < n {
		k, err := s.br.Discard(int(min(n-done, 1<<30)))
		done += int64(k)
		s.off += int64(k)
		if err != nil && err != io.EOF && s.ioErr == nil {
			s.ioErr = err
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
