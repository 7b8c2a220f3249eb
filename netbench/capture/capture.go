// Package capture reads packet capture files (pcap and pcapng, any byte order,
// micro- and nanosecond timestamps, several interfaces) into frames, one at a
// time and without copying, so that memory does not grow with the capture.
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

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
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
	Index    int       // 1-based frame number, as tshark counts
	Time     time.Time // capture timestamp
	OrigLen  int       // length on the wire (tshark's frame.len)
	Data     []byte    // captured bytes (may be shorter than OrigLen)
	LinkType LinkType
}

// Format names a capture file format.
type Format string

// The formats Open recognises.
const (
	FormatPcap   Format = "pcap"
	FormatPcapNG Format = "pcapng"
)

// Reader yields the frames of one capture file.
type Reader struct {
	name   string
	f      *os.File
	format Format
	pcap   *pcapgo.Reader
	ng     *pcapgo.NgReader
	link   LinkType
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
// gzip-compressed capture is decompressed on the fly, as tshark does.
func NewReader(name string, rd io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(rd, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%s: not a capture file: %w", name, noEOF(err))
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: bad gzip header: %w", name, noEOF(err))
		}
		br = bufio.NewReaderSize(zr, 1<<16)
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("%s: not a capture file: %w", name, noEOF(err))
		}
	}
	r := &Reader{name: name}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case 0x0a0d0d0a:
		r.format = FormatPcapNG
		r.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r.format = FormatPcap
		r.pcap, err = pcapgo.NewReader(br)
		if err == nil {
			r.link = LinkType(r.pcap.LinkType())
		}
	default:
		return nil, fmt.Errorf("%s: not a pcap or pcapng file (magic %08x)", name, m)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: bad %s header: %w", name, r.format, noEOF(err))
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
// file and a *ReadError naming the file and frame for a corrupt or truncated
// record; after an error the reader is finished.
func (r *Reader) Next(fr *Frame) (err error) {
	if r.err != nil {
		return r.err
	}
	defer func() {
		// A malformed file must never take the process down: report it as a
		// read error at this frame.
		if p := recover(); p != nil {
			err = &ReadError{File: r.name, Frame: r.n + 1, Err: fmt.Errorf("malformed record: %v", p)}
			r.err = err
		}
	}()
	var (
		data []byte
		ci   gopacket.CaptureInfo
	)
	if r.ng != nil {
		data, ci, err = r.ng.ZeroCopyReadPacketData()
	} else {
		data, ci, err = r.pcap.ZeroCopyReadPacketData()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			return io.EOF
		}
		r.err = &ReadError{File: r.name, Frame: r.n + 1, Err: err}
		return r.err
	}
	r.n++
	link := r.link
	if r.ng != nil && len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			link = LinkType(lt)
		}
	}
	orig := ci.Length
	if orig < len(data) {
		orig = len(data)
	}
	*fr = Frame{Index: r.n, Time: ci.Timestamp, OrigLen: orig, Data: data, LinkType: link}
	return nil
}

// Close closes the underlying file if Open opened it.
func (r *Reader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// ReadError is a corrupt or truncated record in a capture file.
type ReadError struct {
	File  string
	Frame int // the 1-based frame number that could not be read
	Err   error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("%s: frame %d: %v", e.File, e.Frame, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }
