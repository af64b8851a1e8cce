package thrift

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jreader is a small JSON scanner over a byte slice. It hands out tokens
// without allocating: strings without escapes are slices of the input,
// escaped ones are unescaped into a scratch buffer. Numbers are returned as
// their text, so nothing goes through float64 unless the target is a double.
type jreader struct {
	b   []byte
	i   int
	buf []byte // scratch for unescaped strings
}

var errSyntax = errors.New("invalid JSON")

type syntaxErr struct {
	off int
	msg string
}

func (e *syntaxErr) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.off) + ": " + e.msg
}

func (r *jreader) reset(b []byte) {
	r.b, r.i = b, 0
}

func (r *jreader) fail(msg string) error { return &syntaxErr{off: r.i, msg: msg} }

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the first byte of the next value ('{', '[', '"', 't', 'f',
// 'n', or '0' for any number), or 0 at the end of input.
func (r *jreader) peek() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	c := r.b[r.i]
	if c == '-' || (c >= '0' && c <= '9') {
		return '0'
	}
	return c
}

// expect consumes c after optional whitespace.
func (r *jreader) expect(c byte) error {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return nil
	}
	if r.i >= len(r.b) {
		return r.fail("unexpected end of input, want " + strconv.QuoteRune(rune(c)))
	}
	return r.fail("want " + strconv.QuoteRune(rune(c)) + ", got " + strconv.QuoteRune(rune(r.b[r.i])))
}

// more reports whether a container has another element: after '[' or '{'
// (first is true) it checks for the closing byte; after an element it
// consumes a comma or the closing byte.
func (r *jreader) more(end byte, first bool) (bool, error) {
	r.ws()
	if r.i >= len(r.b) {
		return false, r.fail("unexpected end of input")
	}
	c := r.b[r.i]
	if c == end {
		r.i++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, r.fail("want ',' or " + strconv.QuoteRune(rune(end)) + ", got " + strconv.QuoteRune(rune(c)))
	}
	r.i++
	return true, nil
}

// str reads a string. The result is valid until the next call.
func (r *jreader) str() ([]byte, error) {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, r.fail("want a string")
	}
	r.i++
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			return s, nil
		case c == '\\':
			return r.strSlow(start)
		case c < 0x20:
			return nil, r.fail("control character in string")
		}
		r.i++
	}
	return nil, r.fail("unterminated string")
}

func (r *jreader) strSlow(start int) ([]byte, error) {
	out := append(r.buf[:0], r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			r.buf = out
			return out, nil
		case c < 0x20:
			return nil, r.fail("control character in string")
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			break
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			v, ok := r.hex4()
			if !ok {
				return nil, r.fail("bad \\u escape")
			}
			ru := rune(v)
			if utf16.IsSurrogate(ru) {
				ru = utf8.RuneError
				if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					save := r.i
					r.i += 2
					if v2, ok := r.hex4(); ok {
						if d := utf16.DecodeRune(rune(v), rune(v2)); d != utf8.RuneError {
							ru = d
						} else {
							r.i = save
						}
					} else {
						r.i = save
					}
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			return nil, r.fail("bad escape")
		}
	}
	return nil, r.fail("unterminated string")
}

func (r *jreader) hex4() (uint16, bool) {
	if r.i+4 > len(r.b) {
		return 0, false
	}
	var v uint16
	for _, c := range r.b[r.i : r.i+4] {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint16(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint16(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v |= uint16(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	r.i += 4
	return v, true
}

// number reads a JSON number and returns its text.
func (r *jreader) number() ([]byte, error) {
	r.ws()
	start := r.i
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	digits := r.digits()
	if digits == 0 {
		return nil, r.fail("bad number")
	}
	if digits > 1 && r.b[start] == '0' || digits > 1 && r.b[start] == '-' && r.b[start+1] == '0' {
		return nil, r.fail("leading zero in number")
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if r.digits() == 0 {
			return nil, r.fail("bad number")
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if r.digits() == 0 {
			return nil, r.fail("bad number")
		}
	}
	return r.b[start:r.i], nil
}

func (r *jreader) digits() int {
	n := 0
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
		n++
	}
	return n
}

// literal consumes true, false or null.
func (r *jreader) literal(word string) error {
	r.ws()
	if len(r.b)-r.i >= len(word) && string(r.b[r.i:r.i+len(word)]) == word {
		r.i += len(word)
		return nil
	}
	return r.fail("want " + word)
}

// skip consumes one value of any kind, checking its syntax.
func (r *jreader) skip(depth int) error {
	if depth > maxDepth {
		return r.fail("nesting too deep")
	}
	switch r.peek() {
	case '"':
		_, err := r.str()
		return err
	case '0':
		_, err := r.number()
		return err
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	case 'n':
		return r.literal("null")
	case '[':
		r.i++
		for first := true; ; first = false {
			ok, err := r.more(']', first)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	case '{':
		r.i++
		for first := true; ; first = false {
			ok, err := r.more('}', first)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if _, err := r.str(); err != nil {
				return err
			}
			if err := r.expect(':'); err != nil {
				return err
			}
			if err := r.skip(depth + 1); err != nil {
				return err
			}
		}
	case 0:
		return r.fail("unexpected end of input")
	}
	return r.fail("unexpected character " + strconv.QuoteRune(rune(r.b[r.i])))
}

// count returns the number of elements of the array or object that starts
// at the current position, without consuming it.
func (r *jreader) count() (int, error) {
	save := r.i
	defer func() { r.i = save }()
	open := r.peek()
	end := byte(']')
	if open == '{' {
		end = '}'
	}
	r.i++
	n := 0
	for first := true; ; first = false {
		ok, err := r.more(end, first)
		if err != nil {
			return 0, err
		}
		if !ok {
			return n, nil
		}
		if end == '}' {
			if _, err := r.str(); err != nil {
				return 0, err
			}
			if err := r.expect(':'); err != nil {
				return 0, err
			}
		}
		if err := r.skip(1); err != nil {
			return 0, err
		}
		n++
	}
}

// describe says what the next value is, for "got ..." in messages; it
// does not consume it.
func (r *jreader) describe() string {
	save := r.i
	defer func() { r.i = save }()
	switch r.peek() {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	case '"':
		s, err := r.str()
		if err != nil {
			return "a bad string"
		}
		return shortQuote(s)
	case '0':
		n, err := r.number()
		if err != nil {
			return "a bad number"
		}
		return "the number " + short(string(n))
	}
	return "nothing"
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func shortQuote(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "..."
	}
	return strconv.Quote(string(b))
}
