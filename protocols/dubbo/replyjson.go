package dubbo

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/rpcbridge/rpcbridge/generic"
)

// replyWriter writes a reply's value as JSON straight from its Hessian 2
// bytes, without building the value first: the direct engine's common
// path. It writes exactly what hessianReader, plainValue and appendJSON
// write together, for the replies it knows how to write; on anything
// else (a back reference, a BigDecimal, a map with non-string keys, bad
// input, ...) it gives up, and the caller reads the reply again that
// way, which then decides the output or the error. Its scratch space is
// kept between calls (see callScratch).
type replyWriter struct {
	b         []byte
	pos       int
	keepClass bool
	values    int // values written so far, bounded like checkExpansion

	out     []byte      // the JSON
	tmp     []byte      // a container's entries while they are sorted
	str     []byte      // the last string read, decoded to UTF-8
	names   []byte      // class and field names, decoded
	keys    []byte      // map keys of the open maps, decoded
	classes []fastClass // class definitions, in the order they came
	fields  []nameSpan  // field names of the classes
	spans   []nameSpan  // scratch
	ents    []entry     // entries of the open objects and maps
	nTypes  int         // list and map type names read (for type references)
}

// nameSpan is a decoded name in replyWriter.names.
type nameSpan struct{ start, end int32 }

// fastClass is a class definition: its name and its fields'
// (fields[first:first+n]); plain is set when an object of the class is
// written as an object of its fields (no special case applies).
type fastClass struct {
	name     nameSpan
	first, n int32
	plain    bool
	enum     bool // one field, "name": an enum constant when it holds a string
}

// entry is one "key":value of an object being written: the decoded key
// and the entry's text in out.
type entry struct {
	key        []byte
	start, end int
}

// Limits under which replyWriter writes; beyond them it gives up and
// the caller's slower reader applies the real limits.
const (
	fastMaxDepth  = 48
	fastMaxValues = maxReplyValues / 2
)

// Value kinds replyWriter.value reports.
const (
	kindOther  = iota // a list, map, object, date or binary
	kindString        // its text is in replyWriter.str
	kindNumber
	kindBool
	kindNull
)

func (w *replyWriter) reset(b []byte, keepClass bool) {
	w.b, w.pos, w.keepClass, w.values, w.nTypes = b, 0, keepClass, 0, 0
	w.out, w.tmp, w.str, w.names, w.keys = w.out[:0], w.tmp[:0], w.str[:0], w.names[:0], w.keys[:0]
	w.classes, w.fields, w.ents, w.spans = w.classes[:0], w.fields[:0], w.ents[:0], w.spans[:0]
}

// release drops references to the reply and scratch space grown past
// limit, before the writer is pooled.
func (w *replyWriter) release(limit int) {
	w.b = nil
	for _, p := range []*[]byte{&w.out, &w.tmp, &w.str, &w.names, &w.keys} {
		if cap(*p) > limit {
			*p = nil
		}
	}
	if cap(w.ents) > limit/32 {
		w.ents = nil
	}
	clear(w.ents[:cap(w.ents)])
	if cap(w.classes) > limit/32 || cap(w.fields) > limit/8 || cap(w.spans) > limit/8 {
		w.classes, w.fields, w.spans = nil, nil, nil
	}
}

func (w *replyWriter) byte() (byte, bool) {
	if w.pos >= len(w.b) {
		return 0, false
	}
	c := w.b[w.pos]
	w.pos++
	return c, true
}

func (w *replyWriter) bytes(n int) ([]byte, bool) {
	if n < 0 || n > len(w.b)-w.pos {
		return nil, false
	}
	p := w.b[w.pos : w.pos+n]
	w.pos += n
	return p, true
}

// int reads an int value (hessianReader.int).
func (w *replyWriter) int() (int32, bool) {
	tag, ok := w.byte()
	if !ok || !(tag >= 0x80 && tag <= 0xd7 || tag == 'I') {
		return 0, false
	}
	return w.intTail(tag)
}

