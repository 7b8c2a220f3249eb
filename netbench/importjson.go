package netbench

import (
	"bufio"
	"bytes"
	"encoding/json"
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

// textRow is one row of NetBench flow JSON (text, label1..label3) or of the
// published Lens task data (anonymized_text, label).
type textRow struct {
	Text           string `json:"text"`
	AnonymizedText string `json:"anonymized_text"`
	Label          any    `json:"label"`
	Label1         any    `json:"label1"`
	Label2         any    `json:"label2"`
	Label3         any    `json:"label3"`
}

func labelString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
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
// row per line) or Lens JSON lines, calling emit for each flow. Each row's
// text becomes the flow's lines (spans recovered by ParseLine); its label
// is the finest one given (label3, else label2, else label1, else label),
// prefixed with the dataset named by the file ("<dataset>_<split>_flow.json")
// when there is one. A malformed row is reported through bad with its file
// and line and skipped; the rest goes on.
func ImportText(path string, emit func(*Flow) error, bad func(error)) (rows, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	first, err := firstNonSpace(br)
	if err != nil {
		if err == io.EOF {
			return 0, 0, nil
		}
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	dataset := datasetFromName(path)
	handle := func(line int, raw []byte) error {
		var r textRow
		if err := json.Unmarshal(raw, &r); err != nil {
			skipped++
			bad(fmt.Errorf("%s: line %d: %w", path, line, err))
			return nil
		}
		text := r.Text
		if text == "" {
			text = r.AnonymizedText
		}
		if strings.TrimSpace(text) == "" {
			skipped++
			bad(fmt.Errorf("%s: line %d: row has no text or anonymized_text", path, line))
			return nil
		}
		label := labelString(r.Label3)
		for _, l := range []any{r.Label2, r.Label1, r.Label} {
			if label == "" {
				label = labelString(l)
			}
		}
		if dataset != "" && label != "" {
			label = dataset + "/" + label
		}
		fl := &Flow{Capture: fmt.Sprintf("%s:%d", path, line), Label: label}
		// The context after <sep>, if the row carries one, is not packet text.
		if i := strings.Index(text, "<sep>"); i >= 0 {
			text = text[:i]
		}
		for _, ln := range strings.Split(text, "\n") {
			ln = strings.TrimSpace(ln)
			if ln == "" {
				continue
			}
			fl.Lines = append(fl.Lines, ParseLine(ln))
		}
		fl.Packets = len(fl.Lines)
		if len(fl.Lines) > MaxFlowPackets {
			fl.Lines = fl.Lines[:MaxFlowPackets]
		}
		rows++
		return emit(fl)
	}
	if first == '[' {
		dec := json.NewDecoder(br)
		if _, err := dec.Token(); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				// position is a byte offset for an array
				return rows, skipped, fmt.Errorf("%s: byte %d: %w", path, dec.InputOffset(), err)
			}
			if err := handle(rows+skipped+1, raw); err != nil {
				return rows, skipped, err
			}
		}
		return rows, skipped, nil
	}
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			line++
			if herr := handle(line, bytes.TrimSpace(b)); herr != nil {
				return rows, skipped, herr
			}
		} else if len(b) > 0 {
			line++
		}
		if err == io.EOF {
			return rows, skipped, nil
		}
		if err != nil {
			return rows, skipped, fmt.Errorf("%s: line %d: %w", path, line+1, err)
		}
	}
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\n' && b != '\r' && b != '\t' {
			return b, br.UnreadByte()
		}
	}
}
