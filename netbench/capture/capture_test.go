package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pcapFile builds a little-endian microsecond pcap with the given frames.
func pcapFile(link uint32, frames ...[]byte) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], link)
	b.Write(h)
	for i, f := range frames {
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r[0:], uint32(1000+i))
		binary.LittleEndian.PutUint32(r[4:], 500)
		binary.LittleEndian.PutUint32(r[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(r[12:], uint32(len(f)+10))
		b.Write(r)
		b.Write(f)
	}
	return b.Bytes()
}

func readAll(t *testing.T, r *Reader) []Frame {
	t.Helper()
	var out []Frame
	for {
		var fr Frame
		err := r.Next(&fr)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		fr.Data = append([]byte(nil), fr.Data...)
		out = append(out, fr)
	}
}

func TestReadPcap(t *testing.T) {
	data := pcapFile(1, []byte{1, 2, 3}, []byte{4, 5})
	r, err := NewReader("mem", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fr := readAll(t, r)
	if len(fr) != 2 || fr[0].Index != 1 || fr[1].Index != 2 {
		t.Fatalf("frames %+v", fr)
	}
	if fr[0].OrigLen != 13 || !bytes.Equal(fr[1].Data, []byte{4, 5}) || fr[0].LinkType != LinkEthernet {
		t.Errorf("frame 1 %+v", fr[0])
	}
	if got := fr[0].Time; !got.Equal(time.Unix(1000, 500000)) {
		t.Errorf("time %v", got)
	}
}

// TestReadGzip: tshark reads gzip-compressed captures transparently.
func TestReadGzip(t *testing.T) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(pcapFile(101, []byte{0x45, 0, 0, 20}))
	w.Close()
	r, err := NewReader("mem.gz", bytes.NewReader(z.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	fr := readAll(t, r)
	if len(fr) != 1 || fr[0].LinkType != LinkRaw || fr[0].Data[0] != 0x45 {
		t.Fatalf("frames %+v", fr)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty: not a capture file: 0 bytes, too short for a file header"},
		{"short magic", []byte{0xd4, 0xc3}, "short magic: not a capture file: 2 bytes, too short for a file header"},
		{"not a capture", []byte("hello, world, this is text"), "not a capture: not a pcap or pcapng file (magic 6c6c6568)"},
		{"short header", pcapFile(1)[:10], "short header: bad pcap header: file header cut short: 10 of 24 bytes"},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0, 0}, "bad gzip: bad gzip header: unexpected EOF"},
	} {
		if _, err := NewReader(tc.name, bytes.NewReader(tc.data)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// A record cut short is a read error naming the frame, after the good ones.
	data := pcapFile(1, []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8})
	r, err := NewReader("cut", bytes.NewReader(data[:len(data)-2]))
	if err != nil {
		t.Fatal(err)
	}
	var fr Frame
	if err := r.Next(&fr); err != nil {
		t.Fatalf("first frame: %v", err)
	}
	err = r.Next(&fr)
	var re *ReadError
	if !errors.As(err, &re) || re.Frame != 2 {
		t.Fatalf("second frame: %v, want a ReadError at frame 2", err)
	}
}

// TestGzipErrorReported: a damaged gzip stream is reported as such, not as
// a capture cut short.
func TestGzipErrorReported(t *testing.T) {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(pcapFile(1, make([]byte, 100), make([]byte, 100)))
	w.Close()
	b := z.Bytes()
	b[len(b)-8] ^= 0xff // the CRC-32 in the trailer
	var ng bytes.Buffer
	w = gzip.NewWriter(&ng)
	w.Write(ngFile())
	w.Close()
	b2 := ng.Bytes()
	b2[len(b2)-8] ^= 0xff
	for name, data := range map[string][]byte{"x.pcap.gz": b, "x.pcapng.gz": b2} {
		r, err := NewReader(name, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var fr Frame
		for err == nil {
			err = r.Next(&fr)
		}
		if err == io.EOF || !strings.Contains(err.Error(), name+" (decompressed): byte ") || !strings.Contains(err.Error(), "gzip: invalid checksum") {
			t.Errorf("err %v, want the gzip checksum error with its byte offset", err)
		}
	}
}

// ngFile is a little-endian pcapng with one Ethernet frame.
func ngFile() []byte {
	g := ng{le}
	return cat(g.shb(1, 0), g.idb(1, 0), g.epb(0, 1, make([]byte, 60), 60))
}

func seedFiles(f *testing.F) {
	files, _ := filepath.Glob("../dissect/testdata/*.pcap*")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil && len(b) < 1<<16 {
			f.Add(b)
		}
	}
}

// FuzzReadCapture: random and truncated pcap/pcapng bytes give an error or
// EOF, never a panic or a hang, in memory bounded by the input.
func FuzzReadCapture(f *testing.F) {
	f.Add(pcapFile(1, []byte{1, 2, 3}))
	f.Add(pcapFile(113, make([]byte, 40), []byte{}))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0})
	seedFiles(f)
	for _, b := range variants() {
		if len(b) < 1<<16 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader("fuzz", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("open error does not name the file: %v", err)
			}
			return
		}
		defer r.Close()
		var fr Frame
		last := 0 // the last frame number (custom blocks take numbers too)
		for n := 0; ; n++ {
			if n > 1<<22 { // a gzip stream may expand, but not without bound
				t.Fatalf("%d frames from %d bytes", n, len(data))
			}
			if err := r.Next(&fr); err != nil {
				if err2 := r.Next(&fr); err2 == nil {
					t.Fatalf("Next succeeded after error %v", err)
				}
				var re *ReadError
				if err != io.EOF && (!errors.As(err, &re) || re.Frame <= last || !strings.HasPrefix(err.Error(), "fuzz") ||
					!strings.Contains(err.Error(), "byte ") || strings.Contains(err.Error(), "malformed record")) {
					t.Fatalf("after %d frames: error %v does not name the file and byte offset, or the reader panicked", n, err)
				}
				return
			}
			if fr.Index <= last {
				t.Fatalf("frame %d numbered %d after %d", n+1, fr.Index, last)
			}
			last = fr.Index
			if fr.OrigLen < len(fr.Data) {
				t.Fatalf("OrigLen %d < captured %d", fr.OrigLen, len(fr.Data))
			}
		}
	})
}

