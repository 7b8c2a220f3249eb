package netbench

import (
	"strings"

	"github.com/lens-go/lens/netbench/span"
)

// ParseLine recovers the typed spans of a packet line that arrives as text
// only (imported NetBench or Lens data, rendered by someone else's tshark).
// Lines this package renders carry their spans already and never come here.
// The grammar is the line contract: SRC → DST PROTOCOL LENGTH INFO [HEX...].
func ParseLine(text string) Line {
	l := Line{Text: text}
	type tok struct {
		s, e int
	}
	var toks []tok
	for i := 0; i < len(text); {
		for i < len(text) && text[i] == ' ' {
			i++
		}
		j := i
		for j < len(text) && text[j] != ' ' {
			j++
		}
		if j > i {
			toks = append(toks, tok{i, j})
		}
		i = j
	}
	add := func(t tok, k span.Kind) {
		l.Spans = append(l.Spans, span.Span{Start: int32(t.s), End: int32(t.e), Kind: k})
	}
	word := func(t tok) string { return text[t.s:t.e] }
	if len(toks) < 4 || word(toks[1]) != "→" {
		if len(toks) > 0 {
			l.Spans = append(l.Spans, span.Span{Start: 0, End: int32(len(text)), Kind: span.Message})
		}
		return l
	}
	add(toks[0], span.Address)
	add(toks[2], span.Address)
	// protocol: every token up to the first all-digit one
	i := 3
	for i < len(toks) && !isDigits(word(toks[i])) {
		i++
	}
	if i == len(toks) {
		add(tok{toks[3].s, toks[len(toks)-1].e}, span.Protocol)
		return l
	}
	add(tok{toks[3].s, toks[i-1].e}, span.Protocol)
	add(toks[i], span.FrameLen)
	info := toks[i+1:]
	// trailing payload hex: up to six groups of 4 hex digits (the last may be 2)
	h := len(info)
	for h > 0 && len(info)-h < 6 && isHexGroup(word(info[h-1])) && (h == len(info) || len(word(info[h-1])) == 4) {
		h--
	}
	var hexToks []tok
	if h < len(info) && h > 0 {
		hexToks = info[h:]
		info = info[:h]
	}
	var msg []tok
	flush := func() {
		if len(msg) > 0 {
			add(tok{msg[0].s, msg[len(msg)-1].e}, span.Message)
			msg = msg[:0]
		}
	}
	for k := 0; k < len(info); k++ {
		w := word(info[k])
		switch {
		case k+2 < len(info) && isDigits(w) && word(info[k+1]) == "→" && isDigits(word(info[k+2])):
			flush()
			add(info[k], span.Port)
			add(info[k+2], span.Port)
			k += 2
		case strings.HasPrefix(w, "[TCP") || strings.HasPrefix(w, "[Malformed") || strings.HasPrefix(w, "[Packet"):
			flush()
			e := k
			for e < len(info) && !strings.HasSuffix(word(info[e]), "]") {
				e++
			}
			if e == len(info) {
				e--
			}
			add(tok{info[k].s, info[e].e}, span.Analysis)
			k = e
		case strings.HasPrefix(w, "[") && len(msg) == 0 && k > 0:
			flush()
			e := k
			for e < len(info) && !strings.HasSuffix(word(info[e]), "]") {
				e++
			}
			if e == len(info) {
				e--
			}
			add(tok{info[k].s, info[e].e}, span.Flags)
			k = e
		case strings.HasPrefix(w, "Seq="):
			flush()
			add(tok{info[k].s + 4, info[k].e}, span.Seq)
		case strings.HasPrefix(w, "Ack="):
			flush()
			add(tok{info[k].s + 4, info[k].e}, span.Ack)
		case strings.HasPrefix(w, "Win="):
			flush()
			add(tok{info[k].s + 4, info[k].e}, span.Window)
		case strings.HasPrefix(w, "Len="):
			flush()
			add(tok{info[k].s + 4, info[k].e}, span.PayloadLen)
		case strings.HasPrefix(w, "MSS=") || strings.HasPrefix(w, "WS=") || w == "SACK_PERM" ||
			strings.HasPrefix(w, "SLE=") || strings.HasPrefix(w, "SRE="):
			flush()
			add(info[k], span.Option)
		case strings.HasPrefix(w, "TSval=") && k+1 < len(info) && strings.HasPrefix(word(info[k+1]), "TSecr="):
			flush()
			add(tok{info[k].s, info[k+1].e}, span.Option)
			k++
		default:
			msg = append(msg, info[k])
		}
	}
	flush()
	if len(hexToks) > 0 {
		add(tok{hexToks[0].s, hexToks[len(hexToks)-1].e}, span.PayloadHex)
	}
	return l
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHexGroup(s string) bool {
	if len(s) != 4 && len(s) != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
