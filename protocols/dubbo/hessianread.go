package dubbo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// hessianReader reads one Hessian 2.0 value graph without any type
// registry: an object of any class becomes an *hobject holding its class
// name and every field its class definition lists, whatever classes this
// process has registered with hessian2. It is used for exception objects,
// which hessian2 turns into a nameless placeholder when it does not know
// their class (see javaexception.go).
type hessianReader struct {
	b       []byte
	pos     int
	classes []hclass
	types   []string
	refs    []any // *hobject, *hlist and *hmap, in the order they began
	depth   int
}

type hclass struct {
	name   string
	fields []string
}

// hobject is an object: its class and one value per field of the class.
type hobject struct {
	class  string
	fields []string
	values []any
}

// field returns the value of the named field, or nil.
func (o *hobject) field(name string) any {
	for i, f := range o.fields {
		if f == name {
			return o.values[i]
		}
	}
	return nil
}

type hlist struct {
	typ   string
	items []any
}

type hmap struct {
	typ        string
	keys, vals []any
}

// maxHessianDepth bounds nesting, as appendJSON does.
const maxHessianDepth = 64

var errHessianShort = errors.New("hessian: value ends early")

func (r *hessianReader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errHessianShort
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *hessianReader) peek() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, errHessianShort
	}
	return r.b[r.pos], nil
}

func (r *hessianReader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, errHessianShort
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p, nil
}

func (r *hessianReader) u16() (int, error) {
	p, err := r.bytes(2)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(p)), nil
}

// count checks a declared element count against the bytes left (every
// element takes at least one byte).
func (r *hessianReader) count(n int64) (int, error) {
	if n < 0 || n > int64(len(r.b)-r.pos) {
		return 0, fmt.Errorf("hessian: bad length %d", n)
	}
	return int(n), nil
}

// read reads one value.
func (r *hessianReader) read() (any, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxHessianDepth {
		return nil, fmt.Errorf("hessian: value nests deeper than %d levels", maxHessianDepth)
	}
	tag, err := r.byte()
	if err != nil {
		return nil, err
	}
	for tag == 'C' {
		// A class definition, then the value (usually an object of it).
		if err := r.classDef(); err != nil {
			return nil, err
		}
		if tag, err = r.byte(); err != nil {
			return nil, err
		}
	}
	switch {
	case tag == 'N':
		return nil, nil
	case tag == 'T':
		return true, nil
	case tag == 'F':
		return false, nil

	case tag >= 0x80 && tag <= 0xbf, tag >= 0xc0 && tag <= 0xd7, tag == 'I':
		return r.intTail(tag)

	case tag >= 0xd8 && tag <= 0xef:
		return int64(tag) - 0xe0, nil
	case tag >= 0xf0:
		b0, err := r.byte()
		return (int64(tag)-0xf8)<<8 | int64(b0), err
	case tag >= 0x38 && tag <= 0x3f:
		p, err := r.bytes(2)
		if err != nil {
			return nil, err
		}
		return (int64(tag)-0x3c)<<16 | int64(p[0])<<8 | int64(p[1]), nil
	case tag == 0x59:
		p, err := r.bytes(4)
		if err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(p))), nil
	case tag == 'L':
		p, err := r.bytes(8)
		if err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint64(p)), nil

	case tag == 'D':
		p, err := r.bytes(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	case tag == 0x5b:
		return 0.0, nil
	case tag == 0x5c:
		return 1.0, nil
	case tag == 0x5d:
		b0, err := r.byte()
		return float64(int8(b0)), err
	case tag == 0x5e:
		p, err := r.bytes(2)
		if err != nil {
			return nil, err
		}
		return float64(int16(binary.BigEndian.Uint16(p))), nil
	case tag == 0x5f:
		p, err := r.bytes(4)
		if err != nil {
			return nil, err
		}
		return 0.001 * float64(int32(binary.BigEndian.Uint32(p))), nil

	case tag == 0x4a:
		p, err := r.bytes(8)
		if err != nil {
			return nil, err
		}
		return time.UnixMilli(int64(binary.BigEndian.Uint64(p))).UTC(), nil
	case tag == 0x4b:
		p, err := r.bytes(4)
		if err != nil {
			return nil, err
		}
		return time.Unix(int64(int32(binary.BigEndian.Uint32(p)))*60, 0).UTC(), nil

	case tag <= 0x1f, tag >= 0x30 && tag <= 0x33, tag == 'S', tag == 'R':
		return r.stringTail(tag)

	case tag >= 0x20 && tag <= 0x2f, tag >= 0x34 && tag <= 0x37, tag == 'B', tag == 'A':
		return r.binaryTail(tag)

	case tag == 0x55, tag == 'V', tag == 0x57, tag == 0x58, tag >= 0x70 && tag <= 0x7f:
		return r.listTail(tag)

	case tag == 'M', tag == 'H':
		m := &hmap{}
		if tag == 'M' {
			if m.typ, err = r.typeName(); err != nil {
				return nil, err
			}
		}
		r.refs = append(r.refs, m)
		for {
			c, err := r.peek()
			if err != nil {
				return nil, err
			}
			if c == 'Z' {
				r.pos++
				return m, nil
			}
			k, err := r.read()
			if err != nil {
				return nil, err
			}
			v, err := r.read()
			if err != nil {
				return nil, err
			}
			m.keys, m.vals = append(m.keys, k), append(m.vals, v)
		}

	case tag == 'O', tag >= 0x60 && tag <= 0x6f:
		idx := int32(tag) - 0x60
		if tag == 'O' {
			if idx, err = r.int(); err != nil {
				return nil, err
			}
		}
		if idx < 0 || int(idx) >= len(r.classes) {
			return nil, fmt.Errorf("hessian: object of undefined class #%d", idx)
		}
		cls := r.classes[idx]
		o := &hobject{class: cls.name, fields: cls.fields, values: make([]any, len(cls.fields))}
		r.refs = append(r.refs, o)
		for i := range o.values {
			if o.values[i], err = r.read(); err != nil {
				return nil, err
			}
		}
		return o, nil

	case tag == 0x51:
		idx, err := r.int()
		if err != nil {
			return nil, err
		}
		if idx < 0 || int(idx) >= len(r.refs) {
			return nil, fmt.Errorf("hessian: reference to undefined value #%d", idx)
		}
		return r.refs[idx], nil
	}
	return nil, fmt.Errorf("hessian: unexpected tag 0x%02x", tag)
}

