package generic

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the one JSON reader of rpcbridge: every adapter that turns
// request JSON into a wire format reads it through a JSONReader, and
// CheckJSON is a JSONReader that skips one value. Its rules, the same
// everywhere:
//
//   - syntax is RFC 8259's: no comments, no trailing commas, no leading
//     zeros, no bare words;
//   - the input is UTF-8: an invalid byte sequence anywhere is an error,
//     never replaced by U+FFFD;
//   - a NUL byte anywhere is an error that names it; so is any raw control
//     character inside a string (escaped ones, \u0000 included, are fine);
//   - a \u escape of a UTF-16 surrogate must be a high surrogate followed
//     at once by a \u escape of a low one, which together read as one
//     character; a lone or reversed surrogate is an error (as in protojson
//     and I-JSON, RFC 7493), because it stands for no Unicode character and
//     has no UTF-8 form;
//   - two keys of one object that are equal once unescaped are an error
//     ({"a":1,"\u0061":2} included);
//   - containers nest at most maxDepth deep (an array or object counts one
//     level; a scalar at the top is depth 0).
//
// Every error is a *JSONError carrying the byte offset where the input went
// wrong; InvalidJSON turns it into the INVALID_ARGUMENT *Error that
// adapters return.

// DefaultJSONDepth is the nesting limit used when a limit of 0 or less is
// given.
const DefaultJSONDepth = 64

// JSONKind says what the next value is; it is the value's first byte, or
// '0' for any number.
type JSONKind byte

// The kinds Peek returns.
const (
	JSONEnd     JSONKind = 0   // nothing but whitespace is left
	JSONObject  JSONKind = '{' // an object
	JSONArray   JSONKind = '[' // an array
	JSONString  JSONKind = '"' // a string
	JSONNumber  JSONKind = '0' // a number (its first byte is '-' or a digit)
	JSONTrue    JSONKind = 't' // true (or a bad literal starting with t)
	JSONFalse   JSONKind = 'f' // false (or a bad literal starting with f)
	JSONNull    JSONKind = 'n' // null (or a bad literal starting with n)
	JSONInvalid JSONKind = '!' // any byte that starts no value: a NUL, a closer, ','...
)

// JSONError is a JSONReader's error: what went wrong and the byte offset
// in the input where it did.
type JSONError struct {
	Offset int
	What   string
}

// Error is "invalid JSON at offset N: what".
func (e *JSONError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.What
}

// InvalidJSON returns err as the INVALID_ARGUMENT *Error that CheckJSON and
// the adapters return for input that breaks the JSON rules. The message is
// the *JSONError's text; other errors pass through AsError.
func InvalidJSON(err error) *Error {
	if je, ok := err.(*JSONError); ok {
		return &Error{Code: CodeInvalidArgument, Message: je.Error(), Err: je}
	}
	return AsError(err)
}

// keyStack is how many object keys a JSONReader remembers, over all the
// objects that are open at once, without allocating; smallObject is the
// most keys one object keeps there. An object with more keys, or one
// opened when the stack is full, remembers them in a map.
const (
	keyStack    = 64
	smallObject = 32
)

// keySpan is a key's raw content (between its quotes) in the input; the
// top bit of end says it has escapes.
type keySpan struct{ start, end uint32 }

const spanEscaped = 1 << 31