func (w *replyWriter) intTail(tag byte) (int32, bool) {
	switch {
	case tag >= 0x80 && tag <= 0xbf:
		return int32(tag) - 0x90, true
	case tag >= 0xc0 && tag <= 0xcf:
		b0, ok := w.byte()
		return (int32(tag)-0xc8)<<8 | int32(b0), ok
	case tag >= 0xd0 && tag <= 0xd7:
		p, ok := w.bytes(2)
		if !ok {
			return 0, false
		}
		return (int32(tag)-0xd4)<<16 | int32(p[0])<<8 | int32(p[1]), true
	}
	p, ok := w.bytes(4)
	if !ok {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(p)), true
}

func isStringTag(c byte) bool { return c <= 0x1f || c >= 0x30 && c <= 0x33 || c == 'S' || c == 'R' }

// appendString reads the string whose first chunk's tag is tag and
// appends it to dst as UTF-8, as hessianReader.stringTail decodes it:
// lengths in UTF-16 units, surrogate pairs joined (also across chunks),
// unpaired surrogates U+FFFD.
func (w *replyWriter) appendString(dst []byte, tag byte) ([]byte, bool) {
	hi := rune(-1) // a high surrogate waiting for its low half
	unit := func(dst []byte, u rune) []byte {
		if hi >= 0 {
			if u >= 0xdc00 && u < 0xe000 {
				r := (hi-0xd800)<<10 | (u - 0xdc00) + 0x10000
				hi = -1
				return utf8.AppendRune(dst, r)
			}
			dst = utf8.AppendRune(dst, utf8.RuneError)
			hi = -1
		}
		switch {
		case u >= 0xd800 && u < 0xdc00:
			hi = u
			return dst
		case u >= 0xdc00 && u < 0xe000:
			return utf8.AppendRune(dst, utf8.RuneError)
		}
		return utf8.AppendRune(dst, u)
	}
	for {
		var n int
		final := true
		switch {
		case tag <= 0x1f:
			n = int(tag)
		case tag >= 0x30 && tag <= 0x33:
			b0, ok := w.byte()
			if !ok {
				return dst, false
			}
			n = int(tag-0x30)<<8 | int(b0)
		case tag == 'S' || tag == 'R':
			p, ok := w.bytes(2)
			if !ok {
				return dst, false
			}
			n = int(binary.BigEndian.Uint16(p))
			final = tag == 'S'
		default:
			return dst, false
		}
		// The common case: n ASCII bytes, nothing pending.
		if hi < 0 && n <= len(w.b)-w.pos {
			i := w.pos
			for i < w.pos+n && w.b[i] < utf8.RuneSelf {
				i++
			}
			dst = append(dst, w.b[w.pos:i]...)
			n -= i - w.pos
			w.pos = i
		}
		for n > 0 {
			c, ok := w.byte()
			if !ok {
				return dst, false
			}
			switch {
			case c < 0x80:
				dst = unit(dst, rune(c))
				n--
				continue
			case c >= 0xf0:
				ru, size := utf8.DecodeRune(w.b[w.pos-1:])
				if ru == utf8.RuneError && size <= 1 {
					return dst, false
				}
				w.pos += size - 1
				if ru >= 0x10000 {
					u1 := 0xd800 + (ru-0x10000)>>10&0x3ff
					u2 := 0xdc00 + (ru-0x10000)&0x3ff
					dst = unit(unit(dst, u1), u2)
				} else {
					// utf16.EncodeRune of a rune below 0x10000 gives
					// two U+FFFD units.
					dst = unit(unit(dst, utf8.RuneError), utf8.RuneError)
				}
				n -= 2
				continue
			}
			var v rune
			if c >= 0xe0 {
				p, ok := w.bytes(2)
				if !ok {
					return dst, false
				}
				v = rune(c&0x0f)<<12 | rune(p[0]&0x3f)<<6 | rune(p[1]&0x3f)
			} else {
				b1, ok := w.byte()
				if !ok {
					return dst, false
				}
				v = rune(c&0x1f)<<6 | rune(b1&0x3f)
			}
			dst = unit(dst, v)
			n--
		}
		if final {
			if hi >= 0 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			}
			return dst, true
		}
		var ok bool
		if tag, ok = w.byte(); !ok {
			return dst, false
		}
	}
}

