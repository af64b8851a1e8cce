package tars

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"

	"github.com/rpcbridge/rpcbridge/generic"
)

// The reply side reads Tars TLV with its own bounds-checked reader: every
// length is checked against the bytes that remain before anything is
// allocated, and malformed input is an error, never a panic. (TarsGo's
// codec.Reader cannot tell how many bytes remain, so a hostile length
// would make it allocate without limit.)

var errShort = errors.New("truncated Tars data")

type reader struct {
	b []byte
	i int
}

func (r *reader) eof() bool { return r.i >= len(r.b) }

func (r *reader) head() (ty, tag byte, err error) {
	if r.i >= len(r.b) {
		return 0, 0, errShort
	}
	c := r.b[r.i]
	r.i++
	ty, tag = c&0x0f, c>>4
	if tag == 15 {
		if r.i >= len(r.b) {
			return 0, 0, errShort
		}
		tag = r.b[r.i]
		r.i++
	}
	return ty, tag, nil
}

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.i {
		return nil, errShort
	}
	s := r.b[r.i : r.i+n]
	r.i += n
	return s, nil
}

// int reads an integer of wire type ty.
func (r *reader) int(ty byte) (int64, error) {
	switch ty {
	case codec.ZeroTag:
		return 0, nil
	case codec.BYTE:
		s, err := r.take(1)
		if err != nil {
			return 0, err
		}
		return int64(int8(s[0])), nil
	case codec.SHORT:
		s, err := r.take(2)
		if err != nil {
			return 0, err
		}
		return int64(int16(uint16(s[0])<<8 | uint16(s[1]))), nil
	case codec.INT:
		s, err := r.take(4)
		if err != nil {
			return 0, err
		}
		return int64(int32(be32(s))), nil
	case codec.LONG:
		s, err := r.take(8)
		if err != nil {
			return 0, err
		}
		return int64(uint64(be32(s))<<32 | uint64(be32(s[4:]))), nil
	}
	return 0, fmt.Errorf("want an integer, got wire type %d", ty)
}

func be32(s []byte) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// length reads the element count that follows a list or map head and
// checks it against the bytes left (every element takes at least one).
func (r *reader) length() (int, error) {
	ty, tag, err := r.head()
	if err != nil {
		return 0, err
	}
	if tag != 0 {
		return 0, fmt.Errorf("want a length at tag 0, got tag %d", tag)
	}
	n, err := r.int(ty)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > int64(len(r.b)-r.i) {
		return 0, fmt.Errorf("length %d exceeds the %d bytes left", n, len(r.b)-r.i)
	}
	return int(n), nil
}

// str reads a string of wire type ty.
func (r *reader) str(ty byte) ([]byte, error) {
	var n int
	switch ty {
	case codec.STRING1:
		s, err := r.take(1)
		if err != nil {
			return nil, err
		}
		n = int(s[0])
	case codec.STRING4:
		s, err := r.take(4)
		if err != nil {
			return nil, err
		}
		n = int(be32(s))
	default:
		return nil, fmt.Errorf("want a string, got wire type %d", ty)
	}
	return r.take(n)
}

// simpleList reads the body of a SimpleList (a byte vector).
func (r *reader) simpleList() ([]byte, error) {
	ty, _, err := r.head()
	if err != nil {
		return nil, err
	}
	if ty != codec.BYTE {
		return nil, fmt.Errorf("simple list wants a byte head, got wire type %d", ty)
	}
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	return r.take(n)
}