// JSONReader reads JSON tokens from a byte slice without allocating: a
// string is a slice of the input when it has no escapes and is unescaped
// into a scratch buffer otherwise (valid until the next call that reads a
// string or key), and a number is its text, never a float64. It checks
// every rule of this file as it goes, so that whatever a caller reads or
// skips through it is known good.
//
// Containers are read with BeginObject or BeginArray, which set up a
// JSONContainer that the caller keeps and passes to More (and to Key, in
// objects) until More reports the end:
//
//	var c generic.JSONContainer
//	err := r.BeginObject(&c)
//	for {
//		ok, err := r.More(&c)
//		if err != nil || !ok { ... }
//		key, err := r.Key(&c)
//		... read or Skip the value ...
//	}
//
// After the top-level value, End checks that only whitespace follows.
// Count and Span serve wire formats that need an element count first or
// their own field order; Mark and Rewind read a stretch again.
//
// The zero JSONReader reads an empty input; Reset points it at another. A
// JSONReader holds a fixed array of key positions (about half a kilobyte):
// keep it in a struct that is reused, or on the stack. To Go's escape
// analysis its scratch buffer escapes, and so does whatever a struct that
// holds the reader points to: a per-call reader is best a variable of its
// own, passed by pointer.
type JSONReader struct {
	in       []byte
	pos      int
	depth    int
	maxDepth int
	nkeys    int
	buf      []byte // scratch for unescaped strings
	keys     [keyStack]keySpan
}

// JSONContainer is the state of one open array or object, set up by
// BeginObject or BeginArray and only meaningful to the reader that did.
type JSONContainer struct {
	end  byte // ']' or '}'
	esc  bool // a key had escapes: the filter is off
	n    int  // elements started so far
	base int  // this object's first entry in the key stack
	// seen is a one-hash Bloom filter of the keys so far (while none had
	// escapes): most new keys need no comparison with the others.
	seen [2]uint64
	big  map[string]struct{}
}

// Reset points r at b, with nesting limited to maxDepth (DefaultJSONDepth
// when maxDepth <= 0). Scratch space is kept.
func (r *JSONReader) Reset(b []byte, maxDepth int) {
	if maxDepth <= 0 {
		maxDepth = DefaultJSONDepth
	}
	r.in, r.pos, r.depth, r.maxDepth, r.nkeys = b, 0, 0, maxDepth, 0
}

// Input returns the slice r reads.
func (r *JSONReader) Input() []byte { return r.in }

// Offset returns the cursor's byte offset. After Peek it is the offset of
// the next value's first byte.
func (r *JSONReader) Offset() int { return r.pos }

// Seek moves the cursor to off, an offset Offset returned at the same
// nesting level (to read a value again, or describe it after skipping).
func (r *JSONReader) Seek(off int) {
	if off < 0 {
		off = 0
	}
	if off > len(r.in) {
		off = len(r.in)
	}
	r.pos = off
}

// JSONMark is a reader position that Rewind goes back to.
type JSONMark struct{ pos, depth, nkeys int }

// Mark returns the reader's position, to Rewind to later.
func (r *JSONReader) Mark() JSONMark { return JSONMark{r.pos, r.depth, r.nkeys} }

// Rewind moves the reader back to m, a Mark taken while the containers
// that are open now were open (or not yet opened): to read the same input
// again another way. A JSONContainer begun after the mark must not be used
// again.
func (r *JSONReader) Rewind(m JSONMark) { r.pos, r.depth, r.nkeys = m.pos, m.depth, m.nkeys }

// Depth returns how many containers are open.
func (r *JSONReader) Depth() int { return r.depth }

// ws skips whitespace. The common case, none, is checked inline.
func (r *JSONReader) ws() {
	if r.pos < len(r.in) && r.in[r.pos] > ' ' {
		return
	}
	r.wsSlow()
}

func (r *JSONReader) wsSlow() {
	in, i := r.in, r.pos
	for i < len(in) {
		c := in[i]
		if c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		i++
	}
	r.pos = i
}

// Peek skips whitespace and says what the next value is, without reading
// it.
func (r *JSONReader) Peek() JSONKind {
	r.ws()
	if r.pos >= len(r.in) {
		return JSONEnd
	}
	return JSONKind(kinds[r.in[r.pos]])
}

// kinds maps a value's first byte to its JSONKind.
const kinds = "" +
	"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" + // 0x00-0x1f
	"!!\"!!!!!!!!!!0!!0000000000!!!!!!" + // ' ' to '?': '"', '-', digits
	"!!!!!!!!!!!!!!!!!!!!!!!!!!![!!!!" + // '@' to '_': '['
	"!!!!!!f!!!!!!!n!!!!!t!!!!!!{!!!!" + // '`' to 0x7f: 'f', 'n', 't', '{'
	"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" + "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" +
	"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" + "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"