func (r *hessianReader) classDef() error {
	name, err := r.string()
	if err != nil {
		return err
	}
	n, err := r.int()
	if err != nil {
		return err
	}
	cnt, err := r.count(int64(n))
	if err != nil {
		return err
	}
	cls := hclass{name: name, fields: make([]string, cnt)}
	for i := range cls.fields {
		if cls.fields[i], err = r.string(); err != nil {
			return err
		}
	}
	r.classes = append(r.classes, cls)
	return nil
}

// int reads an int value.
func (r *hessianReader) int() (int32, error) {
	tag, err := r.byte()
	if err != nil {
		return 0, err
	}
	if !(tag >= 0x80 && tag <= 0xd7 || tag == 'I') {
		return 0, fmt.Errorf("hessian: expected an int, got tag 0x%02x", tag)
	}
	return r.intTail(tag)
}

func (r *hessianReader) intTail(tag byte) (int32, error) {
	switch {
	case tag >= 0x80 && tag <= 0xbf:
		return int32(tag) - 0x90, nil
	case tag >= 0xc0 && tag <= 0xcf:
		b0, err := r.byte()
		return (int32(tag)-0xc8)<<8 | int32(b0), err
	case tag >= 0xd0 && tag <= 0xd7:
		p, err := r.bytes(2)
		if err != nil {
			return 0, err
		}
		return (int32(tag)-0xd4)<<16 | int32(p[0])<<8 | int32(p[1]), nil
	}
	p, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(p)), nil
}

// string reads a string value (null reads as "").
func (r *hessianReader) string() (string, error) {
	tag, err := r.byte()
	if err != nil {
		return "", err
	}
	if tag == 'N' {
		return "", nil
	}
	if !(tag <= 0x1f || tag >= 0x30 && tag <= 0x33 || tag == 'S' || tag == 'R') {
		return "", fmt.Errorf("hessian: expected a string, got tag 0x%02x", tag)
	}
	return r.stringTail(tag)
}

