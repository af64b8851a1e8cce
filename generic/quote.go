package generic

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: quotes, backslash escapes for
// '"', '\\' and control characters, U+2028 and U+2029 escaped (JavaScript
// line terminators), and invalid UTF-8 replaced by U+FFFD. It does not
// HTML-escape.
func AppendString(dst []byte, s string) []byte { return appendQuoted(dst, s, false) }

// AppendStringBytes is AppendString for a byte slice.
func AppendStringBytes(dst []byte, s []byte) []byte { return appendQuoted(dst, s, false) }

// AppendMarshalString appends s exactly as encoding/json's Marshal writes
// a string: as AppendString does, and besides '<', '>' and '&' escaped
// (\u003c, \u003e, \u0026) and backspace and form feed as \b and \f.
// For replies that must be byte-identical to a library that marshals with
// encoding/json.
func AppendMarshalString[S string | []byte](dst []byte, s S) []byte {
	return appendQuoted(dst, s, true)
}

// quoteSafe[m][c] reports that ASCII byte c is written as it is: in mode
// 0 (AppendString) and mode 1 (AppendMarshalString).
var quoteSafe = func() (t [2][utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		t[0][c] = c != '"' && c != '\\'
		t[1][c] = t[0][c] && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendQuoted[S string | []byte](dst []byte, s S, marshal bool) []byte {
	safe := &quoteSafe[0]
	if marshal {
		safe = &quoteSafe[1]
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case marshal && c == '\b':
				dst = append(dst, '\\', 'b')
			case marshal && c == '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		// A string of at most four bytes, passed straight to the
		// decoder, is not copied.
		r, size := utf8.DecodeRuneInString(string(s[i : i+min(len(s)-i, utf8.UTFMax)]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