func (r *JSONReader) errAt(off int, what string) error {
	return &JSONError{Offset: off, What: what}
}

// bad describes the byte at off, where the input stopped making sense;
// want (if any) says what was expected there.
func (r *JSONReader) bad(off int, want string) error {
	if off >= len(r.in) {
		if want != "" {
			return r.errAt(off, "unexpected end of input, want "+want)
		}
		return r.errAt(off, "unexpected end of input")
	}
	c := r.in[off]
	if c == ']' || c == '}' {
		j := off - 1
		for j >= 0 && (r.in[j] == ' ' || r.in[j] == '\t' || r.in[j] == '\n' || r.in[j] == '\r') {
			j--
		}
		if j >= 0 && r.in[j] == ',' {
			return r.errAt(off, "trailing comma")
		}
	}
	var what string
	switch {
	case c == 0:
		return r.errAt(off, "NUL byte")
	case c >= utf8.RuneSelf:
		ru, size := utf8.DecodeRune(r.in[off:])
		if ru == utf8.RuneError && size == 1 {
			return r.errAt(off, "invalid UTF-8")
		}
		what = "unexpected character " + strconv.QuoteRune(ru)
	case c < ' ':
		what = "unexpected control character " + strconv.QuoteRune(rune(c))
	default:
		what = "unexpected character " + strconv.QuoteRune(rune(c))
	}
	if want != "" {
		what += ", want " + want
	}
	return r.errAt(off, what)
}

// Expect skips whitespace and consumes the byte c.
func (r *JSONReader) Expect(c byte) error {
	r.ws()
	if r.pos < len(r.in) && r.in[r.pos] == c {
		r.pos++
		return nil
	}
	return r.bad(r.pos, strconv.QuoteRune(rune(c)))
}

// End skips whitespace and reports an error unless the input ends there:
// call it after the top-level value.
func (r *JSONReader) End() error {
	r.ws()
	if r.pos >= len(r.in) {
		return nil
	}
	switch c := r.in[r.pos]; {
	case c == 0:
		return r.errAt(r.pos, "NUL byte")
	case c >= utf8.RuneSelf:
		if ru, size := utf8.DecodeRune(r.in[r.pos:]); ru == utf8.RuneError && size == 1 {
			return r.errAt(r.pos, "invalid UTF-8")
		}
	}
	return r.errAt(r.pos, "unexpected data after the value")
}

// BeginObject consumes the '{' that opens an object and sets c up to
// read it.
func (r *JSONReader) BeginObject(c *JSONContainer) error { return r.begin(c, '{', '}', "'{'") }

// BeginArray consumes the '[' that opens an array and sets c up to read
// it.
func (r *JSONReader) BeginArray(c *JSONContainer) error { return r.begin(c, '[', ']', "'['") }

func (r *JSONReader) begin(c *JSONContainer, open, end byte, want string) error {
	r.ws()
	if r.pos >= len(r.in) || r.in[r.pos] != open {
		return r.bad(r.pos, want)
	}
	if r.depth >= r.maxDepth {
		if r.maxDepth <= 0 { // the zero JSONReader
			r.maxDepth = DefaultJSONDepth
			return r.begin(c, open, end, want)
		}
		return r.errAt(r.pos, "nesting deeper than "+strconv.Itoa(r.maxDepth))
	}
	r.pos++
	r.depth++
	*c = JSONContainer{end: end, base: r.nkeys}
	return nil
}

// More reports whether container c has another element: before the first
// it checks for the closing bracket, after one it consumes a ',' or the
// closing bracket. When it returns false the container is closed.
func (r *JSONReader) More(c *JSONContainer) (bool, error) {
	r.ws()
	if r.pos >= len(r.in) {
		return false, r.bad(r.pos, "")
	}
	ch := r.in[r.pos]
	if ch == c.end {
		r.pos++
		r.depth--
		r.nkeys = c.base
		c.big = nil
		return false, nil
	}
	if c.n > 0 {
		if ch != ',' {
			return false, r.bad(r.pos, "',' or "+strconv.QuoteRune(rune(c.end)))
		}
		r.pos++
	}
	c.n++
	return true, nil
}

