package netbench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// IsTextDataName reports whether a file holds flows already rendered as text
// (NetBench flow JSON or Lens task JSON lines) rather than packets.
func IsTextDataName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".jsonl")
}

// Limits on imported text. A packet line is one line of tshark's one-line
// summary, whose Info column tshark cuts at 4096 bytes, so 8 KiB holds any
// real line with its addresses, protocol and payload hex; a row holds one
// flow's lines (34 are kept) and its context, far below 4 MiB.
const (
	MaxTextRowBytes    = 4 << 20
	MaxPacketLineBytes = 8 << 10
)

// Reasons a text row is rejected, counted in a manifest's Skipped.
const (
	SkipRowNotJSON    = "text row: not valid JSON"
	SkipRowNotObject  = "text row: not a JSON object"
	SkipRowTooLong    = "text row: longer than 4 MiB"
	SkipRowNoText     = "text row: no packet text"
	SkipRowBadLabel   = "text row: label not a string"
	SkipRowNoLabel    = "text row: no label"
	SkipRowNotPackets = "text row: text is not packet lines"
	SkipRowCutShort   = "text row: cut short by the end of the file"
)

// RowError is a row of a text import that was rejected.
type RowError struct {
	File   string
	Row    int   // 1-based: the line number for JSON lines, the element number in an array
	Line   bool  // the file is line-based (JSON lines), so Row is a line number
	Offset int64 // byte offset of the row in the file
	Reason string
	Detail string
}

func (e *RowError) Error() string {
	if e.Line {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Row, e.Detail)
	}
	return fmt.Sprintf("%s: row %d (byte %d): %s", e.File, e.Row, e.Offset, e.Detail)
}

// TextImport counts what ImportText took and left.
type TextImport struct {
	Rows    int            // rows imported as flows
	Skipped map[string]int // rows rejected, by reason
}

// Rejected is the number of rows rejected.
func (t *TextImport) Rejected() int {
	n := 0
	for _, v := range t.Skipped {
		n += v
	}
	return n
}

// rowFields are the fields of one row of NetBench flow JSON (text,
// label1..label3) or of the published Lens task data (anonymized_text,
// label), kept raw so that their JSON types can be checked.
type rowFields struct {
	Text           json.RawMessage `json:"text"`
	AnonymizedText json.RawMessage `json:"anonymized_text"`
	Label          json.RawMessage `json:"label"`
	Label1         json.RawMessage `json:"label1"`
	Label2         json.RawMessage `json:"label2"`
	Label3         json.RawMessage `json:"label3"`
}

// datasetFromName takes "<dataset>_<split>_flow.json" apart; it returns ""
// for names of another form.
func datasetFromName(path string) string {
	base := filepath.Base(path)
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".jsonl"), ".json")
	parts := strings.Split(base, "_")
	if len(parts) >= 3 && parts[len(parts)-1] == "flow" {
		return strings.Join(parts[:len(parts)-2], "_")
	}
	return ""
}

