package generic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Code is a machine-readable error code. The gRPC status names are used
// where one fits; a few gateway codes are added.
type Code string

// Error codes. gRPC's names, then rpcbridge's own.
const (
	CodeCanceled           Code = "CANCELLED"
	CodeUnknown            Code = "UNKNOWN"
	CodeInvalidArgument    Code = "INVALID_ARGUMENT"
	CodeDeadlineExceeded   Code = "DEADLINE_EXCEEDED"
	CodeNotFound           Code = "NOT_FOUND"
	CodeAlreadyExists      Code = "ALREADY_EXISTS"
	CodePermissionDenied   Code = "PERMISSION_DENIED"
	CodeResourceExhausted  Code = "RESOURCE_EXHAUSTED"
	CodeFailedPrecondition Code = "FAILED_PRECONDITION"
	CodeAborted            Code = "ABORTED"
	CodeOutOfRange         Code = "OUT_OF_RANGE"
	CodeUnimplemented      Code = "UNIMPLEMENTED"
	CodeInternal           Code = "INTERNAL"
	CodeUnavailable        Code = "UNAVAILABLE"
	CodeDataLoss           Code = "DATA_LOSS"
	CodeUnauthenticated    Code = "UNAUTHENTICATED"

	// CodeBodyTooLarge: the request body exceeds server.max_body_bytes.
	CodeBodyTooLarge Code = "BODY_TOO_LARGE"
	// CodeBackendException: the backend answered with a declared or
	// business exception (a Java exception, a Thrift exception struct).
	CodeBackendException Code = "BACKEND_EXCEPTION"
	// CodeBackendError: the backend failed in a way that is not the
	// caller's fault (framework error, protocol error, bad reply).
	CodeBackendError Code = "BACKEND_ERROR"
	// CodeMethodNotAllowed: a route matched the path but not the HTTP method.
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	// CodeUnsupportedMediaType: the request body's Content-Type is not JSON.
	CodeUnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	// CodeHeadersTooLarge: the request's header section is too large.
	CodeHeadersTooLarge Code = "HEADERS_TOO_LARGE"
	// CodeOverloaded: the service has max_concurrent calls in flight.
	CodeOverloaded Code = "OVERLOADED"
	// CodeCircuitOpen: the service's circuit breaker is open.
	CodeCircuitOpen Code = "CIRCUIT_OPEN"
)

// HTTPStatus maps a code to the HTTP status a client sees. It is one plain
// table so that it can be read beside the contract in CONFIG.md.
func HTTPStatus(c Code) int {
	switch c {
	case CodeInvalidArgument, CodeOutOfRange, CodeFailedPrecondition:
		return 400
	case CodeUnauthenticated:
		return 401
	case CodePermissionDenied:
		return 403
	case CodeNotFound:
		return 404
	case CodeMethodNotAllowed:
		return 405
	case CodeAlreadyExists, CodeAborted:
		return 409
	case CodeBodyTooLarge:
		return 413
	case CodeUnsupportedMediaType:
		return 415
	case CodeHeadersTooLarge:
		return 431
	case CodeResourceExhausted:
		return 429
	case CodeCanceled:
		return 499
	case CodeUnimplemented:
		return 501
	case CodeBackendException, CodeBackendError, CodeDataLoss:
		return 502
	case CodeUnavailable, CodeOverloaded, CodeCircuitOpen:
		return 503
	case CodeDeadlineExceeded:
		return 504
	case CodeInternal, CodeUnknown:
		return 500
	default:
		return 500
	}
}

// Error is rpcbridge's one error type. Message is shown to the client; Err
// is the internal cause, logged but never put in a reply body.
type Error struct {
	Code    Code
	Message string
	// Protocol, Service and Method say where the error happened; the
	// gateway fills the ones an adapter left empty.
	Protocol string
	Service  string
	Method   string
	// Call names the call of a composed route that failed.
	Call string
	// Exception is the backend exception's type name (Java class, Thrift
	// exception struct), for CodeBackendException.
	Exception string
	// Fields are the exception's fields as a JSON object, when it has any.
	Fields json.RawMessage
	// Details are extra JSON values (gRPC google.rpc.Status details whose
	// types resolve, for example).
	Details []json.RawMessage
	// BackendCode is the backend's own numeric status or return code
	// (gRPC code, Tars iRet), 0 when none.
	BackendCode int
	// Status overrides the HTTP status derived from Code (0: derive).
	Status int
	// Meta holds reply headers the adapter exposes with the error, as
	// Result.Meta does with a reply (a Dubbo exception's attachments).
	Meta map[string]string
	// Err is the cause, for logs and errors.Is/As; never shown to clients.
	Err error
}