// Key reads an object key and the ':' after it, and refuses a key that
// equals (once unescaped) an earlier key of the same object. The result
// is unescaped, valid until the next string read.
func (r *JSONReader) Key(c *JSONContainer) ([]byte, error) {
	start, end, esc, err := r.key(c)
	if err != nil {
		return nil, err
	}
	if !esc {
		return r.in[start:end], nil
	}
	return r.unescaped(start, end), nil
}

// KeyUnchecked is Key for a caller that refuses duplicate keys itself,
// more cheaply than Key can (a message decoder that marks each known field
// it sets, say, and refuses unknown ones): it does not remember keys, and
// an object read with it must be read with it throughout. The caller must
// refuse a second key equal (once unescaped) to an earlier one with the
// error DuplicateKey returns, which is Key's.
func (r *JSONReader) KeyUnchecked(c *JSONContainer) ([]byte, error) {
	r.ws()
	if r.pos >= len(r.in) || r.in[r.pos] != '"' {
		return nil, r.bad(r.pos, "a string key")
	}
	start, end, esc, err := r.scanString()
	if err != nil {
		return nil, err
	}
	r.ws()
	if r.pos >= len(r.in) || r.in[r.pos] != ':' {
		return nil, r.bad(r.pos, "':'")
	}
	r.pos++
	if !esc {
		return r.in[start:end], nil
	}
	return r.unescaped(start, end), nil
}

// DuplicateKey returns the error for the duplicate key at offset off (the
// Offset before KeyUnchecked read it), as Key reports it.
func (r *JSONReader) DuplicateKey(off int) error {
	var kr JSONReader
	kr.Reset(r.in[off:], 1)
	kr.ws()
	at := kr.pos
	if at >= len(kr.in) || kr.in[at] != '"' {
		return kr.bad(at, "a string key")
	}
	start, end, _, err := kr.scanString()
	if err != nil {
		return err
	}
	return r.dupKey(off+at, kr.in[start:end])
}

// unescaped unescapes in[start:end] into the scratch buffer, grown once to
// the raw length (which the unescaped text never exceeds).
func (r *JSONReader) unescaped(start, end int) []byte {
	if cap(r.buf) < end-start {
		r.buf = make([]byte, 0, end-start)
	}
	r.buf = appendUnescaped(r.buf[:0], r.in[start:end])
	return r.buf
}

// StringAt returns the unescaped text of the string at offset off
// (whitespace before it skipped), or "" if there is no valid string there:
// for messages that name a key after Key's result has been overwritten.
func (r *JSONReader) StringAt(off int) string {
	var sr JSONReader
	sr.Reset(r.in[min(max(off, 0), len(r.in)):], 1)
	s, err := sr.String()
	if err != nil {
		return ""
	}
	return string(s)
}

// key reads a key and the ':' after it, refusing a duplicate, and returns
// the raw span of the key.
func (r *JSONReader) key(c *JSONContainer) (start, end int, esc bool, err error) {
	r.ws()
	off := r.pos
	if off >= len(r.in) || r.in[off] != '"' {
		return 0, 0, false, r.bad(off, "a string key")
	}
	start, end, esc, err = r.scanString()
	if err != nil {
		return 0, 0, false, err
	}
	// The common case: a key without escapes whose filter bit is clear is
	// new, and goes on the stack.
	fast := false
	if !esc && !c.esc && c.big == nil && r.nkeys-c.base < smallObject && r.nkeys < len(r.keys) && end < spanEscaped {
		w, bit := keyBit(r.in[start:end])
		if c.seen[w]&bit == 0 {
			c.seen[w] |= bit
			r.keys[r.nkeys] = keySpan{uint32(start), uint32(end)}
			r.nkeys++
			fast = true
		}
	}
	if !fast {
		if err := r.checkKey(c, start, end, esc, off); err != nil {
			return 0, 0, false, err
		}
	}
	r.ws()
	if r.pos >= len(r.in) || r.in[r.pos] != ':' {
		return 0, 0, false, r.bad(r.pos, "':'")
	}
	r.pos++
	return start, end, esc, nil
}

