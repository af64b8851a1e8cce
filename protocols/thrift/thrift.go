// Package thrift is rpcbridge's Thrift adapter: it parses a Thrift IDL at
// run time (with includes, typedefs across files and extended services),
// compiles it once into a descriptor tree, and turns HTTP/JSON calls into
// Thrift calls written field by field with Apache Thrift's TProtocol
// (binary or compact; framed, buffered or THeader; optionally
// multiplexed), over a small pool of connections per backend instance.
// Over THeader (Apache Thrift's THeaderTransport) each call carries the
// call's Meta (forwarded headers, traceparent and tracestate) as headers.
//
// JSON mapping: the request body is an object keyed by argument name;
// structs are objects keyed by field name; unions take exactly one field;
// i64 beyond 2^53 is written as a string (numbers and strings are accepted);
// binary is base64; enums are written by name (names or numbers accepted);
// sets are arrays; maps with non-string keys carry their keys as strings.
package thrift

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// Options configure one Thrift service.
type Options struct {
	// IDL is the path of the .thrift file that declares Service.
	IDL string
	// IncludeDirs are searched for included files after the including
	// file's own directory.
	IncludeDirs []string
	// Service is the service name in the IDL; it may extend others, whose
	// functions it serves too. "inc.Name" names a service in an include.
	Service string
	// Protocol is "binary" (default) or "compact".
	Protocol string
	// Transport is "framed" (default), "buffered" or "header" (Apache
	// Thrift's THeader, wrapping Protocol; each call's Meta is sent as
	// its headers).
	Transport string
	// Multiplexed is the name the service is registered under on a
	// TMultiplexedProcessor; "" means the server is not multiplexed.
	Multiplexed string
	// PoolSize is the most connections (and so concurrent calls) per
	// instance. Default 16.
	PoolSize int
	// IdleTimeout closes connections unused for this long. Default 60s.
	IdleTimeout time.Duration
	// DialTimeout bounds connecting. Default 2s.
	DialTimeout time.Duration
	// ExceptionStatus maps a declared exception's type name to the HTTP
	// status the client sees (default 502).
	ExceptionStatus map[string]int
	// MaxFrameSize bounds a frame or message, in bytes. Default 16 MiB.
	MaxFrameSize int
	// Logger receives debug logs about connections; nil discards them.
	Logger *slog.Logger
	// TLS, when set, is the client TLS configuration connections are made
	// with; the handshake completes within DialTimeout and ServerName
	// defaults to the instance's host. Nil dials in clear.
	TLS *tls.Config

	maxFrame int
}

// Protocol is the Thrift adapter for one configured service. It is
// immutable after New and safe for concurrent use.
type Protocol struct {
	opts    Options
	comp    *compiled
	newPro  func(thrift.TTransport) thrift.TProtocol
	tconf   *thrift.TConfiguration
	methods map[string]*method
}

// New parses and compiles the IDL. A file that does not parse gives an
// error "file:line:col: reason"; an unknown service or protocol setting
// names the value and what is accepted.
func New(o Options) (*Protocol, error) {
	if o.IDL == "" {
		return nil, errors.New("thrift: idl is required")
	}
	if o.Service == "" {
		return nil, errors.New("thrift: service is required")
	}
	switch o.Protocol {
	case "":
		o.Protocol = "binary"
	case "binary", "compact":
	default:
		return nil, fmt.Errorf("thrift: protocol %q is not supported (want binary or compact)", o.Protocol)
	}
	switch o.Transport {
	case "":
		o.Transport = "framed"
	case "framed", "buffered", "header":
	default:
		return nil, fmt.Errorf("thrift: transport %q is not supported (want framed, buffered or header)", o.Transport)
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 16
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = 16 << 20
	}
	o.maxFrame = o.MaxFrameSize
	comp, err := compile(&o)
	if err != nil {
		return nil, err
	}
	p := &Protocol{opts: o, comp: comp, methods: comp.methods}
	p.tconf = &thrift.TConfiguration{MaxMessageSize: int32(o.MaxFrameSize), MaxFrameSize: int32(o.MaxFrameSize)}
	if o.Protocol == "compact" {
		p.newPro = func(t thrift.TTransport) thrift.TProtocol { return thrift.NewTCompactProtocolConf(t, p.tconf) }
		p.tconf.THeaderProtocolID = thrift.THeaderProtocolIDPtrMust(thrift.THeaderProtocolCompact)
	} else {
		p.newPro = func(t thrift.TTransport) thrift.TProtocol { return thrift.NewTBinaryProtocolConf(t, p.tconf) }
		p.tconf.THeaderProtocolID = thrift.THeaderProtocolIDPtrMust(thrift.THeaderProtocolBinary)
	}
	return p, nil
}

