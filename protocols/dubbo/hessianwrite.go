package dubbo

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	hessian "github.com/apache/dubbo-go-hessian2"
	big "github.com/dubbogo/gost/math/big"
)

// hessianWriter appends Hessian 2.0 values to b. It writes the plain Go
// values toHessian produces (the forms hessian2's Encoder gives them, so
// that a provider sees what dubbo-go's client sends) without
// reflection. Class definitions are numbered per writer: one writer
// writes one request body.
type hessianWriter struct {
	b       []byte
	classes []writtenClass // class definitions written, in order
}

// writtenClass is a class definition a writer wrote: its name and fields.
type writtenClass struct {
	name   string
	fields []string
}

func (w *hessianWriter) null() { w.b = append(w.b, 'N') }

func (w *hessianWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 'T')
	} else {
		w.b = append(w.b, 'F')
	}
}

// int writes a 32-bit int in its shortest form.
func (w *hessianWriter) int(v int32) {
	switch {
	case v >= -0x10 && v <= 0x2f:
		w.b = append(w.b, byte(v+0x90))
	case v >= -0x800 && v <= 0x7ff:
		w.b = append(w.b, byte(v>>8+0xc8), byte(v))
	case v >= -0x40000 && v <= 0x3ffff:
		w.b = append(w.b, byte(v>>16+0xd4), byte(v>>8), byte(v))
	default:
		w.b = append(w.b, 'I')
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
	}
}

// long writes a 64-bit long in its shortest form.
func (w *hessianWriter) long(v int64) {
	switch {
	case v >= -0x08 && v <= 0x0f:
		w.b = append(w.b, byte(v+0xe0))
	case v >= -0x800 && v <= 0x7ff:
		w.b = append(w.b, byte(v>>8+0xf8), byte(v))
	case v >= -0x40000 && v <= 0x3ffff:
		w.b = append(w.b, byte(v>>16+0x3c), byte(v>>8), byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		w.b = append(w.b, 0x59)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
	default:
		w.b = append(w.b, 'L')
		w.b = binary.BigEndian.AppendUint64(w.b, uint64(v))
	}
}

// double writes a double in its shortest exact form.
func (w *hessianWriter) double(v float64) {
	if iv := int64(v); float64(iv) == v && !(v == 0 && math.Signbit(v)) {
		switch {
		case iv == 0:
			w.b = append(w.b, 0x5b)
			return
		case iv == 1:
			w.b = append(w.b, 0x5c)
			return
		case iv >= -0x80 && iv < 0x80:
			w.b = append(w.b, 0x5d, byte(iv))
			return
		case iv >= -0x8000 && iv < 0x8000:
			w.b = append(w.b, 0x5e, byte(iv>>8), byte(iv))
			return
		}
	}
	w.b = append(w.b, 'D')
	w.b = binary.BigEndian.AppendUint64(w.b, math.Float64bits(v))
}

// float writes a Java float as the double of its shortest decimal text,
// as hessian2 does (1.1f arrives as 1.1, not 1.100000023841858).
func (w *hessianWriter) float(v float32) {
	d, err := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	if err != nil {
		d = float64(v)
	}
	w.double(d)
}

// string writes s in chunks of at most 0x8000 UTF-16 units; lengths count
// UTF-16 units, as Java's chars (a supplementary character is two).
func (w *hessianWriter) string(s string) { w.b = appendHessianString(w.b, s) }

// stringBytes writes s as string writes string(s).
func (w *hessianWriter) stringBytes(s []byte) { w.b = appendHessianString(w.b, s) }

func appendHessianString[S string | []byte](b []byte, s S) []byte {
	if len(s) < 32 && isASCII(s) {
		b = append(b, byte(len(s)))
		return append(b, s...)
	}
	for {
		// Find the end of this chunk.
		units, end := 0, 0
		for end < len(s) && units < 0x7fff {
			r, size := decodeRune(s[end:])
			if r >= 0x10000 {
				units += 2
			} else {
				units++
			}
			end += size
		}
		final := end == len(s)
		switch {
		case !final:
			b = append(b, 'R', byte(units>>8), byte(units))
		case units < 32:
			b = append(b, byte(units))
		case units < 1024:
			b = append(b, byte(0x30+units>>8), byte(units))
		default:
			b = append(b, 'S', byte(units>>8), byte(units))
		}
		// Invalid UTF-8 is written as U+FFFD, which counts one unit as
		// decodeRune counted it. A supplementary character is written as
		// its two surrogates, three bytes each (CESU-8), as Java reads it.
		for i := 0; i < end; {
			if c := s[i]; c < utf8.RuneSelf {
				b = append(b, c)
				i++
				continue
			}
			r, size := decodeRune(s[i:end])
			i += size
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				b = appendSurrogate(appendSurrogate(b, r1), r2)
				continue
			}
			b = utf8.AppendRune(b, r)
		}
		if final {
			return b
		}
		s = s[end:]
	}
}

// decodeRune decodes the first rune of s as utf8.DecodeRuneInString does.
func decodeRune[S string | []byte](s S) (rune, int) {
	return utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
}

func appendSurrogate(b []byte, r rune) []byte {
	return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
}