// checkKey refuses a duplicate of the key in[start:end] in c and
// remembers it.
func (r *JSONReader) checkKey(c *JSONContainer, start, end int, esc bool, off int) error {
	raw := r.in[start:end]
	if c.big != nil {
		k := raw
		if esc {
			k = appendUnescaped(nil, raw)
		}
		if _, dup := c.big[string(k)]; dup {
			return r.dupKey(off, raw)
		}
		c.big[string(k)] = struct{}{}
		return nil
	}
	if esc {
		c.esc = true // the filter hashes raw bytes: it cannot see this key
	} else {
		w, bit := keyBit(raw)
		c.seen[w] |= bit
	}
	for _, s := range r.keys[c.base:r.nkeys] {
		e := s.end &^ spanEscaped
		if s.end == e && !esc {
			if int(e-s.start) == len(raw) && string(r.in[s.start:e]) == string(raw) {
				return r.dupKey(off, raw)
			}
		} else if equalUnescaped(r.in[s.start:e], raw) {
			return r.dupKey(off, raw)
		}
	}
	if r.nkeys-c.base >= smallObject || r.nkeys >= len(r.keys) || end >= spanEscaped {
		// A big object (or a full stack): its keys move to a map.
		c.big = make(map[string]struct{}, 2*(r.nkeys-c.base+1))
		for _, s := range r.keys[c.base:r.nkeys] {
			c.big[string(appendUnescaped(nil, r.in[s.start:s.end&^spanEscaped]))] = struct{}{}
		}
		c.big[string(appendUnescaped(nil, raw))] = struct{}{}
		r.nkeys = c.base
		return nil
	}
	s := keySpan{uint32(start), uint32(end)}
	if esc {
		s.end |= spanEscaped
	}
	r.keys[r.nkeys] = s
	r.nkeys++
	return nil
}

// keyBit picks a key's bit in JSONContainer.seen from its length and
// three of its bytes (raw: only for keys without escapes).
func keyBit(k []byte) (int, uint64) {
	h := uint(len(k))
	if len(k) > 0 {
		h = h<<1 ^ uint(k[0]) ^ uint(k[len(k)/2])<<2 ^ uint(k[len(k)-1])<<4
		h ^= h >> 7
	}
	return int(h>>6) & 1, 1 << (h & 63)
}

func (r *JSONReader) dupKey(off int, raw []byte) error {
	k := appendUnescaped(nil, raw)
	q := ""
	if len(k) > 64 {
		n := 64
		for n > 0 && !utf8.RuneStart(k[n]) {
			n--
		}
		q = strconv.Quote(string(k[:n])) + "..."
	} else {
		q = strconv.Quote(string(k))
	}
	return r.errAt(off, "duplicate key "+q)
}

// String reads a string value and returns its content, unescaped: a slice
// of the input, or of scratch space valid until the next string read.
func (r *JSONReader) String() ([]byte, error) {
	r.ws()
	if r.pos >= len(r.in) || r.in[r.pos] != '"' {
		return nil, r.bad(r.pos, "a string")
	}
	start, end, esc, err := r.scanString()
	if err != nil {
		return nil, err
	}
	if !esc {
		return r.in[start:end], nil
	}
	return r.unescaped(start, end), nil
}