// skip skips a value of wire type ty.
func (r *reader) skip(ty byte, depth int) error {
	if depth > maxDepth {
		return errors.New("Tars data nested too deeply")
	}
	var err error
	switch ty {
	case codec.ZeroTag, codec.StructEnd:
	case codec.BYTE, codec.SHORT, codec.INT, codec.LONG:
		_, err = r.int(ty)
	case codec.FLOAT:
		_, err = r.take(4)
	case codec.DOUBLE:
		_, err = r.take(8)
	case codec.STRING1, codec.STRING4:
		_, err = r.str(ty)
	case codec.SimpleList:
		_, err = r.simpleList()
	case codec.LIST, codec.MAP:
		n, e := r.length()
		if e != nil {
			return e
		}
		if ty == codec.MAP {
			n *= 2
		}
		for k := 0; k < n && err == nil; k++ {
			t, _, e := r.head()
			if e != nil {
				return e
			}
			err = r.skip(t, depth+1)
		}
	case codec.StructBegin:
		for {
			t, _, e := r.head()
			if e != nil {
				return e
			}
			if t == codec.StructEnd {
				return nil
			}
			if err = r.skip(t, depth+1); err != nil {
				return err
			}
		}
	default:
		err = fmt.Errorf("unknown wire type %d", ty)
	}
	return err
}

type decoder struct {
	r reader
}

// fields decodes struct fields until StructEnd (or the end of the data
// when top is true) and writes them as a JSON object. Fields the data
// lacks get their IDL default or zero value.
func (d *decoder) fields(dst []byte, s *structDesc, top bool, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("Tars data nested too deeply")
	}
	var seen [4]uint64
	dst = append(dst, '{')
	first := true
	for {
		if top && d.r.eof() {
			break
		}
		ty, tag, err := d.r.head()
		if err != nil {
			return nil, err
		}
		if ty == codec.StructEnd {
			if top {
				return nil, errors.New("unexpected struct end")
			}
			break
		}
		var f *fieldDesc
		if int(tag) < len(s.byTag) {
			f = s.byTag[tag]
		}
		if f == nil || seen[tag/64]&(1<<(tag%64)) != 0 {
			if err := d.r.skip(ty, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		seen[tag/64] |= 1 << (tag % 64)
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = generic.AppendString(dst, f.name)
		dst = append(dst, ':')
		if dst, err = d.value(dst, f.t, ty, depth+1); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", s.name, f.name, err)
		}
	}
	for _, f := range s.fields {
		if seen[f.tag/64]&(1<<(f.tag%64)) != 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = generic.AppendString(dst, f.name)
		dst = append(dst, ':')
		if f.def != nil {
			dst = append(dst, f.def...)
		} else {
			dst = appendZero(dst, f.t, depth+1)
		}
	}
	return append(dst, '}'), nil
}