// name reads a string value (null reads as "") into names.
func (w *replyWriter) name() (nameSpan, bool) {
	tag, ok := w.byte()
	if !ok {
		return nameSpan{}, false
	}
	start := int32(len(w.names))
	if tag == 'N' {
		return nameSpan{start, start}, true
	}
	if !isStringTag(tag) {
		return nameSpan{}, false
	}
	w.names, ok = w.appendString(w.names, tag)
	return nameSpan{start, int32(len(w.names))}, ok
}

func (w *replyWriter) nameOf(s nameSpan) []byte { return w.names[s.start:s.end] }

func (w *replyWriter) classDef() bool {
	name, ok := w.name()
	if !ok {
		return false
	}
	n, ok := w.int()
	if !ok || n < 0 || int(n) > len(w.b)-w.pos {
		return false
	}
	cls := fastClass{name: name, first: int32(len(w.fields)), n: n}
	for range n {
		f, ok := w.name()
		if !ok {
			return false
		}
		w.fields = append(w.fields, f)
	}
	fields := w.fields[cls.first:]
	cname := w.nameOf(name)
	cls.enum = n == 1 && string(w.nameOf(fields[0])) == "name"
	// An object is written as the map plainValue makes of it: its class
	// under "_class" and its fields. Write only the plain case: a named
	// class that appendAnyMap does not special-case, whose field names
	// are distinct and not "_class" (nor "class" when the class is kept).
	cls.plain = len(cname) > 0 && string(cname) != "java.math.BigDecimal" && string(cname) != "java.math.BigInteger"
	for _, f := range fields {
		if fb := w.nameOf(f); string(fb) == "_class" || w.keepClass && string(fb) == "class" {
			cls.plain = false
		}
	}
	if cls.plain && len(fields) > 1 {
		w.spans = append(w.spans[:0], fields...)
		slices.SortFunc(w.spans, func(a, b nameSpan) int { return bytes.Compare(w.nameOf(a), w.nameOf(b)) })
		for i := 1; i < len(w.spans); i++ {
			if bytes.Equal(w.nameOf(w.spans[i-1]), w.nameOf(w.spans[i])) {
				cls.plain = false
				break
			}
		}
	}
	w.classes = append(w.classes, cls)
	return true
}

// typeName reads a list's or map's type (hessianReader.typeName).
func (w *replyWriter) typeName() bool {
	if w.pos >= len(w.b) {
		return false
	}
	if isStringTag(w.b[w.pos]) {
		tag, _ := w.byte()
		mark := len(w.str)
		var ok bool
		w.str, ok = w.appendString(w.str, tag)
		w.str = w.str[:mark]
		w.nTypes++
		return ok
	}
	idx, ok := w.int()
	return ok && idx >= 0 && int(idx) < w.nTypes
}