// scanString checks the string whose opening quote is at r.pos and moves
// past it. It returns its raw content's span and whether it has escapes.
func (r *JSONReader) scanString() (start, end int, esc bool, err error) {
	in := r.in
	i := r.pos + 1
	start = i
	for {
		// Plain bytes, eight at a time while eight are left, then one by one.
		for i+8 <= len(in) {
			if m := special8(binary.LittleEndian.Uint64(in[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(in) {
			c := in[i]
			if c < ' ' || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			i++
		}
		if i >= len(in) {
			return 0, 0, false, r.errAt(i, "unterminated string")
		}
		switch c := in[i]; {
		case c == '"':
			r.pos = i + 1
			return start, i, esc, nil
		case c == '\\':
			n, err := r.escape(i)
			if err != nil {
				return 0, 0, false, err
			}
			esc = true
			i += n
		case c == 0:
			return 0, 0, false, r.errAt(i, "NUL byte")
		case c < ' ':
			return 0, 0, false, r.errAt(i, "control character "+strconv.QuoteRune(rune(c))+" in string")
		default:
			ru, size := utf8.DecodeRune(in[i:])
			if ru == utf8.RuneError && size == 1 {
				return 0, 0, false, r.errAt(i, "invalid UTF-8")
			}
			i += size
		}
	}
}

// special8 flags (in the top bit of each byte) the bytes of x that end a
// run of plain string bytes: control characters, '"', '\\' and non-ASCII.
// Only the lowest flag is exact (a borrow may flag bytes above it), which
// is all the caller uses.
func special8(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	return ((x-lo*' ')&^x | (q-lo)&^q | (b-lo)&^b | x) & hi
}

// escape checks the escape sequence at in[i] (a backslash) and returns
// its length.
func (r *JSONReader) escape(i int) (int, error) {
	in := r.in
	if i+1 >= len(in) {
		return 0, r.errAt(i+1, "unterminated string")
	}
	switch in[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	case 0:
		return 0, r.errAt(i+1, "NUL byte")
	default:
		return 0, r.errAt(i, "invalid escape "+strconv.Quote(string(in[i:i+2])))
	}
	v, ok := hex4(in, i+2)
	if !ok {
		for j := i + 2; j < i+6 && j < len(in); j++ {
			if in[j] == 0 {
				return 0, r.errAt(j, "NUL byte")
			}
		}
		return 0, r.errAt(i, "invalid \\u escape")
	}
	switch {
	case v < 0xd800 || v > 0xdfff:
		return 6, nil
	case v >= 0xdc00:
		return 0, r.errAt(i, "lone surrogate "+string(in[i:i+6]))
	}
	if i+7 < len(in) && in[i+6] == '\\' && in[i+7] == 'u' {
		if v2, ok := hex4(in, i+8); ok && v2 >= 0xdc00 && v2 <= 0xdfff {
			return 12, nil
		}
	}
	return 0, r.errAt(i, "lone surrogate "+string(in[i:i+6]))
}

func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var v rune
	for _, c := range in[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// appendUnescaped appends the content of a string that scanString
// accepted, unescaped.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		ru, n := unescape(s, i)
		dst = utf8.AppendRune(dst, ru)
		i += n
	}
	return dst
}

// unescape decodes the (checked) escape at s[i] and returns its rune and
// length.
func unescape(s []byte, i int) (rune, int) {
	switch c := s[i+1]; c {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		v, _ := hex4(s, i+2)
		if utf16.IsSurrogate(v) {
			v2, _ := hex4(s, i+8)
			return utf16.DecodeRune(v, v2), 12
		}
		return v, 6
	default: // '"', '\\', '/'
		return rune(c), 2
	}
}

// equalUnescaped compares two checked raw string contents by their
// unescaped bytes, without building them.
func equalUnescaped(a, b []byte) bool {
	var x, y unescaper
	x.s, y.s = a, b
	for {
		c1, ok1 := x.next()
		c2, ok2 := y.next()
		if ok1 != ok2 || c1 != c2 {
			return false
		}
		if !ok1 {
			return true
		}
	}
}

// unescaper yields the unescaped bytes of a checked raw string content.
type unescaper struct {
	s      []byte
	i      int
	pend   [utf8.UTFMax]byte
	np, pi int
}

func (u *unescaper) next() (byte, bool) {
	if u.pi < u.np {
		c := u.pend[u.pi]
		u.pi++
		return c, true
	}
	if u.i >= len(u.s) {
		return 0, false
	}
	c := u.s[u.i]
	if c != '\\' {
		u.i++
		return c, true
	}
	ru, n := unescape(u.s, u.i)
	u.i += n
	u.np = utf8.EncodeRune(u.pend[:], ru)
	u.pi = 1
	return u.pend[0], true
}

// Number reads a number and returns its text (RFC 8259's grammar: an
// optional minus, an integer without leading zeros, an optional fraction
// and exponent).
func (r *JSONReader) Number() ([]byte, error) {
	r.ws()
	in, i := r.in, r.pos
	start := i
	if i < len(in) && in[i] == '-' {
		i++
	}
	if i >= len(in) {
		return nil, r.bad(i, "a number")
	}
	switch c := in[i]; {
	case c == '0':
		i++
		if i < len(in) && in[i] >= '0' && in[i] <= '9' {
			return nil, r.errAt(start, "leading zero in number")
		}
	case c >= '1' && c <= '9':
		i++
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	default:
		return nil, r.bad(i, "a number")
	}
	if i < len(in) && in[i] == '.' {
		i++
		j := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == j {
			return nil, r.bad(i, "a digit")
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		j := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == j {
			return nil, r.bad(i, "a digit")
		}
	}
	r.pos = i
	return in[start:i], nil
}

// Bool reads true or false.
func (r *JSONReader) Bool() (bool, error) {
	switch r.Peek() {
	case JSONTrue:
		return true, r.literal("true")
	case JSONFalse:
		return false, r.literal("false")
	}
	return false, r.bad(r.pos, "true or false")
}

// Null reads null.
func (r *JSONReader) Null() error {
	r.ws()
	return r.literal("null")
}

// literal consumes word at r.pos; an error names the first byte that
// differs.
func (r *JSONReader) literal(word string) error {
	in, i := r.in, r.pos
	for k := 0; k < len(word); k++ {
		if i+k >= len(in) || in[i+k] != word[k] {
			return r.bad(i+k, strconv.Quote(word))
		}
	}
	r.pos = i + len(word)
	return nil
}

// Skip reads one value of any kind, checking all of it.
func (r *JSONReader) Skip() error {
	switch r.Peek() {
	case JSONString:
		_, _, _, err := r.scanString()
		return err
	case JSONNumber:
		_, err := r.Number()
		return err
	case JSONTrue:
		return r.literal("true")
	case JSONFalse:
		return r.literal("false")
	case JSONNull:
		return r.literal("null")
	case JSONObject:
		var c JSONContainer
		if err := r.BeginObject(&c); err != nil {
			return err
		}
		for {
			ok, err := r.More(&c)
			if err != nil || !ok {
				return err
			}
			if _, _, _, err := r.key(&c); err != nil {
				return err
			}
			if err := r.Skip(); err != nil {
				return err
			}
		}
	case JSONArray:
		var c JSONContainer
		if err := r.BeginArray(&c); err != nil {
			return err
		}
		for {
			ok, err := r.More(&c)
			if err != nil || !ok {
				return err
			}
			if err := r.Skip(); err != nil {
				return err
			}
		}
	}
	return r.bad(r.pos, "a value")
}

// Count returns the number of elements of the array or object at the
// cursor and leaves the cursor where it was (for a wire format that puts
// the count first). It only finds the elements' boundaries: the caller
// reads the elements next, which checks them. On input that is not valid
// JSON, Count returns the reader's error or some count; either way reading
// the elements then fails with the reader's error.
func (r *JSONReader) Count() (int, error) {
	switch r.Peek() {
	case JSONObject, JSONArray:
	default:
		return 0, r.bad(r.pos, "an array or object")
	}
	if n, _, ok := r.scanContainer(); ok {
		return n, nil
	}
	return r.countStrict()
}

// Span moves past the next value and returns the offsets where it starts
// and ends, for a caller that must read values in another order than they
// come (Seek back to start to read one). A scalar is read and checked as
// by Skip. An array or object is only matched bracket to bracket, strings
// skipped, and not checked: the caller must read it later to have it
// checked. Where no matching bracket is found, Span returns the error
// Skip gives.
func (r *JSONReader) Span() (start, end int, err error) {
	switch r.Peek() {
	case JSONObject, JSONArray:
		start = r.pos
		if _, end, ok := r.scanContainer(); ok {
			r.pos = end
			return start, end, nil
		}
	default:
		start = r.pos
	}
	if err := r.Skip(); err != nil {
		return 0, 0, err
	}
	return start, r.pos, nil
}

// scanContainer finds the end of the container at r.pos (just past its
// closing bracket) and counts its elements, by commas and brackets,
// skipping strings. ok is false when it cannot find the end.
func (r *JSONReader) scanContainer() (n, end int, ok bool) {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	in := r.in
	i := r.pos + 1
	for i < len(in) && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r') {
		i++
	}
	if i < len(in) && (in[i] == ']' || in[i] == '}') {
		return 0, i + 1, true
	}
	depth, n := 1, 1
	for i < len(in) {
		// On to the next '"', ',', bracket or brace.
		for i < len(in) && structural[in[i]] == ' ' {
			i++
		}
		if i >= len(in) {
			return 0, 0, false
		}
		switch in[i] {
		case '"':
			for i++; ; i++ {
				for i+8 <= len(in) {
					x := binary.LittleEndian.Uint64(in[i:])
					q, b := x^(lo*'"'), x^(lo*'\\')
					if m := ((q-lo)&^q | (b-lo)&^b) & hi; m != 0 {
						i += bits.TrailingZeros64(m) >> 3
						break
					}
					i += 8
				}
				for i < len(in) && in[i] != '"' && in[i] != '\\' {
					i++
				}
				if i >= len(in) {
					return 0, 0, false
				}
				if in[i] == '"' {
					break
				}
				i++ // the escaped byte; a \u escape's hex digits are plain
				if i >= len(in) {
					return 0, 0, false
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return n, i + 1, true
			}
		case ',':
			if depth == 1 {
				n++
			}
		}
		i++
	}
	return 0, 0, false
}

// structural marks, for scanContainer, the bytes that are not ' ': '"',
// ',' and the brackets and braces.
const structural = "" +
	"                                " + // 0x00-0x1f
	"  \"         ,                   " + // ' ' to '?': '"', ','
	"                           [ ]  " + // '@' to '_': '[', ']'
	"                           { }  " + // '`' to 0x7f: '{', '}'
	"                                " + "                                " +
	"                                " + "                                "

// countStrict counts by reading the container through, checking it all.
func (r *JSONReader) countStrict() (int, error) {
	pos, depth, nkeys := r.pos, r.depth, r.nkeys
	var c JSONContainer
	var err error
	switch r.Peek() {
	case JSONObject:
		err = r.BeginObject(&c)
	case JSONArray:
		err = r.BeginArray(&c)
	default:
		return 0, r.bad(r.pos, "an array or object")
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		ok, err := r.More(&c)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		if c.end == '}' {
			if _, _, _, err := r.key(&c); err != nil {
				return 0, err
			}
		}
		if err := r.Skip(); err != nil {
			return 0, err
		}
		n++
	}
	r.pos, r.depth, r.nkeys = pos, depth, nkeys
	return n, nil
}

// CheckJSON applies rpcbridge's JSON rules (see JSONReader) to a whole
// request body: one value, nested at most maxDepth deep (DefaultJSONDepth
// when maxDepth <= 0), followed only by whitespace. Empty or all-space
// input is nil: the caller treats it as no body. Otherwise an error is an
// INVALID_ARGUMENT *Error reading "invalid JSON at offset N: ...". It does
// not allocate unless an object has more than a few dozen keys or the
// input is invalid.
func CheckJSON(b []byte, maxDepth int) error {
	var r JSONReader
	r.Reset(b, maxDepth)
	if r.Peek() == JSONEnd {
		return nil
	}
	if err := r.Skip(); err != nil {
		return InvalidJSON(err)
	}
	if err := r.End(); err != nil {
		return InvalidJSON(err)
	}
	return nil
}
