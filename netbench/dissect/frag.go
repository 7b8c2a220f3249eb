package dissect

import "net/netip"

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

// fragDatagram collects the fragments of one IP datagram.
type fragDatagram struct {
	buf   []byte
	have  []bool // one per 8-byte block
	total int    // known once the last fragment arrives; -1 before
}

// fragTable reassembles IP fragments as tshark does by default, holding at
// most max incomplete datagrams.
type fragTable struct {
	t *convTable[fragKey, fragDatagram]
}

func newFragTable(max int) *fragTable {
	return &fragTable{t: newConvTable[fragKey, fragDatagram](max)}
}

// maxDatagram bounds a reassembled datagram (IPv4's limit).
const maxDatagram = 65535

// add records a fragment at byte offset off; it returns the whole datagram
// once every byte up to the last fragment's end has been seen.
func (ft *fragTable) add(k fragKey, off, length int, more bool, data []byte, truncated bool) ([]byte, bool) {
	if off+len(data) > maxDatagram || truncated {
		return nil, false
	}
	dg, fresh := ft.t.get(k)
	if fresh {
		dg.total = -1
		dg.buf = dg.buf[:0]
		dg.have = dg.have[:0]
	}
	end := off + len(data)
	if end > len(dg.buf) {
		dg.buf = append(dg.buf, make([]byte, end-len(dg.buf))...)
	}
	copy(dg.buf[off:], data)
	blocks := (end + 7) / 8
	for len(dg.have) < blocks {
		dg.have = append(dg.have, false)
	}
	for i := off / 8; i < blocks; i++ {
		dg.have[i] = true
	}
	if !more {
		dg.total = end
	}
	if dg.total < 0 {
		return nil, false
	}
	for i := 0; i < (dg.total+7)/8; i++ {
		if !dg.have[i] {
			return nil, false
		}
	}
	whole := dg.buf[:dg.total]
	ft.t.remove(k)
	return whole, true
}