// Name is "thrift".
func (p *Protocol) Name() string { return "thrift" }

// Schema returns the service schema compiled from the IDL.
func (p *Protocol) Schema() *generic.ServiceSchema { return p.comp.schema }

// Dial returns a client for one instance. Connections open lazily, on the
// first call, and are pooled.
func (p *Protocol) Dial(ctx context.Context, t generic.Target) (generic.Client, error) {
	if _, _, err := net.SplitHostPort(t.Address); err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "thrift: instance address %q: want host:port", t.Address)
	}
	return &Client{p: p, pool: newPool(t.Address, &p.opts, p.newStack)}, nil
}

// newStack (re)builds cn's protocol stack over its connTransport: the
// configured protocol, over Apache Thrift's THeaderTransport when the
// transport is header. A rebuilt THeaderTransport drops a half-written
// message, which the library offers no other way to discard.
//
// The inner protocol sits directly on the THeaderTransport rather than
// behind THeaderProtocol, whose WriteMessageEnd flushes: the message must
// reach the socket only in roundTrip's Flush, once the call's deadline and
// cancellation are armed.
func (p *Protocol) newStack(cn *conn) {
	var t thrift.TTransport = cn.trans
	cn.hdr, cn.hdrSet = nil, false
	if p.opts.Transport == "header" {
		cn.hdr = thrift.NewTHeaderTransportConf(cn.trans, p.tconf)
		t = cn.hdr
	}
	cn.proto = p.newPro(t)
	cn.enc.p, cn.dec.p = cn.proto, cn.proto
}

// Client calls one backend instance. Invoke may be called concurrently.
type Client struct {
	p    *Protocol
	pool *pool
}

// Describe returns the service's methods as the IDL declares them.
func (c *Client) Describe(context.Context) (*generic.ServiceSchema, error) {
	return c.p.comp.schema, nil
}

// Close closes the pooled connections; calls in flight finish on theirs.
func (c *Client) Close() error {
	c.pool.close()
	return nil
}

// Invoke performs one call: it binds path and query parameters, encodes the
// JSON arguments, sends them on a pooled connection and decodes the reply.
func (c *Client) Invoke(ctx context.Context, call *generic.Call) (*generic.Result, error) {
	res, err := c.invoke(ctx, call)
	if err != nil {
		e := generic.AsError(err)
		if e.Protocol == "" {
			e.Protocol = "thrift"
		}
		if e.Service == "" {
			e.Service = c.p.comp.service
		}
		if e.Method == "" {
			e.Method = call.Method
		}
		return nil, e
	}
	return res, nil
}

func (c *Client) invoke(ctx context.Context, call *generic.Call) (*generic.Result, error) {
	m := c.p.methods[call.Method]
	if m == nil {
		return nil, generic.Errorf(generic.CodeNotFound, "method %q not found in thrift service %s", generic.Clip(call.Method), c.p.comp.service)
	}
	body := call.Body
	if len(call.Params) > 0 {
		b, err := generic.BindParams(body, call.Params, m.schema.Input)
		if err != nil {
			return nil, err
		}
		body = b
	}
	if err := ctx.Err(); err != nil {
		return nil, c.ioError(ctx, err, "call")
	}
	cn, err := c.pool.get(ctx)
	if err != nil {
		return nil, c.ioError(ctx, err, "connect to")
	}
	res, healthy, err := c.roundTrip(ctx, cn, m, body, call.Meta)
	c.pool.put(cn, healthy)
	return res, err
}