// value writes the next value as JSON; kind says whether it was a string
// (whose text is then in w.str).
func (w *replyWriter) value(depth int) (kind int, ok bool) {
	if depth > fastMaxDepth {
		return 0, false
	}
	if w.values++; w.values > fastMaxValues {
		return 0, false
	}
	tag, ok := w.byte()
	if !ok {
		return 0, false
	}
	for tag == 'C' {
		if !w.classDef() {
			return 0, false
		}
		if tag, ok = w.byte(); !ok {
			return 0, false
		}
	}
	switch {
	case tag == 'N':
		w.out = append(w.out, "null"...)
		return kindNull, true
	case tag == 'T':
		w.out = append(w.out, "true"...)
		return kindBool, true
	case tag == 'F':
		w.out = append(w.out, "false"...)
		return kindBool, true

	case tag >= 0x80 && tag <= 0xd7, tag == 'I',
		tag >= 0xd8, tag >= 0x38 && tag <= 0x3f, tag == 0x59, tag == 'L':
		v, ok := w.integer(tag)
		if !ok {
			return 0, false
		}
		w.out = generic.AppendInt(w.out, v)
		return kindNumber, true

	case tag == 'D', tag >= 0x5b && tag <= 0x5f:
		f, ok := w.double(tag)
		if !ok {
			return 0, false
		}
		w.out = generic.AppendFloat(w.out, f, 64)
		return kindNumber, true

	case tag == 0x4a:
		p, ok := w.bytes(8)
		if !ok {
			return 0, false
		}
		w.date(time.UnixMilli(int64(binary.BigEndian.Uint64(p))).UTC())
	case tag == 0x4b:
		p, ok := w.bytes(4)
		if !ok {
			return 0, false
		}
		w.date(time.Unix(int64(int32(binary.BigEndian.Uint32(p)))*60, 0).UTC())

	case isStringTag(tag):
		w.str = w.str[:0]
		if w.str, ok = w.appendString(w.str, tag); !ok {
			return 0, false
		}
		w.out = generic.AppendMarshalString(w.out, w.str)
		return kindString, true

	case tag >= 0x20 && tag <= 0x2f, tag >= 0x34 && tag <= 0x37, tag == 'B', tag == 'A':
		return kindOther, w.binary(tag)

	case tag == 0x55, tag == 'V', tag == 0x57, tag == 0x58, tag >= 0x70 && tag <= 0x7f:
		return kindOther, w.list(tag, depth)

	case tag == 'M', tag == 'H':
		return kindOther, w.hmap(tag, depth)

	case tag == 'O', tag >= 0x60 && tag <= 0x6f:
		return w.object(tag, depth)

	default:
		// A back reference (0x51), which needs the value it refers to,
		// or a tag that starts no value.
		return 0, false
	}
	return kindOther, true
}

// integer reads an int or a long whose tag was read.
func (w *replyWriter) integer(tag byte) (int64, bool) {
	switch {
	case tag >= 0x80 && tag <= 0xd7, tag == 'I':
		v, ok := w.intTail(tag)
		return int64(v), ok
	case tag >= 0xd8 && tag <= 0xef:
		return int64(tag) - 0xe0, true
	case tag >= 0xf0:
		b0, ok := w.byte()
		return (int64(tag)-0xf8)<<8 | int64(b0), ok
	case tag >= 0x38 && tag <= 0x3f:
		p, ok := w.bytes(2)
		if !ok {
			return 0, false
		}
		return (int64(tag)-0x3c)<<16 | int64(p[0])<<8 | int64(p[1]), true
	case tag == 0x59:
		p, ok := w.bytes(4)
		if !ok {
			return 0, false
		}
		return int64(int32(binary.BigEndian.Uint32(p))), true
	}
	p, ok := w.bytes(8)
	if !ok {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(p)), true
}

func (w *replyWriter) double(tag byte) (float64, bool) {
	switch tag {
	case 'D':
		p, ok := w.bytes(8)
		if !ok {
			return 0, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), true
	case 0x5b:
		return 0.0, true
	case 0x5c:
		return 1.0, true
	case 0x5d:
		b0, ok := w.byte()
		return float64(int8(b0)), ok
	case 0x5e:
		p, ok := w.bytes(2)
		if !ok {
			return 0, false
		}
		return float64(int16(binary.BigEndian.Uint16(p))), true
	}
	p, ok := w.bytes(4)
	if !ok {
		return 0, false
	}
	return 0.001 * float64(int32(binary.BigEndian.Uint32(p))), true
}

func (w *replyWriter) date(t time.Time) {
	mark := len(w.str)
	w.str = t.UTC().AppendFormat(w.str, time.RFC3339Nano)
	w.out = generic.AppendMarshalString(w.out, w.str[mark:])
	w.str = w.str[:mark]
}

