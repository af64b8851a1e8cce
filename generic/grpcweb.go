package generic

import (
	"context"
	"sort"
	"strconv"
	"strings"
)

// gRPC-Web (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md)
// is how browsers call gRPC: the gateway takes it at the HTTP edge and
// passes its messages through to a backend unchanged, without JSON. The
// gateway speaks the HTTP side (detection, framing, trailers, CORS); a
// protocol whose clients can carry the messages to a backend implements
// GRPCWebService and GRPCWebProxy. The wire names live here so that the
// gateway names no backend protocol.

// GRPCWeb names the protocol in messages to clients.
const GRPCWeb = "gRPC-Web"

// gRPC-Web header and trailer names.
const (
	GRPCWebStatus  = "grpc-status"
	GRPCWebMessage = "grpc-message"
	GRPCWebTimeout = "grpc-timeout"
)

// gRPC-Web content types: binary protobuf frames, or the same frames as
// base64 text.
const (
	GRPCWebProto     = "application/grpc-web+proto"
	GRPCWebBare      = "application/grpc-web"
	GRPCWebText      = "application/grpc-web-text"
	GRPCWebTextProto = "application/grpc-web-text+proto"
)

// GRPCWebContentType reports whether ct, a Content-Type header, is one
// of gRPC-Web's protobuf content types (any case, with parameters); it
// returns the media type in lower case and whether the body is base64
// text.
func GRPCWebContentType(ct string) (mediaType string, text, ok bool) {
	if len(ct) < len(GRPCWebBare) {
		return "", false, false
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	for _, t := range [...]string{GRPCWebBare, GRPCWebProto, GRPCWebText, GRPCWebTextProto} {
		if strings.EqualFold(mt, t) {
			return t, t == GRPCWebText || t == GRPCWebTextProto, true
		}
	}
	return "", false, false
}

// GRPCWebRequestHeaders are the request headers gRPC-Web clients send,
// which a CORS preflight must allow.
func GRPCWebRequestHeaders() []string {
	return []string{"Content-Type", "X-Grpc-Web", "X-User-Agent", "Grpc-Timeout"}
}

// GRPCWebExposedHeaders are the reply headers a browser must let a
// gRPC-Web client read (a trailers-only reply's status).
func GRPCWebExposedHeaders() []string {
	return []string{"Grpc-Status", "Grpc-Message"}
}

// GRPCWebService is implemented by a service's protocol configuration (a
// mapping.ProtocolConfig) whose clients implement GRPCWebProxy: only such
// services take gRPC-Web calls.
type GRPCWebService interface {
	// GRPCWebPath is the backend path of method ("/pkg.Service/Method"):
	// a plain method name of the configured service, or one qualified by
	// its service.
	GRPCWebPath(method string) string
}

// GRPCWebProxy is implemented by a Client that passes gRPC-Web calls'
// messages to its instance as they are.
type GRPCWebProxy interface {
	// ProxyGRPCWeb makes call: it sends the messages call.Next yields,
	// then hands each reply message to call.OnMessage until the backend
	// ends the call, and sets call.Trailer. A failed call returns an
	// *Error whose BackendCode is the gRPC status code it ended with
	// (the backend's, or DEADLINE_EXCEEDED / CANCELLED for the caller's
	// deadline and cancellation); an error from call.Next or
	// call.OnMessage is returned as is.
	ProxyGRPCWeb(ctx context.Context, call *GRPCWebCall) error
}

// GRPCWebCall is one gRPC-Web call on its way to a backend.
type GRPCWebCall struct {
	// Path is the backend method, "/pkg.Service/Method".
	Path string
	// Meta holds forwarded headers (lower-case names), as in Call.
	Meta map[string]string
	// Next yields the request messages in order and io.EOF after the
	// last; it honours ctx. Another error (a malformed frame) ends the
	// call with that error.
	Next func(ctx context.Context) ([]byte, error)
	// OnHeader receives the backend's response metadata once, before the
	// first message or, when there is none, before the call returns;
	// values of "-bin" names are base64 (unpadded).
	OnHeader func(md map[string][]string)
	// OnMessage receives each reply message's bytes, valid only during
	// the call. An error cancels the backend call.
	OnMessage func(msg []byte) error
	// Trailer is the backend's trailing metadata, set by the proxy when
	// the backend ended the call (also with an error status); "-bin"
	// values are base64 (unpadded).
	Trailer map[string][]string
}

// GRPCStatus is the gRPC status code for a failed call: the one the
// backend (or the gRPC client) ended it with when known, else the code
// that matches e's.
func GRPCStatus(e *Error) int {
	if e.BackendCode > 0 && e.BackendCode <= 16 {
		return e.BackendCode
	}
	switch e.Code {
	case CodeCanceled:
		return 1
	case CodeUnknown, CodeBackendException:
		return 2
	case CodeInvalidArgument:
		return 3
	case CodeDeadlineExceeded:
		return 4
	case CodeNotFound:
		return 5
	case CodeAlreadyExists:
		return 6
	case CodePermissionDenied:
		return 7
	case CodeResourceExhausted, CodeBodyTooLarge, CodeHeadersTooLarge:
		return 8
	case CodeFailedPrecondition:
		return 9
	case CodeAborted:
		return 10
	case CodeOutOfRange:
		return 11
	case CodeUnimplemented, CodeMethodNotAllowed:
		return 12
	case CodeInternal, CodeBackendError:
		return 13
	case CodeUnavailable, CodeOverloaded, CodeCircuitOpen:
		return 14
	case CodeDataLoss:
		return 15
	case CodeUnauthenticated:
		return 16
	case CodeUnsupportedMediaType:
		return 3
	}
	return 2
}

// AppendGRPCWebTrailers appends a gRPC-Web trailer block: grpc-status,
// grpc-message (percent-encoded, left out when empty), then md's entries
// in name order, one "name: value\r\n" line per value. Names are
// lower-cased; the status names and values that could break a line are
// left out.
func AppendGRPCWebTrailers(dst []byte, code int, msg string, md map[string][]string) []byte {
	dst = append(dst, GRPCWebStatus+": "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, '\r', '\n')
	if msg != "" {
		dst = append(dst, GRPCWebMessage+": "...)
		dst = AppendGRPCMessage(dst, msg)
		dst = append(dst, '\r', '\n')
	}
	if len(md) == 0 {
		return dst
	}
	names := make([]string, 0, len(md))
	for k := range md {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		lk := strings.ToLower(k)
		if lk == GRPCWebStatus || lk == GRPCWebMessage || !headerName(lk) {
			continue
		}
		for _, v := range md[k] {
			if strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			dst = append(dst, lk...)
			dst = append(dst, ':', ' ')
			dst = append(dst, v...)
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}

// headerName reports whether s is a non-empty HTTP header name.
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// AppendGRPCMessage appends msg percent-encoded as gRPC's grpc-message
// carries it: bytes outside printable ASCII, and '%', as %XX.
func AppendGRPCMessage(dst []byte, msg string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < ' ' || c > '~' || c == '%' {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