func isASCII[S string | []byte](s S) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (w *hessianWriter) binary(p []byte) {
	for len(p) > 0x7fff {
		w.b = append(w.b, 'A', 0x7f, 0xff)
		w.b = append(w.b, p[:0x7fff]...)
		p = p[0x7fff:]
	}
	switch {
	case len(p) < 16:
		w.b = append(w.b, byte(0x20+len(p)))
	case len(p) < 1024:
		w.b = append(w.b, byte(0x34+len(p)>>8), byte(len(p)))
	default:
		w.b = append(w.b, 'B', byte(len(p)>>8), byte(len(p)))
	}
	w.b = append(w.b, p...)
}

func (w *hessianWriter) date(t time.Time) {
	w.b = append(w.b, 0x4a)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(t.UnixMilli()))
}

// listStart begins a fixed-length list of n items of type typ ("" for
// an untyped list).
func (w *hessianWriter) listStart(typ string, n int) {
	if typ == "" {
		if n < 8 {
			w.b = append(w.b, byte(0x78+n))
			return
		}
		w.b = append(w.b, 0x58)
		w.int(int32(n))
		return
	}
	if n < 8 {
		w.b = append(w.b, byte(0x70+n))
		w.string(typ)
		return
	}
	w.b = append(w.b, 'V')
	w.string(typ)
	w.int(int32(n))
}

// object begins an object of class cls whose fields are written next, in
// the order of fields; it writes the class definition the first time.
func (w *hessianWriter) object(cls string, fields []string) {
	idx := -1
	for i, c := range w.classes {
		if c.name == cls && slices.Equal(c.fields, fields) {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = len(w.classes)
		w.classes = append(w.classes, writtenClass{cls, fields})
		w.b = append(w.b, 'C')
		w.string(cls)
		w.int(int32(len(fields)))
		for _, f := range fields {
			w.string(f)
		}
	}
	if idx < 16 {
		w.b = append(w.b, byte(0x60+idx))
		return
	}
	w.b = append(w.b, 'O')
	w.int(int32(idx))
}

// The fields of the classes value writes itself.
var (
	decimalFields    = []string{"value"}
	bigIntegerFields = []string{"signum", "mag", "firstNonzeroIntNum", "lowestSetBit", "bitLength", "bitCount"}
	enumFields       = []string{"name"}
)

// value writes one value produced by toHessian.
func (w *hessianWriter) value(v any, depth int) error {
	if depth > maxHessianDepth {
		return fmt.Errorf("argument nests deeper than %d levels", maxHessianDepth)
	}
	switch x := v.(type) {
	case nil:
		w.null()
	case bool:
		w.bool(x)
	case int8:
		w.int(int32(x))
	case int16:
		w.int(int32(x))
	case int32:
		w.int(x)
	case int64:
		w.long(x)
	case float32:
		w.float(x)
	case float64:
		w.double(x)
	case string:
		w.string(x)
	case []byte:
		w.binary(x)
	case time.Time:
		w.date(x)
	case *big.Decimal:
		if x == nil {
			w.null()
			return nil
		}
		w.object("java.math.BigDecimal", decimalFields)
		w.string(x.String())
	case *big.Integer:
		if x == nil {
			w.null()
			return nil
		}
		// hessian2's form: signum, the magnitude as longs, and Java 8's
		// deprecated cached fields as zeros.
		signum, mag := x.GetSignAndMag()
		w.object("java.math.BigInteger", bigIntegerFields)
		w.int(signum)
		w.listStart("[long", len(mag))
		for _, m := range mag {
			w.long(int64(m))
		}
		for range 4 {
			w.long(0)
		}
	case []int16:
		w.listStart("[short", len(x))
		for _, e := range x {
			w.int(int32(e))
		}
	case []int32:
		w.listStart("[int", len(x))
		for _, e := range x {
			w.int(e)
		}
	case []int64:
		w.listStart("[long", len(x))
		for _, e := range x {
			w.long(e)
		}
	case []float32:
		w.listStart("[float", len(x))
		for _, e := range x {
			w.float(e)
		}
	case []float64:
		w.listStart("[double", len(x))
		for _, e := range x {
			w.double(e)
		}
	case []bool:
		w.listStart("[boolean", len(x))
		for _, e := range x {
			w.bool(e)
		}
	case []string:
		w.listStart("[string", len(x))
		for _, e := range x {
			w.string(e)
		}
	case []any:
		w.listStart("", len(x))
		for _, e := range x {
			if err := w.value(e, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		if cls, ok := x[hessian.ClassKey].(string); ok {
			// An object of a named class (an enum constant).
			fields := make([]string, 0, len(x)-1)
			for k := range x {
				if k != hessian.ClassKey {
					fields = append(fields, k)
				}
			}
			sort.Strings(fields)
			w.object(cls, fields)
			for _, f := range fields {
				if err := w.value(x[f], depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		w.b = append(w.b, 'H')
		for k, e := range x {
			w.string(k)
			if err := w.value(e, depth+1); err != nil {
				return err
			}
		}
		w.b = append(w.b, 'Z')
	case map[any]any:
		w.b = append(w.b, 'H')
		for k, e := range x {
			if err := w.value(k, depth+1); err != nil {
				return err
			}
			if err := w.value(e, depth+1); err != nil {
				return err
			}
		}
		w.b = append(w.b, 'Z')
	default:
		return fmt.Errorf("argument holds a value of unsupported type %T", v)
	}
	return nil
}