// ImportText reads a NetBench flow JSON file (a JSON array of rows, or one
// row per line) or Lens JSON lines (*.jsonl: always one row per line),
// calling emit for each flow. Each row's
// text (up to "<sep>", after which a Lens row holds its task context) must
// be tshark-style packet lines, SRC → DST PROTOCOL LENGTH INFO, whose spans
// ParseLine recovers. Its label is the finest one given (label3, else
// label2, else label1, else label), which must be a JSON string, prefixed
// with the dataset named by the file ("<dataset>_<split>_flow.json") when
// there is one; a row with no label of its own takes folderLabel, and with
// neither it is rejected. A rejected row is reported through bad (file and
// line for JSON lines, file, row and byte offset for an array) and counted;
// the rest goes on. A syntax error inside an array loses only its row: the
// reader finds the next row by the array's structure.
func ImportText(path, folderLabel string, emit func(*Flow) error, bad func(*RowError)) (TextImport, error) {
	res := TextImport{Skipped: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	im := &textImporter{path: path, base: filepath.Base(path), dataset: datasetFromName(path), folderLabel: folderLabel, emit: emit, bad: bad, res: &res}
	br := bufio.NewReaderSize(f, 1<<20)
	first, skipped, err := firstNonSpace(br)
	if err != nil {
		if err == io.EOF {
			return res, nil
		}
		return res, fmt.Errorf("%s: %w", path, err)
	}
	if first == '[' && !strings.HasSuffix(strings.ToLower(path), ".jsonl") {
		br.ReadByte()
		a := &arrayScanner{br: br, off: skipped + 1}
		return res, im.array(a)
	}
	return res, im.lines(br)
}

type textImporter struct {
	path, base, dataset, folderLabel string
	emit                             func(*Flow) error
	bad                              func(*RowError)
	res                              *TextImport
	line                             bool
}

func (im *textImporter) reject(row int, off int64, reason, detail string) {
	im.res.Skipped[reason]++
	if im.bad != nil {
		im.bad(&RowError{File: im.path, Row: row, Line: im.line, Offset: off, Reason: reason, Detail: detail})
	}
}

// lines reads one row per line.
func (im *textImporter) lines(br *bufio.Reader) error {
	im.line = true
	var (
		line int
		off  int64
		buf  []byte
	)
	for {
		start := off
		buf = buf[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			off += int64(len(chunk))
			if len(buf)+len(chunk) > MaxTextRowBytes+1 {
				tooLong = true
			} else {
				buf = append(buf, chunk...)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if off > start {
			line++
			switch {
			case tooLong:
				im.reject(line, start, SkipRowTooLong, fmt.Sprintf("%d bytes, over the %d-byte limit on a row", off-start, MaxTextRowBytes))
			case len(bytes.TrimSpace(buf)) > 0:
				if herr := im.row(line, start, bytes.TrimSpace(buf)); herr != nil {
					return herr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", im.path, line+1, err)
		}
	}
}

// array reads the rows of a JSON array.
func (im *textImporter) array(a *arrayScanner) error {
	row := 0
	for {
		el, err := a.next()
		if err == errArrayEnd {
			if a.trailing > 0 {
				return fmt.Errorf("%s: byte %d: %d bytes after the array's closing ] ignored", im.path, a.endOff, a.trailing)
			}
			return nil
		}
		if err == io.EOF {
			return fmt.Errorf("%s: the file ends at byte %d without the array's closing ]: rows up to there were read", im.path, a.off)
		}
		if err != nil {
			return fmt.Errorf("%s: byte %d: %w", im.path, a.off, err)
		}
		if el.tooLong {
			row++
			im.reject(row, el.off, SkipRowTooLong, fmt.Sprintf("over the %d-byte limit on a row; the next row starts at byte %d", MaxTextRowBytes, el.end))
			continue
		}
		pieces := []piece{{0, el.raw}}
		if el.cutShort || el.broken != "" || !json.Valid(el.raw) {
			// A quote or bracket out of place can run rows together: split
			// them again where one object ends and the next begins.
			var closed bool
			pieces, closed = splitRows(el.raw)
			if el.cutShort && closed {
				a.done = true // the array's ] was read inside the broken row
			}
		}
		for i, p := range pieces {
			row++
			off := el.off + int64(p.at)
			valid := len(pieces) == 1 && !el.cutShort && el.broken == "" || json.Valid(p.raw)
			switch {
			case !valid && el.cutShort && i == len(pieces)-1:
				im.reject(row, off, SkipRowCutShort, fmt.Sprintf("the file ends at byte %d inside this row (an unterminated string or bracket)", a.off))
			case !valid && el.broken != "" && i == 0:
				im.reject(row, off, SkipRowNotJSON, el.broken+fmt.Sprintf("; the next row starts at byte %d", el.off+int64(nextAt(pieces, el.end-el.off))))
			default:
				if herr := im.row(row, off, p.raw); herr != nil {
					return herr
				}
			}
		}
	}
}

// piece is a part of a broken array element that may be a row of its own.
type piece struct {
	at  int // offset in the element
	raw []byte
}

// nextAt is where the row after the first piece starts.
func nextAt(p []piece, end int64) int64 {
	if len(p) > 1 {
		return int64(p[1].at)
	}
	return end
}

// splitRows splits b where one object ends and the next begins ("}", ",",
// "{" with only white space between), found by bytes alone; a closing "]"
// after the last object (an element cut at the end of the file) is dropped
// and reported.
func splitRows(b []byte) (rows []piece, closed bool) {
	var out []piece
	start := 0
	for i := 0; i < len(b); i++ {
		if b[i] != '}' {
			continue
		}
		j := i + 1
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j >= len(b) || b[j] != ',' {
			continue
		}
		j++
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j < len(b) && b[j] == '{' {
			out = append(out, piece{start, b[start : i+1]})
			start = j
			i = j - 1
		}
	}
	last := bytes.TrimRight(b[start:], " \t\r\n")
	if t := bytes.TrimRight(bytes.TrimSuffix(last, []byte("]")), " \t\r\n"); len(t) < len(last) && bytes.HasSuffix(t, []byte("}")) {
		last, closed = t, true
	}
	return append(out, piece{start, last}), closed
}

// row checks one row and emits its flow; only emit's error is returned.
func (im *textImporter) row(n int, off int64, raw []byte) error {
	if len(raw) == 0 || raw[0] != '{' {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			im.reject(n, off, SkipRowNotJSON, jsonDetail(err, raw))
		} else {
			im.reject(n, off, SkipRowNotObject, fmt.Sprintf("a JSON %s, want an object with text and label fields", jsonKind(raw)))
		}
		return nil
	}
	var r rowFields
	if err := json.Unmarshal(raw, &r); err != nil {
		im.reject(n, off, SkipRowNotJSON, jsonDetail(err, raw))
		return nil
	}
	// Text.
	textField, textRaw := "text", r.Text
	if isAbsent(textRaw) {
		textField, textRaw = "anonymized_text", r.AnonymizedText
	}
	if isAbsent(textRaw) {
		im.reject(n, off, SkipRowNoText, "no text or anonymized_text")
		return nil
	}
	var text string
	if err := json.Unmarshal(textRaw, &text); err != nil {
		im.reject(n, off, SkipRowNoText, fmt.Sprintf("%s is a JSON %s, want a string", textField, jsonKind(textRaw)))
		return nil
	}
	// Label: every label given must be a string; the finest one is taken.
	label := ""
	for _, l := range []struct {
		name string
		raw  json.RawMessage
	}{{"label3", r.Label3}, {"label2", r.Label2}, {"label1", r.Label1}, {"label", r.Label}} {
		if isAbsent(l.raw) {
			continue
		}
		var s string
		if err := json.Unmarshal(l.raw, &s); err != nil {
			im.reject(n, off, SkipRowBadLabel, fmt.Sprintf("%s is a JSON %s (%s), want a string", l.name, jsonKind(l.raw), quote(string(l.raw), 40)))
			return nil
		}
		if label == "" {
			label = strings.TrimSpace(s)
		}
	}
	if label == "" {
		if im.folderLabel == "" {
			im.reject(n, off, SkipRowNoLabel, "no label, label1, label2 or label3, and no label folder (INPUT/<label>/file)")
			return nil
		}
		label = im.folderLabel
	} else if im.dataset != "" {
		label = im.dataset + "/" + label
	}
	// Packet lines.
	if i := strings.Index(text, "<sep>"); i >= 0 {
		text = text[:i]
	}
	fl := &Flow{Capture: fmt.Sprintf("%s:%d", im.base, n), Label: label}
	k := 0
	for ln := range strings.SplitSeq(text, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" {
			continue
		}
		k++
		if len(ln) > MaxPacketLineBytes {
			im.reject(n, off, SkipRowNotPackets, fmt.Sprintf("packet line %d is %d bytes, over the %d-byte limit on a packet line", k, len(ln), MaxPacketLineBytes))
			return nil
		}
		if !IsPacketLine(ln) {
			im.reject(n, off, SkipRowNotPackets, fmt.Sprintf("packet line %d is not SRC → DST PROTOCOL LENGTH INFO: %s", k, quote(ln, 60)))
			return nil
		}
		if len(fl.Lines) < MaxFlowPackets {
			fl.Lines = append(fl.Lines, ParseLine(ln))
		}
	}
	if k == 0 {
		im.reject(n, off, SkipRowNoText, fmt.Sprintf("%s holds no packet line", textField))
		return nil
	}
	fl.Packets = k
	im.res.Rows++
	return im.emit(fl)
}

// IsPacketLine reports whether a line has the form of tshark's one-line
// summary without number and time: SRC → DST PROTOCOL LENGTH [INFO...].
func IsPacketLine(s string) bool {
	f := strings.Fields(s)
	if len(f) < 5 || f[1] != "→" || isDigits(f[3]) {
		return false
	}
	for _, w := range f[4:] {
		if isDigits(w) {
			return true
		}
		if w == "→" {
			return false
		}
	}
	return false
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func jsonDetail(err error, raw []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON: %v at byte %d of the row", err, se.Offset)
	}
	return fmt.Sprintf("not valid JSON: %v", err)
}

// quote shortens s to at most n bytes for a message.
func quote(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("%q... (%d bytes)", s[:n], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// firstNonSpace peeks at the first byte that is not white space, consuming
// the white space; it returns how many bytes that was.
func firstNonSpace(br *bufio.Reader) (byte, int64, error) {
	var n int64
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, n, err
		}
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' {
			return b, n, br.UnreadByte()
		}
		n++
	}
}

// arrayScanner splits a JSON array into its elements by structure alone
// (brackets outside strings), so that an element that is not valid JSON
// loses only itself, and an element longer than MaxTextRowBytes is skipped
// without being held in memory.
type arrayScanner struct {
	br       *bufio.Reader
	off      int64 // offset of the next unread byte
	endOff   int64 // offset of the closing ]
	trailing int64 // non-space bytes after the closing ]
	buf      []byte
	done     bool
}

// element is one array element as found by the scanner.
type element struct {
	off, end int64 // where it starts and where the next row starts
	raw      []byte
	tooLong  bool
	cutShort bool
	broken   string // why the element's structure is broken ("" if intact)
}

var errArrayEnd = errors.New("end of array")

func (a *arrayScanner) read() (byte, error) {
	c, err := a.br.ReadByte()
	if err == nil {
		a.off++
	}
	return c, err
}

func (a *arrayScanner) unread() {
	a.br.UnreadByte()
	a.off--
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// next returns the next element, errArrayEnd after the closing bracket, or
// io.EOF if the file ends between elements without one.
func (a *arrayScanner) next() (*element, error) {
	if a.done {
		return nil, errArrayEnd
	}
	// Skip white space and the separating comma.
	for {
		c, err := a.read()
		if err != nil {
			return nil, err
		}
		if isSpace(c) || c == ',' {
			continue
		}
		if c == ']' {
			a.done = true
			a.endOff = a.off - 1
			a.countTrailing()
			return nil, errArrayEnd
		}
		a.unread()
		break
	}
	el := &element{off: a.off}
	a.buf = a.buf[:0]
	keep := func(c byte) {
		if el.tooLong {
			return
		}
		if len(a.buf) >= MaxTextRowBytes {
			el.tooLong = true
			a.buf = a.buf[:0]
			return
		}
		a.buf = append(a.buf, c)
	}
	depth, inString, escaped := 0, false, false
	for {
		c, err := a.read()
		if err != nil {
			el.cutShort = true
			return a.finish(el), nil
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			case c == '\n':
				// JSON strings hold no raw line break: the string was not
				// closed. Resynchronise at the next row.
				el.broken = fmt.Sprintf("not valid JSON: a line break inside a string at byte %d (an unterminated string)", a.off-1)
				a.finish(el)
				a.resync(tailState(el.raw))
				el.end = a.off
				return el, nil
			}
			keep(c)
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the array's own closing bracket ends a scalar
				a.unread()
				return a.finish(el), nil
			}
			depth--
		case ',':
			if depth == 0 {
				a.unread()
				return a.finish(el), nil
			}
		}
		keep(c)
		if depth == 0 && (c == '}' || c == ']') {
			return a.finish(el), nil
		}
		if el.tooLong && depth > 0 {
			// A row this long is not read to its end by structure: a broken
			// string could make it run to the end of the file.
			a.resync(0)
			el.end = a.off
			return el, nil
		}
	}
}

func (a *arrayScanner) finish(el *element) *element {
	el.raw = bytes.TrimSpace(a.buf)
	el.end = a.off
	return el
}

// resync skips to the start of the next row, found by bytes alone: the '{'
// of the next "}" "," "{", or the ']' of a "}" "]" that ends the array.
// state says how much of that was read already (tailState).
func (a *arrayScanner) resync(state int) {
	for {
		c, err := a.read()
		if err != nil {
			return
		}
		switch {
		case c == '}':
			state = 1
		case isSpace(c):
		case c == ',' && state == 1:
			state = 2
		case c == '{' && state == 2, c == ']' && state == 1:
			a.unread()
			return
		default:
			state = 0
		}
	}
}

// tailState is resync's state after the bytes b: 2 after "}" ",", 1 after
// "}", else 0 (white space between ignored).
func tailState(b []byte) int {
	b = bytes.TrimRight(b, " \t\r\n")
	if t, ok := bytes.CutSuffix(b, []byte(",")); ok {
		if bytes.HasSuffix(bytes.TrimRight(t, " \t\r\n"), []byte("}")) {
			return 2
		}
		return 0
	}
	if bytes.HasSuffix(b, []byte("}")) {
		return 1
	}
	return 0
}

func (a *arrayScanner) countTrailing() {
	for {
		c, err := a.read()
		if err != nil {
			return
		}
		if !isSpace(c) {
			a.trailing++
		}
	}
}