// roundTrip runs one call on cn. healthy reports whether cn may be reused.
// meta is sent as the message's headers when the transport is header.
func (c *Client) roundTrip(ctx context.Context, cn *conn, m *method, body []byte, meta map[string]string) (res *generic.Result, healthy bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, healthy = nil, false
			err = &generic.Error{Code: generic.CodeBackendError, Message: "cannot decode the backend's reply", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	cn.enc.ctx, cn.dec.ctx = ctx, ctx
	cn.seq++
	typ := thrift.CALL
	if m.oneway {
		typ = thrift.ONEWAY
	}
	cn.setHeaders(meta)
	if err := cn.proto.WriteMessageBegin(ctx, m.wireName, typ, cn.seq); err != nil {
		return nil, false, err
	}
	if err := cn.enc.writeArgs(m.args, body); err != nil {
		// Nothing reached the socket; drop the half-written message and the
		// protocol's state, keep the connection.
		cn.trans.resetWrite()
		c.p.newStack(cn)
		return nil, true, inputErr(err)
	}
	if err := cn.proto.WriteMessageEnd(ctx); err != nil {
		return nil, false, err
	}

	// The deadline comes from ctx; a cancel without one interrupts the
	// socket through an expired deadline.
	if dl, ok := ctx.Deadline(); ok {
		if err := cn.trans.nc.SetDeadline(dl); err != nil {
			return nil, false, c.ioError(ctx, err, "write to")
		}
		cn.deadline = true
	} else if cn.deadline {
		if err := cn.trans.nc.SetDeadline(time.Time{}); err != nil {
			return nil, false, c.ioError(ctx, err, "write to")
		}
		cn.deadline = false
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = cn.trans.nc.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				healthy = false
			}
		}()
	}
	if err := cn.proto.Flush(ctx); err != nil {
		return nil, false, c.ioError(ctx, err, "write to")
	}
	if m.oneway {
		return &generic.Result{NoReply: true}, true, nil
	}

	if cn.hdr != nil {
		if err := cn.trans.expectHeaderFrame(); err != nil {
			return nil, false, c.headerError(ctx, cn, err)
		}
		cn.headerSeen = true
	}
	name, mt, seq, err := cn.proto.ReadMessageBegin(ctx)
	if err != nil {
		return nil, false, c.ioError(ctx, err, "read from")
	}
	if seq != cn.seq {
		return nil, false, &generic.Error{Code: generic.CodeBackendError, Message: "backend reply is out of sequence",
			Err: fmt.Errorf("reply %q seqid %d, want %d", name, seq, cn.seq)}
	}
	switch mt {
	case thrift.EXCEPTION:
		ae := thrift.NewTApplicationException(0, "")
		if err := ae.Read(ctx, cn.proto); err != nil {
			return nil, false, c.ioError(ctx, err, "read from")
		}
		if err := c.endReply(ctx, cn); err != nil {
			return nil, false, err
		}
		return nil, true, appException(ae)
	case thrift.REPLY:
	default:
		return nil, false, &generic.Error{Code: generic.CodeBackendError, Message: "backend sent an unexpected message",
			Err: fmt.Errorf("message type %d", mt)}
	}
	result, exc, excName, err := c.readResult(cn, m)
	if err != nil {
		var re *replyError
		if errors.As(err, &re) {
			return nil, false, &generic.Error{Code: generic.CodeBackendError, Message: "backend reply does not match the idl: " + re.msg, Err: err}
		}
		return nil, false, c.ioError(ctx, err, "read from")
	}
	if err := c.endReply(ctx, cn); err != nil {
		return nil, false, err
	}
	if excName != "" {
		e := &generic.Error{Code: generic.CodeBackendException, Message: "backend raised " + excName,
			Exception: excName, Fields: exc}
		if st, ok := c.p.opts.ExceptionStatus[excName]; ok {
			e.Status = st
		}
		return nil, true, e
	}
	if result == nil {
		if !m.void {
			return nil, true, &generic.Error{Code: generic.CodeBackendError, Message: "backend returned no result"}
		}
		result = []byte("{}")
	}
	return &generic.Result{Body: result}, true, nil
}

func (c *Client) endReply(ctx context.Context, cn *conn) error {
	if err := cn.proto.ReadMessageEnd(ctx); err != nil {
		return c.ioError(ctx, err, "read from")
	}
	if err := cn.trans.endReply(); err != nil {
		return c.ioError(ctx, err, "read from")
	}
	if cn.hdr != nil {
		// Drop what is left of the THeader frame, so that the next reply
		// starts at a frame.
		if n := cn.hdr.RemainingBytes(); n != thrift.UnknownRemainingBytes && n > 0 {
			if _, err := io.CopyN(io.Discard, cn.hdr, int64(n)); err != nil {
				return c.ioError(ctx, err, "read from")
			}
		}
	}
	return nil
}