// Errorf returns an *Error with the code and a formatted message. A %w verb
// in format sets Err.
func Errorf(code Code, format string, args ...any) *Error {
	e := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: e.Error(), Err: errors.Unwrap(e)}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil && e.Err.Error() != e.Message {
		return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status the client sees for e.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return HTTPStatus(e.Code)
}

// CodeOf returns err's code: the code of the first *Error in its chain,
// DEADLINE_EXCEEDED or CANCELLED for context errors, UNKNOWN otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}

// AsError returns err as an *Error: the first one in its chain, or a new
// one wrapping err (context errors keep their meaning; anything else is
// INTERNAL with a generic message, so that internals never leak).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeDeadlineExceeded, Message: "deadline exceeded", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeCanceled, Message: "request canceled", Err: err}
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// errorBody is the JSON shape of every error reply.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code        Code              `json:"code"`
	Message     string            `json:"message"`
	Protocol    string            `json:"protocol,omitempty"`
	Service     string            `json:"service,omitempty"`
	Method      string            `json:"method,omitempty"`
	Exception   string            `json:"exception,omitempty"`
	Fields      json.RawMessage   `json:"fields,omitempty"`
	Details     []json.RawMessage `json:"details,omitempty"`
	BackendCode int               `json:"backend_code,omitempty"`
	Call        string            `json:"call,omitempty"`
}

// MarshalBody renders e as the JSON error body clients receive:
// {"error":{"code":...,"message":...,...}}.
func (e *Error) MarshalBody() []byte {
	b, err := json.Marshal(errorBody{Error: errorJSON{
		Code: e.Code, Message: clipText(e.Message, maxMessageBytes), Protocol: e.Protocol, Service: Clip(e.Service),
		Method: Clip(e.Method), Exception: e.Exception, Fields: validRaw(e.Fields),
		Details: validRaws(e.Details), BackendCode: e.BackendCode, Call: Clip(e.Call),
	}})
	if err != nil {
		// Only reachable through invalid raw JSON, which validRaw drops.
		return []byte(`{"error":{"code":"INTERNAL","message":"error body could not be encoded"}}`)
	}
	return b
}

func validRaw(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || !json.Valid(r) {
		return nil
	}
	return r
}

func validRaws(rs []json.RawMessage) []json.RawMessage {
	var out []json.RawMessage
	for _, r := range rs {
		if v := validRaw(r); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// MaxQuoted is the most bytes of client input an error message or a log
// line quotes.
const MaxQuoted = 256

// maxMessageBytes caps a whole error message, whatever it quotes.
const maxMessageBytes = 2048

// Clip returns s cut to at most MaxQuoted bytes (on a UTF-8 boundary),
// with "..." appended when it was cut. Use it on client input that goes
// into error messages and logs.
func Clip(s string) string { return clipText(s, MaxQuoted) }

// ClipTo is Clip with a limit of n bytes.
func ClipTo(s string, n int) string { return clipText(s, n) }

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-4 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// grpcNumbers are the gRPC status numbers of the codes named after them,
// and the closest one for rpcbridge's own codes.
var grpcNumbers = map[Code]int{
	CodeCanceled: 1, CodeUnknown: 2, CodeInvalidArgument: 3, CodeDeadlineExceeded: 4, CodeNotFound: 5,
	CodeAlreadyExists: 6, CodePermissionDenied: 7, CodeResourceExhausted: 8, CodeFailedPrecondition: 9,
	CodeAborted: 10, CodeOutOfRange: 11, CodeUnimplemented: 12, CodeInternal: 13, CodeUnavailable: 14,
	CodeDataLoss: 15, CodeUnauthenticated: 16,
	CodeBodyTooLarge: 8, CodeHeadersTooLarge: 8, CodeOverloaded: 14, CodeCircuitOpen: 14,
	CodeMethodNotAllowed: 12, CodeUnsupportedMediaType: 3, CodeBackendError: 13, CodeBackendException: 2,
}

// GRPCStatusCode is the gRPC status number for e: a gRPC backend's own
// status when it came from one, else the number of e's code (UNKNOWN, 2,
// for a code gRPC has no counterpart of).
func GRPCStatusCode(e *Error) int {
	if e.Protocol == "grpc" && e.BackendCode > 0 && e.BackendCode <= 16 {
		return e.BackendCode
	}
	if n, ok := grpcNumbers[e.Code]; ok {
		return n
	}
	return 2
}