// binary writes a binary value's chunks as one base64 string.
func (w *replyWriter) binary(tag byte) bool {
	first := true
	var start int
	for {
		var n int
		final := true
		switch {
		case tag >= 0x20 && tag <= 0x2f:
			n = int(tag - 0x20)
		case tag >= 0x34 && tag <= 0x37:
			b0, ok := w.byte()
			if !ok {
				return false
			}
			n = int(tag-0x34)<<8 | int(b0)
		case tag == 'B' || tag == 'A':
			p, ok := w.bytes(2)
			if !ok {
				return false
			}
			n = int(binary.BigEndian.Uint16(p))
			final = tag == 'B'
		default:
			return false
		}
		p, ok := w.bytes(n)
		if !ok {
			return false
		}
		if first && final {
			// One chunk: encode it where it is.
			w.out = append(w.out, '"')
			w.out = base64.StdEncoding.AppendEncode(w.out, p)
			w.out = append(w.out, '"')
			return true
		}
		if first {
			start = len(w.str)
			first = false
		}
		w.str = append(w.str, p...)
		if final {
			w.out = append(w.out, '"')
			w.out = base64.StdEncoding.AppendEncode(w.out, w.str[start:])
			w.out = append(w.out, '"')
			w.str = w.str[:start]
			return true
		}
		if tag, ok = w.byte(); !ok {
			return false
		}
	}
}

func (w *replyWriter) list(tag byte, depth int) bool {
	n := -1 // variable length, ended by 'Z'
	switch {
	case tag == 0x55:
		if !w.typeName() {
			return false
		}
	case tag == 'V':
		if !w.typeName() {
			return false
		}
		v, ok := w.int()
		if !ok {
			return false
		}
		n = int(v)
	case tag == 0x57:
	case tag == 0x58:
		v, ok := w.int()
		if !ok {
			return false
		}
		n = int(v)
	case tag >= 0x70 && tag <= 0x77:
		if !w.typeName() {
			return false
		}
		n = int(tag - 0x70)
	default:
		n = int(tag - 0x78)
	}
	if n > len(w.b)-w.pos || n < -1 {
		return false
	}
	w.out = append(w.out, '[')
	for i := 0; n < 0 || i < n; i++ {
		if n < 0 {
			if w.pos >= len(w.b) {
				return false
			}
			if w.b[w.pos] == 'Z' {
				w.pos++
				break
			}
		}
		if i > 0 {
			w.out = append(w.out, ',')
		}
		if _, ok := w.value(depth + 1); !ok {
			return false
		}
	}
	w.out = append(w.out, ']')
	return true
}

