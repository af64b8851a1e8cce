// Package generic is rpcbridge's protocol-neutral core: the call and result
// that travel from the HTTP front end to a protocol adapter, the Client and
// Protocol interfaces every adapter implements, the one error type, and JSON
// helpers that keep 64-bit integers exact.
//
// Nothing here imports a protocol library; adapters under protocols/<p>
// import this package, never the other way round.
package generic

import (
	"context"
	"time"
)

// Call is one request to a backend, already routed to a service and method.
type Call struct {
	// Service is the service name as the backend knows it (gRPC
	// "demo.v1.PeopleService", a Dubbo interface, a Thrift service, a Tars
	// servant). Empty means the adapter's configured service.
	Service string
	// Method is the method (API) name as the backend knows it.
	Method string
	// Body is the request as raw JSON: an object keyed by field or argument
	// name. Empty means {}. It is never decoded into float64.
	Body []byte
	// Params are path and query parameters to bind into top-level request
	// fields (or arguments) of the same name, converted by that field's
	// declared type. See BindParams.
	Params []Param
	// Meta holds forwarded headers (lower-case names). They become gRPC
	// metadata, Dubbo attachments, or the Tars context.
	Meta map[string]string
	// OnMessage receives each reply message of a server-streaming method, as
	// JSON, in order. When it is nil a streaming method is answered with
	// INVALID_ARGUMENT. Returning an error from OnMessage cancels the call.
	OnMessage func(msg []byte) error
	// NextMessage, when set, yields the request messages of a client- or
	// bidirectional-streaming call as they arrive, one JSON message per
	// call, and io.EOF once the caller has ended its half of the stream;
	// Body is then unused. It honours ctx: a caller that sends nothing
	// more cannot hold the call past ctx. An adapter calls it from one
	// goroutine at a time and never after Invoke returns. A method that
	// takes one request message answers INVALID_ARGUMENT when it is set.
	NextMessage func(ctx context.Context) ([]byte, error)
}

// Param is one path or query parameter to bind by name.
type Param struct {
	Name  string
	Value string
	// Path is true for a path parameter: a path parameter that names no
	// field is an error, an unknown query parameter is ignored.
	Path bool
}

// Result is a successful reply.
type Result struct {
	// Body is the reply as JSON. Nil when Streamed or NoReply.
	Body []byte
	// Meta holds reply headers the adapter exposes (gRPC response headers
	// and trailers, for example).
	Meta map[string]string
	// Streamed reports that the reply messages went through Call.OnMessage.
	Streamed bool
	// NoReply reports a one-way call: the backend sends no reply (HTTP 202).
	NoReply bool
}

// Target is one backend instance to dial.
type Target struct {
	// Address is host:port.
	Address string
	// Metadata is the instance's metadata from the registry (may be nil).
	Metadata map[string]string
}

// Client is a connection (or a small pool) to one backend instance for one
// configured service. It is long-lived and shared: Invoke may be called
// concurrently and never dials per call.
type Client interface {
	// Invoke performs one call. The deadline comes from ctx. The result is
	// non-nil if and only if err is nil; errors are *Error (see AsError).
	Invoke(ctx context.Context, c *Call) (*Result, error)
	// Describe returns the service's schema as the adapter knows it (from
	// reflection, an IDL, or configuration). Adapters with no schema return
	// an *Error with code UNIMPLEMENTED.
	Describe(ctx context.Context) (*ServiceSchema, error)
	// Close releases the connections. Calls in flight may fail.
	Close() error
}

// Protocol creates Clients for one configured service: one Protocol value
// per service, one Client per instance.
type Protocol interface {
	// Name is the protocol's name as written in YAML ("grpc", "thrift", ...).
	Name() string
	// Dial connects to one instance. It may return before the connection is
	// up (gRPC connects lazily); it must not block past ctx.
	Dial(ctx context.Context, t Target) (Client, error)
}

// Deadline returns ctx's deadline, or the zero time when it has none.
func Deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// HealthChecker is implemented by clients whose protocol has its own health
// check (gRPC's health protocol). CheckHealth returns nil when the instance
// serves. The gateway's active health check uses it, and a TCP connect for
// clients that do not implement it.
type HealthChecker interface {
	CheckHealth(ctx context.Context) error
}
