package thrift

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"strconv"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
)

// decoder reads Thrift values off a TProtocol and appends them as JSON,
// following the compiled descriptor tree. Fields the IDL does not know (or
// whose wire type differs) are skipped, as Thrift readers do.
type decoder struct {
	p   thrift.TProtocol
	ctx context.Context
	out []byte
}

// replyError is a reply that does not match the IDL.
type replyError struct{ msg string }

func (e *replyError) Error() string { return e.msg }

func mismatch(format string, args ...any) error {
	return &replyError{msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) structVal(sd *structDesc, depth int) error {
	if depth > maxDepth {
		return mismatch("reply nests deeper than %d", maxDepth)
	}
	if _, err := d.p.ReadStructBegin(d.ctx); err != nil {
		return err
	}
	d.out = append(d.out, '{')
	n := 0
	for {
		_, typ, id, err := d.p.ReadFieldBegin(d.ctx)
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			break
		}
		f := sd.field(id)
		if f == nil || f.typ.wire != typ {
			if err := d.p.Skip(d.ctx, typ); err != nil {
				return err
			}
		} else {
			if n > 0 {
				d.out = append(d.out, ',')
			}
			n++
			d.out = generic.AppendString(d.out, f.name)
			d.out = append(d.out, ':')
			if err := d.value(f.typ, depth+1); err != nil {
				return err
			}
		}
		if err := d.p.ReadFieldEnd(d.ctx); err != nil {
			return err
		}
	}
	d.out = append(d.out, '}')
	return d.p.ReadStructEnd(d.ctx)
}

func (d *decoder) value(t *ttype, depth int) error {
	switch t.kind {
	case kBool:
		v, err := d.p.ReadBool(d.ctx)
		if err != nil {
			return err
		}
		d.out = strconv.AppendBool(d.out, v)
	case kByte:
		v, err := d.p.ReadByte(d.ctx)
		if err != nil {
			return err
		}
		d.out = strconv.AppendInt(d.out, int64(v), 10)
	case kI16:
		v, err := d.p.ReadI16(d.ctx)
		if err != nil {
			return err
		}
		d.out = strconv.AppendInt(d.out, int64(v), 10)
	case kI32:
		v, err := d.p.ReadI32(d.ctx)
		if err != nil {
			return err
		}
		d.out = strconv.AppendInt(d.out, int64(v), 10)
	case kI64:
		v, err := d.p.ReadI64(d.ctx)
		if err != nil {
			return err
		}
		d.out = generic.AppendInt(d.out, v)
	case kDouble:
		v, err := d.p.ReadDouble(d.ctx)
		if err != nil {
			return err
		}
		d.out = generic.AppendFloat(d.out, v, 64)
	case kString:
		v, err := d.p.ReadString(d.ctx)
		if err != nil {
			return err
		}
		d.out = generic.AppendString(d.out, v)
	case kUUID:
		v, err := d.p.ReadUUID(d.ctx)
		if err != nil {
			return err
		}
		d.out = append(append(append(d.out, '"'), v.String()...), '"')
	case kBinary:
		v, err := d.p.ReadBinary(d.ctx)
		if err != nil {
			return err
		}
		d.out = append(d.out, '"')
		d.out = base64.StdEncoding.AppendEncode(d.out, v)
		d.out = append(d.out, '"')
	case kEnum:
		v, err := d.p.ReadI32(d.ctx)
		if err != nil {
			return err
		}
		if name, ok := t.enum.byValue[v]; ok {
			d.out = generic.AppendString(d.out, name)
		} else {
			d.out = strconv.AppendInt(d.out, int64(v), 10)
		}
	case kStruct:
		return d.structVal(t.st, depth)
	case kList, kSet:
		if depth > maxDepth {
			return mismatch("reply nests deeper than %d", maxDepth)
		}
		var et thrift.TType
		var n int
		var err error
		if t.kind == kList {
			et, n, err = d.p.ReadListBegin(d.ctx)
		} else {
			et, n, err = d.p.ReadSetBegin(d.ctx)
		}
		if err != nil {
			return err
		}
		if n > 0 && et != t.elem.wire {
			return mismatch("reply has elements of type %v where the IDL says %s", et, t.describe())
		}
		d.out = append(d.out, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				d.out = append(d.out, ',')
			}
			if err := d.value(t.elem, depth+1); err != nil {
				return err
			}
		}
		d.out = append(d.out, ']')
		if t.kind == kList {
			return d.p.ReadListEnd(d.ctx)
		}
		return d.p.ReadSetEnd(d.ctx)
	case kMap:
		if depth > maxDepth {
			return mismatch("reply nests deeper than %d", maxDepth)
		}
		kt, vt, n, err := d.p.ReadMapBegin(d.ctx)
		if err != nil {
			return err
		}
		if n > 0 && (kt != t.key.wire || vt != t.elem.wire) {
			return mismatch("reply has a map<%v,%v> where the IDL says %s", kt, vt, t.describe())
		}
		d.out = append(d.out, '{')
		for i := 0; i < n; i++ {
			if i > 0 {
				d.out = append(d.out, ',')
			}
			if err := d.key(t.key, depth+1); err != nil {
				return err
			}
			d.out = append(d.out, ':')
			if err := d.value(t.elem, depth+1); err != nil {
				return err
			}
		}
		d.out = append(d.out, '}')
		return d.p.ReadMapEnd(d.ctx)
	default:
		return mismatch("unsupported type %s", t.describe())
	}
	return nil
}

// key writes a map key as a JSON object key: strings as they are, other
// scalars as their JSON text in quotes, and (for IDLs that key maps by
// structs or containers) the key's JSON as a string.
func (d *decoder) key(t *ttype, depth int) error {
	switch t.kind {
	case kString, kBinary, kUUID:
		return d.value(t, depth)
	case kEnum:
		v, err := d.p.ReadI32(d.ctx)
		if err != nil {
			return err
		}
		d.out = append(d.out, '"')
		if name, ok := t.enum.byValue[v]; ok {
			d.out = append(d.out, name...)
		} else {
			d.out = strconv.AppendInt(d.out, int64(v), 10)
		}
		d.out = append(d.out, '"')
		return nil
	case kBool, kByte, kI16, kI32, kI64:
		d.out = append(d.out, '"')
		start := len(d.out)
		if err := d.value(t, depth); err != nil {
			return err
		}
		// AppendInt quotes big i64 values; inside a key the quotes are ours.
		if d.out[start] == '"' {
			d.out = append(d.out[:start], d.out[start+1:len(d.out)-1]...)
		}
		d.out = append(d.out, '"')
		return nil
	case kDouble:
		v, err := d.p.ReadDouble(d.ctx)
		if err != nil {
			return err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			d.out = generic.AppendFloat(d.out, v, 64) // "NaN", "Infinity": already a string
			return nil
		}
		d.out = append(d.out, '"')
		d.out = generic.AppendFloat(d.out, v, 64)
		d.out = append(d.out, '"')
		return nil
	}
	start := len(d.out)
	if err := d.value(t, depth); err != nil {
		return err
	}
	text := string(d.out[start:])
	d.out = generic.AppendString(d.out[:start], text)
	return nil
}