// hmap writes a map whose keys are all strings as an object with sorted
// keys, as appendAnyMap does: a "class" key is dropped (kept when the
// class is kept and it is a non-empty string); "_class", a class of
// BigDecimal or BigInteger, and a repeated key are left to the slower
// reader.
func (w *replyWriter) hmap(tag byte, depth int) bool {
	if tag == 'M' && !w.typeName() {
		return false
	}
	base, keyMark, start := len(w.ents), len(w.keys), len(w.out)
	w.out = append(w.out, '{')
	for {
		if w.pos >= len(w.b) {
			return false
		}
		if w.b[w.pos] == 'Z' {
			w.pos++
			break
		}
		if w.values++; w.values > fastMaxValues {
			return false
		}
		ktag, _ := w.byte()
		if !isStringTag(ktag) {
			return false
		}
		entStart := len(w.out)
		if len(w.ents) > base {
			w.out = append(w.out, ',')
			entStart++
		}
		k0 := len(w.keys)
		var ok bool
		if w.keys, ok = w.appendString(w.keys, ktag); !ok {
			return false
		}
		key := w.keys[k0:len(w.keys):len(w.keys)]
		if string(key) == "_class" {
			return false
		}
		w.out = generic.AppendMarshalString(w.out, key)
		w.out = append(w.out, ':')
		kind, ok := w.value(depth + 1)
		if !ok {
			return false
		}
		if string(key) == "class" {
			cls := w.str
			if kind == kindString && (string(cls) == "java.math.BigDecimal" || string(cls) == "java.math.BigInteger") {
				return false
			}
			if kind != kindString || !w.keepClass || len(cls) == 0 {
				// Dropped, with the comma before it (an empty class
				// is not kept either).
				w.out = w.out[:entStart-boolInt(len(w.ents) > base)]
				w.keys = w.keys[:k0]
				continue
			}
		}
		w.ents = append(w.ents, entry{key: key, start: entStart, end: len(w.out)})
	}
	ok := w.finish(base, start)
	w.keys = w.keys[:keyMark]
	return ok
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// object writes an object: a plain one as an object of its fields with
// sorted keys (and its class when kept), an enum constant as its name.
func (w *replyWriter) object(tag byte, depth int) (int, bool) {
	idx := int32(tag) - 0x60
	if tag == 'O' {
		var ok bool
		if idx, ok = w.int(); !ok {
			return 0, false
		}
	}
	if idx < 0 || int(idx) >= len(w.classes) {
		return 0, false
	}
	cls := w.classes[idx]
	if cls.enum {
		// plainValue writes an enum constant (one field, "name", holding
		// a string) as its name.
		kind, ok := w.value(depth + 1)
		return kind, ok && kind == kindString
	}
	if !cls.plain {
		return 0, false
	}
	base, start := len(w.ents), len(w.out)
	w.out = append(w.out, '{')
	fields := w.fields[cls.first : cls.first+cls.n]
	for i, f := range fields {
		entStart := len(w.out)
		if i > 0 {
			w.out = append(w.out, ',')
			entStart++
		}
		key := w.nameOf(f)
		w.out = generic.AppendMarshalString(w.out, key)
		w.out = append(w.out, ':')
		if _, ok := w.value(depth + 1); !ok {
			return 0, false
		}
		w.ents = append(w.ents, entry{key: key, start: entStart, end: len(w.out)})
	}
	if w.keepClass {
		entStart := len(w.out)
		if len(fields) > 0 {
			w.out = append(w.out, ',')
			entStart++
		}
		w.out = append(w.out, `"class":`...)
		w.out = generic.AppendMarshalString(w.out, w.nameOf(cls.name))
		w.ents = append(w.ents, entry{key: classKey, start: entStart, end: len(w.out)})
	}
	return kindOther, w.finish(base, start)
}

var classKey = []byte("class")

// finish closes the object that starts at out[start] with entries
// ents[base:], sorting them by key when they came in another order.
func (w *replyWriter) finish(base, start int) bool {
	ents := w.ents[base:]
	sorted := true
	for i := 1; i < len(ents); i++ {
		if c := bytes.Compare(ents[i-1].key, ents[i].key); c >= 0 {
			if c == 0 {
				return false
			}
			sorted = false
		}
	}
	if !sorted {
		slices.SortFunc(ents, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
		for i := 1; i < len(ents); i++ {
			if bytes.Equal(ents[i-1].key, ents[i].key) {
				return false
			}
		}
		from := start + 1
		w.tmp = append(w.tmp[:0], w.out[from:]...)
		w.out = w.out[:from]
		for i, e := range ents {
			if i > 0 {
				w.out = append(w.out, ',')
			}
			w.out = append(w.out, w.tmp[e.start-from:e.end-from]...)
		}
	}
	w.out = append(w.out, '}')
	w.ents = w.ents[:base]
	return true
}

// replyKind reads the reply body's first value, its type.
func (w *replyWriter) replyKind() (int32, bool) {
	tag, ok := w.byte()
	for ok && tag == 'C' {
		if !w.classDef() {
			return 0, false
		}
		tag, ok = w.byte()
	}
	if !ok || !(tag >= 0x80 && tag <= 0xd7 || tag == 'I') {
		return 0, false
	}
	return w.intTail(tag)
}