// TestReadPcapNG reads a two-interface pcapng capture (testdata of the
// dissect package) as tshark does: six Ethernet frames with their lengths.
func TestReadPcapNG(t *testing.T) {
	r, err := Open("../dissect/testdata/zeek__pcapng-multi-interface.pcapng")
	if err != nil {
		t.Skip(err)
	}
	defer r.Close()
	if r.Format() != FormatPcapNG {
		t.Errorf("format %s", r.Format())
	}
	fr := readAll(t, r)
	want := []int{96, 214, 70, 166, 70, 182}
	if len(fr) != len(want) {
		t.Fatalf("%d frames, want %d", len(fr), len(want))
	}
	for i, f := range fr {
		if f.OrigLen != want[i] || len(f.Data) != want[i] || f.LinkType != LinkEthernet || f.Index != i+1 {
			t.Errorf("frame %d: %d/%d bytes, link %d", f.Index, len(f.Data), f.OrigLen, f.LinkType)
		}
	}
}

// BenchmarkRead reads the dissect package's test captures, opening each
// file every time (corpora often hold many small captures).
func BenchmarkRead(b *testing.B) {
	files, _ := filepath.Glob("../dissect/testdata/*.pcap*")
	var size int64
	for _, p := range files {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range files {
			r, err := Open(p)
			if err != nil {
				b.Fatal(err)
			}
			var fr Frame
			for r.Next(&fr) == nil {
			}
			r.Close()
		}
	}
}