// value decodes one value of wire type ty as t.
func (d *decoder) value(dst []byte, t *typ, ty byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("Tars data nested too deeply")
	}
	r := &d.r
	switch t.kind {
	case kBool:
		n, err := r.int(ty)
		if err != nil {
			return nil, err
		}
		return strconv.AppendBool(dst, n != 0), nil
	case kByte, kShort, kInt, kLong:
		n, err := r.int(ty)
		if err != nil {
			return nil, err
		}
		return generic.AppendInt(dst, n), nil
	case kUByte, kUShort, kUInt:
		n, err := r.int(ty)
		if err != nil {
			return nil, err
		}
		return generic.AppendUint(dst, uint64(n)&(1<<bitsOf(t.kind)-1)), nil
	case kFloat, kDouble:
		var f float64
		switch ty {
		case codec.ZeroTag:
		case codec.FLOAT:
			s, err := r.take(4)
			if err != nil {
				return nil, err
			}
			f = float64(math.Float32frombits(be32(s)))
		case codec.DOUBLE:
			s, err := r.take(8)
			if err != nil {
				return nil, err
			}
			f = math.Float64frombits(uint64(be32(s))<<32 | uint64(be32(s[4:])))
		default:
			return nil, fmt.Errorf("want a float, got wire type %d", ty)
		}
		bits := 64
		if t.kind == kFloat {
			bits = 32
		}
		return generic.AppendFloat(dst, f, bits), nil
	case kString:
		s, err := r.str(ty)
		if err != nil {
			return nil, err
		}
		return generic.AppendStringBytes(dst, s), nil
	case kBytes:
		var raw []byte
		switch ty {
		case codec.SimpleList:
			s, err := r.simpleList()
			if err != nil {
				return nil, err
			}
			raw = s
		case codec.LIST:
			n, err := r.length()
			if err != nil {
				return nil, err
			}
			raw = make([]byte, n)
			for k := range raw {
				et, _, err := r.head()
				if err != nil {
					return nil, err
				}
				v, err := r.int(et)
				if err != nil {
					return nil, err
				}
				raw[k] = byte(v)
			}
		default:
			return nil, fmt.Errorf("want a byte vector, got wire type %d", ty)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, raw)
		return append(dst, '"'), nil
	case kEnum:
		n, err := r.int(ty)
		if err != nil {
			return nil, err
		}
		if name, ok := t.en.byNum[int32(n)]; ok && int64(int32(n)) == n {
			return generic.AppendString(dst, name), nil
		}
		return generic.AppendInt(dst, n), nil
	case kStruct:
		if ty != codec.StructBegin {
			return nil, fmt.Errorf("want a struct, got wire type %d", ty)
		}
		return d.fields(dst, t.st, false, depth+1)
	case kVector:
		dst = append(dst, '[')
		switch ty {
		case codec.LIST:
			n, err := r.length()
			if err != nil {
				return nil, err
			}
			for k := 0; k < n; k++ {
				if k > 0 {
					dst = append(dst, ',')
				}
				et, _, err := r.head()
				if err != nil {
					return nil, err
				}
				if dst, err = d.value(dst, t.elem, et, depth+1); err != nil {
					return nil, err
				}
			}
		case codec.SimpleList:
			s, err := r.simpleList()
			if err != nil {
				return nil, err
			}
			for k, c := range s {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendUint(dst, uint64(c), 10)
			}
		default:
			return nil, fmt.Errorf("want a list, got wire type %d", ty)
		}
		return append(dst, ']'), nil
	case kMap:
		if ty != codec.MAP {
			return nil, fmt.Errorf("want a map, got wire type %d", ty)
		}
		n, err := r.length()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		for k := 0; k < n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			kt, _, err := r.head()
			if err != nil {
				return nil, err
			}
			if dst, err = d.key(dst, t.key, kt, depth+1); err != nil {
				return nil, err
			}
			dst = append(dst, ':')
			vt, _, err := r.head()
			if err != nil {
				return nil, err
			}
			if dst, err = d.value(dst, t.elem, vt, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("unsupported type %s", t.name)
}

// key decodes a map key and writes it as a JSON string.
func (d *decoder) key(dst []byte, t *typ, ty byte, depth int) ([]byte, error) {
	start := len(dst)
	dst, err := d.value(dst, t, ty, depth)
	if err != nil {
		return nil, err
	}
	if dst[start] == '"' {
		return dst, nil
	}
	// Numbers, booleans and JSON text become strings.
	text := append([]byte(nil), dst[start:]...)
	return generic.AppendStringBytes(dst[:start], text), nil
}

// appendZero writes the zero value of t as JSON (structs with their
// fields' defaults).
func appendZero(dst []byte, t *typ, depth int) []byte {
	switch t.kind {
	case kBool:
		return append(dst, "false"...)
	case kString, kBytes:
		return append(dst, `""`...)
	case kVector:
		return append(dst, "[]"...)
	case kMap:
		return append(dst, "{}"...)
	case kEnum:
		if name, ok := t.en.byNum[0]; ok {
			return generic.AppendString(dst, name)
		}
		return append(dst, '0')
	case kStruct:
		if depth > maxDepth {
			return append(dst, "{}"...)
		}
		dst = append(dst, '{')
		for i, f := range t.st.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = generic.AppendString(dst, f.name)
			dst = append(dst, ':')
			if f.def != nil {
				dst = append(dst, f.def...)
			} else {
				dst = appendZero(dst, f.t, depth+1)
			}
		}
		return append(dst, '}')
	}
	return append(dst, '0')
}