// stringTail reads a string's chunks. Lengths count UTF-16 units, as
// Java's chars: a supplementary character is two, whether written as one
// 4-byte UTF-8 sequence or as two 3-byte surrogates.
func (r *hessianReader) stringTail(tag byte) (string, error) {
	var units []uint16
	for {
		var n int
		var err error
		final := true
		switch {
		case tag <= 0x1f:
			n = int(tag)
		case tag >= 0x30 && tag <= 0x33:
			var b0 byte
			b0, err = r.byte()
			n = int(tag-0x30)<<8 | int(b0)
		case tag == 'S' || tag == 'R':
			n, err = r.u16()
			final = tag == 'S'
		default:
			return "", fmt.Errorf("hessian: expected a string chunk, got tag 0x%02x", tag)
		}
		if err != nil {
			return "", err
		}
		for n > 0 {
			c, err := r.byte()
			if err != nil {
				return "", err
			}
			switch {
			case c < 0x80:
				units = append(units, uint16(c))
				n--
				continue
			case c >= 0xf0:
				r.pos--
				ru, size := utf8.DecodeRune(r.b[r.pos:])
				if ru == utf8.RuneError && size <= 1 {
					return "", errors.New("hessian: bad UTF-8 in a string")
				}
				r.pos += size
				u1, u2 := utf16.EncodeRune(ru)
				units = append(units, uint16(u1), uint16(u2))
				n -= 2
				continue
			}
			// Two or three bytes, decoded by hand so that surrogate
			// halves (CESU-8, as Java writes them) are kept.
			var v uint16
			if c >= 0xe0 {
				p, err := r.bytes(2)
				if err != nil {
					return "", err
				}
				v = uint16(c&0x0f)<<12 | uint16(p[0]&0x3f)<<6 | uint16(p[1]&0x3f)
			} else {
				b1, err := r.byte()
				if err != nil {
					return "", err
				}
				v = uint16(c&0x1f)<<6 | uint16(b1&0x3f)
			}
			units = append(units, v)
			n--
		}
		if final {
			return string(utf16.Decode(units)), nil
		}
		if tag, err = r.byte(); err != nil {
			return "", err
		}
	}
}

func (r *hessianReader) binaryTail(tag byte) ([]byte, error) {
	var out []byte
	for {
		var n int
		var err error
		final := true
		switch {
		case tag >= 0x20 && tag <= 0x2f:
			n = int(tag - 0x20)
		case tag >= 0x34 && tag <= 0x37:
			var b0 byte
			b0, err = r.byte()
			n = int(tag-0x34)<<8 | int(b0)
		case tag == 'B' || tag == 'A':
			n, err = r.u16()
			final = tag == 'B'
		default:
			return nil, fmt.Errorf("hessian: expected a binary chunk, got tag 0x%02x", tag)
		}
		if err != nil {
			return nil, err
		}
		p, err := r.bytes(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
		if final {
			if out == nil {
				out = []byte{}
			}
			return out, nil
		}
		if tag, err = r.byte(); err != nil {
			return nil, err
		}
	}
}

// typeName reads a list's or map's type: a string, or the index of one
// read before.
func (r *hessianReader) typeName() (string, error) {
	c, err := r.peek()
	if err != nil {
		return "", err
	}
	if c <= 0x1f || c >= 0x30 && c <= 0x33 || c == 'S' || c == 'R' {
		s, err := r.string()
		if err != nil {
			return "", err
		}
		r.types = append(r.types, s)
		return s, nil
	}
	idx, err := r.int()
	if err != nil {
		return "", err
	}
	if idx < 0 || int(idx) >= len(r.types) {
		return "", fmt.Errorf("hessian: reference to undefined type #%d", idx)
	}
	return r.types[idx], nil
}

func (r *hessianReader) listTail(tag byte) (*hlist, error) {
	l := &hlist{}
	var err error
	n := -1 // variable length, ended by 'Z'
	switch {
	case tag == 0x55:
		l.typ, err = r.typeName()
	case tag == 'V':
		if l.typ, err = r.typeName(); err == nil {
			var v int32
			v, err = r.int()
			n = int(v)
		}
	case tag == 0x57:
	case tag == 0x58:
		var v int32
		v, err = r.int()
		n = int(v)
	case tag >= 0x70 && tag <= 0x77:
		l.typ, err = r.typeName()
		n = int(tag - 0x70)
	default:
		n = int(tag - 0x78)
	}
	if err != nil {
		return nil, err
	}
	r.refs = append(r.refs, l)
	if n >= 0 {
		if n, err = r.count(int64(n)); err != nil {
			return nil, err
		}
		l.items = make([]any, n)
		for i := range l.items {
			if l.items[i], err = r.read(); err != nil {
				return nil, err
			}
		}
		return l, nil
	}
	for {
		c, err := r.peek()
		if err != nil {
			return nil, err
		}
		if c == 'Z' {
			r.pos++
			return l, nil
		}
		v, err := r.read()
		if err != nil {
			return nil, err
		}
		l.items = append(l.items, v)
	}
}
