// Package span defines the typed field spans that every rendered packet line
// carries: which bytes of the line are a port, a flag set, a TLS message, and
// so on. Later stages (masking, generation) select fields by Kind and never
// re-parse text.
package span

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Kind is the type of a field in a rendered packet line.
type Kind uint8

// The field kinds. Order is part of the on-disk corpus format: append only.
const (
	None       Kind = iota // literal text between fields (arrows, "Seq=", brackets)
	Address                // <SIP>/<DIP> or a real address
	Protocol               // the Protocol column (TCP, TLSv1.2, DNS, ...)
	FrameLen               // the frame length column
	Port                   // a transport port number
	Flags                  // TCP flags "[SYN, ACK]"
	Message                // protocol message text (TLS/HTTP/DNS/... info)
	Seq                    // TCP relative sequence number
	Ack                    // TCP relative acknowledgement number
	Window                 // TCP window
	PayloadLen             // payload length (Len=)
	Option                 // a TCP option (MSS=1460, SACK_PERM, ...)
	PayloadHex             // first bytes of the transport payload as hex
	Analysis               // analysis notes ([TCP Retransmission], [TCP segment of a reassembled PDU])
	Context                // natural-language context after <sep>
	numKinds
)

var kindNames = [...]string{
	None: "none", Address: "address", Protocol: "protocol", FrameLen: "frame_len",
	Port: "port", Flags: "flags", Message: "message", Seq: "seq", Ack: "ack",
	Window: "window", PayloadLen: "payload_len", Option: "option",
	PayloadHex: "payload_hex", Analysis: "analysis", Context: "context",
}

// NumKinds is the number of defined kinds.
const NumKinds = int(numKinds)

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the Kind named s (as printed by Kind.String).
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("span: unknown field kind %q", s)
}

// MarshalText implements encoding.TextMarshaler (kinds appear by name in JSON).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err == nil {
		*k = v
	}
	return err
}

// Span marks bytes [Start, End) of a line as a field of kind Kind.
type Span struct {
	Start, End int32
	Kind       Kind
}

// Text is a line under construction: bytes plus the spans of its fields.
// The zero value is ready to use; Reset keeps the buffers for reuse.
type Text struct {
	B     []byte
	Spans []Span
}

// Reset empties t, keeping its storage.
func (t *Text) Reset() { t.B = t.B[:0]; t.Spans = t.Spans[:0] }

// Len is the number of bytes written so far.
func (t *Text) Len() int { return len(t.B) }

// String returns the text.
func (t *Text) String() string { return string(t.B) }

// Lit appends literal text that belongs to no field.
func (t *Text) Lit(s string) { t.B = append(t.B, s...) }

// LitBytes appends literal bytes that belong to no field.
func (t *Text) LitBytes(b []byte) { t.B = append(t.B, b...) }

// Field appends s as a field of kind k.
func (t *Text) Field(k Kind, s string) {
	start := len(t.B)
	t.B = append(t.B, s...)
	t.mark(k, start)
}

// FieldBytes appends b as a field of kind k.
func (t *Text) FieldBytes(k Kind, b []byte) {
	start := len(t.B)
	t.B = append(t.B, b...)
	t.mark(k, start)
}

// Uint appends the decimal v as a field of kind k.
func (t *Text) Uint(k Kind, v uint64) {
	start := len(t.B)
	t.B = strconv.AppendUint(t.B, v, 10)
	t.mark(k, start)
}

// Int appends the decimal v as a field of kind k.
func (t *Text) Int(k Kind, v int64) {
	start := len(t.B)
	t.B = strconv.AppendInt(t.B, v, 10)
	t.mark(k, start)
}

// Begin starts a field of kind k whose bytes the caller appends to t.B
// directly (or with Lit); End closes it.
func (t *Text) Begin() int { return len(t.B) }

// End closes a field started at start with Begin.
func (t *Text) End(k Kind, start int) { t.mark(k, start) }

func (t *Text) mark(k Kind, start int) {
	if k == None || start == len(t.B) {
		return
	}
	t.Spans = append(t.Spans, Span{Start: int32(start), End: int32(len(t.B)), Kind: k})
}

// Append appends all of u (bytes and spans, shifted) to t.
func (t *Text) Append(u *Text) {
	off := int32(len(t.B))
	t.B = append(t.B, u.B...)
	for _, s := range u.Spans {
		t.Spans = append(t.Spans, Span{Start: s.Start + off, End: s.End + off, Kind: s.Kind})
	}
}

// Field returns the bytes of span s in line.
func (s Span) Field(line []byte) []byte { return line[s.Start:s.End] }

// MarshalJSON writes a span compactly as [start, end, "kind"].
func (s Span) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(s.Start), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(s.End), 10)
	b = append(b, ',', '"')
	b = append(b, s.Kind.String()...)
	b = append(b, '"', ']')
	return b, nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *Span) UnmarshalJSON(b []byte) error {
	var v [3]json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("span: want [start, end, kind]: %w", err)
	}
	var start, end int32
	var kind Kind
	if err := json.Unmarshal(v[0], &start); err != nil {
		return err
	}
	if err := json.Unmarshal(v[1], &end); err != nil {
		return err
	}
	if err := json.Unmarshal(v[2], &kind); err != nil {
		return err
	}
	if start < 0 || end < start {
		return fmt.Errorf("span: bad range [%d, %d)", start, end)
	}
	*s = Span{Start: start, End: end, Kind: kind}
	return nil
}