// readResult reads the result struct: field 0 is the return value, the
// others are declared exceptions.
func (c *Client) readResult(cn *conn, m *method) (result, exc []byte, excName string, err error) {
	d := &cn.dec
	if _, err := d.p.ReadStructBegin(d.ctx); err != nil {
		return nil, nil, "", err
	}
	for {
		_, typ, id, err := d.p.ReadFieldBegin(d.ctx)
		if err != nil {
			return nil, nil, "", err
		}
		if typ == thrift.STOP {
			break
		}
		f := m.result.field(id)
		if f == nil || f.typ.wire != typ {
			if err := d.p.Skip(d.ctx, typ); err != nil {
				return nil, nil, "", err
			}
		} else {
			d.out = d.out[:0]
			if err := d.value(f.typ, 1); err != nil {
				return nil, nil, "", err
			}
			b := make([]byte, len(d.out))
			copy(b, d.out)
			if id == 0 {
				result = b
			} else {
				exc, excName = b, f.typ.name
			}
		}
		if err := d.p.ReadFieldEnd(d.ctx); err != nil {
			return nil, nil, "", err
		}
	}
	if cap(d.out) > 1<<20 {
		d.out = nil
	}
	return result, exc, excName, d.p.ReadStructEnd(d.ctx)
}

func inputErr(err error) error {
	var ie *inputError
	var je *generic.JSONError
	switch {
	case errors.As(err, &ie):
		return &generic.Error{Code: generic.CodeInvalidArgument, Message: ie.Error()}
	case errors.As(err, &je):
		return generic.InvalidJSON(je)
	}
	return &generic.Error{Code: generic.CodeInternal, Message: "cannot encode the request", Err: err}
}

// appException maps a TApplicationException to a code.
func appException(ae thrift.TApplicationException) error {
	msg := ae.Error()
	switch ae.TypeId() {
	case thrift.UNKNOWN_METHOD:
		return &generic.Error{Code: generic.CodeUnimplemented, Message: "backend does not implement the method", BackendCode: int(ae.TypeId()), Err: ae}
	case thrift.INTERNAL_ERROR:
		return &generic.Error{Code: generic.CodeBackendError, Message: "backend failed to handle the call", BackendCode: int(ae.TypeId()), Err: ae}
	}
	return &generic.Error{Code: generic.CodeBackendError, Message: "backend application error: " + short(msg), BackendCode: int(ae.TypeId()), Err: ae}
}

// headerError classifies a failure to read a THeader reply: a reply in
// another format, or a connection closed before any THeader reply, mean
// the backend does not speak THeader.
func (c *Client) headerError(ctx context.Context, cn *conn, err error) error {
	if errors.Is(err, errNotTHeader) {
		return &generic.Error{Code: generic.CodeBackendError, Message: "backend reply is not THeader: the backend does not speak thrift.transport header", Err: err}
	}
	if !cn.headerSeen && ctx.Err() == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		return &generic.Error{Code: generic.CodeBackendError, Message: "backend closed the connection without a THeader reply: does it speak thrift.transport header?", Err: err}
	}
	return c.ioError(ctx, err, "read from")
}

// ioError classifies a connection-level failure.
func (c *Client) ioError(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "deadline exceeded waiting for the backend", Err: err}
		}
		return &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: err}
	}
	if errors.Is(err, errClosed) {
		return &generic.Error{Code: generic.CodeUnavailable, Message: "client is closed", Err: err}
	}
	if reason, ok := backendtls.Reason(err); ok && c.p.opts.TLS != nil {
		return &generic.Error{Code: generic.CodeBackendError, Message: backendtls.Message(reason), Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		if what == "connect to" {
			return &generic.Error{Code: generic.CodeUnavailable, Message: "backend unavailable: connect timed out", Err: err}
		}
		return &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "deadline exceeded waiting for the backend", Err: err}
	}
	if what == "connect to" || errors.Is(err, syscall.ECONNREFUSED) {
		return &generic.Error{Code: generic.CodeUnavailable, Message: "backend unavailable: cannot connect", Err: err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return &generic.Error{Code: generic.CodeBackendError, Message: "backend closed the connection", Err: err}
	}
	var te thrift.TProtocolException
	if errors.As(err, &te) {
		return &generic.Error{Code: generic.CodeBackendError, Message: "backend reply is malformed", Err: err}
	}
	return &generic.Error{Code: generic.CodeBackendError, Message: "cannot " + what + " the backend", Err: err}
}

var (
	_ generic.Protocol = (*Protocol)(nil)
	_ generic.Client   = (*Client)(nil)
)
