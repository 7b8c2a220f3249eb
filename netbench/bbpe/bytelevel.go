package bbpe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// byteToRune is GPT-2's bytes_to_unicode table: printable bytes stand for
// themselves and the others for code points from U+0100 on, so every byte
// string has a printable, whitespace-free spelling. Vocabulary and merges
// files store tokens in this spelling.
var byteToRune [256]rune

// runeToByte inverts byteToRune.
var runeToByte = make(map[rune]byte, 256)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// toByteLevel spells raw bytes in the byte-level alphabet.
func toByteLevel(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToRune[s[i]])
	}
	return sb.String()
}

// fromByteLevel turns a byte-level spelling back into raw bytes, reporting
// false when s holds a character outside the alphabet.
func fromByteLevel(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := runeToByte[r]
		if !ok {
			return "", false
		}
		b = append(b, c)
	}
	return string(b), true
}

// Character classes of the pre-tokenization pattern.
const (
	clsOther  uint8 = iota // [^\s\p{L}\p{N}], and any byte that is not UTF-8
	clsLetter              // \p{L}
	clsNumber              // \p{N}
	clsSpace               // \s
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		asciiClass[c] = runeClass(rune(c))
	}
}

func runeClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r): // the Unicode White_Space property, as Oniguruma's \s
		return clsSpace
	}
	return clsOther
}

// classAt returns the class and byte length of the character at s[i].
func classAt(s []byte, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRune(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return clsOther, 1
	}
	return runeClass(r), n
}

// runEnd returns the end of the run of class cls that continues at s[j].
func runEnd(s []byte, j int, cls uint8) int {
	for j < len(s) {
		if c := s[j]; c < utf8.RuneSelf {
			if asciiClass[c] != cls {
				return j
			}
			j++
			continue
		}
		c, n := classAt(s, j)
		if c != cls {
			return j
		}
		j += n
	}
	return j
}

// nextWord returns the end of the pre-tokenization word that starts at s[i],
// i < len(s): the match of the GPT-2 pattern at i, alternatives tried in
// order as a backtracking regular expression engine does.
func nextWord(s []byte, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) { // 's|'t|'re|'ve|'m|'ll|'d
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	if c == ' ' && i+1 < len(s) { //  ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+ with the space
		if cls, n := classAt(s, i+1); cls != clsSpace {
			return runEnd(s, i+1+n, cls)
		}
	}
	cls, n := classAt(s, i)
	if cls != clsSpace { // the same without the space
		return runEnd(s, i+n, cls)
	}
	// \s+(?!\S)|\s+: a run of spaces, less its last character when more than
	// one precede a non-space.
	last, j := i, i+n
	for j < len(s) {
		cls, n := classAt(s, j)
		if cls != clsSpace {
			break
		}
		last = j
		j += n
	}
	if j == len(s) || last == i {
		return j
	}
	return last
}
