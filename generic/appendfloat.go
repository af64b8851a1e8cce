package generic

import (
	"math"
	"strconv"
)

// AppendFloat appends f as JSON, in the form protojson and encoding/json
// write: the shortest decimal that reads back as the same float of the
// given bit size (32 or 64), without an exponent for magnitudes in
// [1e-6, 1e21) and with a short one (1e-7, 1e+21) outside; NaN and the
// infinities, which JSON numbers cannot hold, as the strings "NaN",
// "Infinity" and "-Infinity".
func AppendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	if bits != 32 {
		bits = 64
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 {
		if bits == 64 && (a < 1e-6 || a >= 1e21) || bits == 32 && (float32(a) < 1e-6 || float32(a) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
