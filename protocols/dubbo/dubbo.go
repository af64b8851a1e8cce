// Package dubbo is rpcbridge's Dubbo adapter: it turns a JSON request into
// a Dubbo generic call ($invoke, Hessian2) to one provider instance over
// the dubbo protocol or Triple, and the reply back into JSON.
//
// Parameter types come from configuration (Options.Methods and
// Overloads), from Options.TypesFor, or from the request itself
// ({"types": [...], "args": [...]}).
package dubbo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	getty "github.com/apache/dubbo-getty"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"

	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	dgeneric "dubbo.apache.org/dubbo-go/v3/filter/generic"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	dhessian "dubbo.apache.org/dubbo-go/v3/protocol/dubbo/hessian2"
	triple "dubbo.apache.org/dubbo-go/v3/protocol/triple/triple_protocol"
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
	gostlogger "github.com/dubbogo/gost/log/logger"

	// dubbo-go extensions the generic client needs, registered by their
	// packages: the direct-URL cluster and balancer, the consumer filters,
	// the proxy factory and the two protocols.
	_ "dubbo.apache.org/dubbo-go/v3/cluster/cluster/failfast"
	_ "dubbo.apache.org/dubbo-go/v3/cluster/loadbalance/random"
	_ "dubbo.apache.org/dubbo-go/v3/filter/graceful_shutdown"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/dubbo"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
	_ "dubbo.apache.org/dubbo-go/v3/proxy/proxy_factory"
)

// Param is one method parameter: its JSON name and its Java type
// (java.lang.Long, long, org.example.User, int[], [Ljava.lang.String;,
// java.util.List<java.lang.Long>, ...).
type Param struct {
	Name string
	Type string
}

// Method is one method signature.
type Method struct {
	Params []Param
	// Returns is the Java return type, when known (for Describe).
	Returns string
}

// Options configures the adapter for one Dubbo service.
type Options struct {
	// Interface is the Java interface name (required).
	Interface string
	// Group and Version select the provider's service; both empty by
	// default.
	Group   string
	Version string
	// Protocol is "dubbo" (default: the dubbo protocol with Hessian2) or
	// "tri" (Triple, also written "triple").
	Protocol string
	// Methods gives one signature per method; it wins over other sources.
	Methods map[string]Method
	// Overloads gives extra signatures of overloaded methods.
	Overloads map[string][]Method
	// TypesFor is consulted for methods that Methods and Overloads do not
	// name (SDK-reported APIs, a metadata report). It may be nil; it must
	// be fast and safe for concurrent use.
	TypesFor func(method string) []Method
	// KeepClass keeps POJO class names in replies as "class".
	KeepClass bool
	// ExceptionStatus maps Java exception classes to HTTP statuses
	// (default 502).
	ExceptionStatus map[string]int
	// ExposeAttachments names reply attachments (the map a provider sends
	// with a reply or an exception) to copy into Result.Meta, which the
	// gateway writes as response headers: matched ignoring case, under
	// the name as given, values as strings (numbers and booleans
	// formatted; other values skipped). On an exception reply they are on
	// the error: an error in the *generic.Error's chain has a method
	// Meta() map[string]string. The dubbo protocol only.
	ExposeAttachments []string
	// RequestTimeout bounds a call whose ctx has no deadline (default 3s).
	RequestTimeout time.Duration
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger

	// dubboGo calls the dubbo protocol through dubbo-go's generic client
	// instead of this package's own: the reference the tests compare the
	// package's client with (see export_test.go). Triple always uses
	// dubbo-go.
	dubboGo bool
}

// apacheGenericException is Java Dubbo's
// org.apache.dubbo.rpc.service.GenericException, the wrapper of
// exceptions thrown by generic calls. hessian2 only knows the older
// com.alibaba name; registering dubbo-go's GenericException under this
// name keeps the wrapped class and message.
const apacheGenericException = "org.apache.dubbo.rpc.service.GenericException"

// Protocol creates Clients for one configured Dubbo service. It implements
// generic.Protocol.
type Protocol struct {
	o       Options
	name    string
	proto   string // dubbo-go protocol: "dubbo" or "tri"
	direct  bool   // the dubbo protocol through directClient
	log     *slog.Logger
	methods map[string][]signature
	scratch sync.Pool // *callScratch, for directClient's calls
	// expose are the reply attachments exposed (Options.ExposeAttachments).
	expose []string
	// tail is what writeRequestTail writes first for the configured
	// interface: the attachments up to the timeout's value.
	tail []byte
}

// signature is a Method prepared for calls.
type signature struct {
	params []Param
	types  []string // wire type names
	input  *generic.Type
	// kinds and classes say how writeFast writes each argument (see
	// argKindOf).
	kinds   []argKind
	classes []string
	// head is what writeRequestHead writes after the frame header for
	// this method of the configured interface (the same bytes on every
	// call); nil for signatures made per call.
	head []byte
}

// New checks o and prepares the adapter. It dials nothing.
func New(o Options) (*Protocol, error) {
	if strings.TrimSpace(o.Interface) == "" {
		return nil, fmt.Errorf("dubbo: interface is required")
	}
	p := &Protocol{o: o, log: o.Logger}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch strings.ToLower(o.Protocol) {
	case "", "dubbo":
		p.name, p.proto = "dubbo", "dubbo"
	case "tri", "triple":
		p.name, p.proto = "triple", "tri"
	default:
		return nil, fmt.Errorf("dubbo: protocol must be dubbo or tri, got %q", o.Protocol)
	}
	p.direct = p.proto == "dubbo" && !o.dubboGo
	if p.o.RequestTimeout <= 0 {
		p.o.RequestTimeout = 3 * time.Second
	}
	if len(o.ExposeAttachments) > 0 {
		if p.proto != "dubbo" {
			return nil, fmt.Errorf("dubbo: expose attachments: not supported with protocol %s (protocol dubbo only)", p.name)
		}
		for _, n := range o.ExposeAttachments {
			if !isToken(n) {
				return nil, fmt.Errorf("dubbo: expose attachments: %q is not a header name", n)
			}
		}
		p.expose = slices.Clone(o.ExposeAttachments)
	}
	p.tail = p.appendTailHead(nil, o.Interface)
	p.methods = make(map[string][]signature)
	add := func(name string, m Method) error {
		s, err := newSignature(m)
		if err != nil {
			return fmt.Errorf("dubbo: method %q: %w", name, err)
		}
		w := hessianWriter{}
		p.writeRequestHead(&w, 0, o.Interface, name, s.types, nil)
		s.head = w.b[frameHeaderLen:]
		p.methods[name] = append(p.methods[name], s)
		return nil
	}
	for name, m := range o.Methods {
		if err := add(name, m); err != nil {
			return nil, err
		}
	}
	for name, ms := range o.Overloads {
		for _, m := range ms {
			if err := add(name, m); err != nil {
				return nil, err
			}
		}
	}
	if p.direct {
		// The package's own client needs none of dubbo-go's process-wide
		// setup.
		return p, nil
	}
	// Keep the wrapped class of Java's org.apache GenericException.
	hessian.RegisterPOJOMapping(apacheGenericException, &dhessian.GenericException{})
	// Read exceptions of classes this process does not know, with their
	// class and fields (and the attachments of their replies).
	installExceptionReader()
	if len(p.expose) > 0 {
		installAttachmentsFilter()
	}
	// dubbo-go's logger is process-wide: lower its level in place (an
	// atomic level; dubbo.NewInstance would replace the logger under
	// running goroutines). It would log every Java exception as a warning.
	gostlogger.SetLoggerLevel("error")
	// dubbo-go creates its protocol singletons lazily without locking;
	// create this one now, before any reference does it from another
	// goroutine.
	extension.GetProtocol(p.proto)
	return p, nil
}

// QuietLibraryLogs lowers dubbo-getty's logger, which otherwise writes
// every packet at debug level, to errors only, and gives dubbo-go a logger
// that writes errors without stack traces to standard error (see
// libraryLogger). Both setters swap package variables without a lock:
// call this once at process start, before any Dubbo connection exists
// (cmd/rpcbridge does).
func QuietLibraryLogs() {
	_ = getty.SetLoggerLevel(getty.LoggerLevelError)
	if l, err := newLibraryLogger(); err == nil {
		gostlogger.SetLogger(l)
	}
}

func newSignature(m Method) (signature, error) {
	s := signature{params: make([]Param, len(m.Params)), types: make([]string, len(m.Params)),
		kinds: make([]argKind, len(m.Params)), classes: make([]string, len(m.Params))}
	in := &generic.Type{Kind: generic.KindMessage}
	for i, prm := range m.Params {
		if strings.TrimSpace(prm.Type) == "" {
			return s, fmt.Errorf("parameter %d has no type", i)
		}
		if prm.Name == "" {
			prm.Name = "arg" + strconv.Itoa(i)
		}
		s.params[i] = prm
		s.types[i] = wireType(prm.Type)
		s.kinds[i], s.classes[i] = argKindOf(prm.Type)
		in.Fields = append(in.Fields, &generic.Field{Name: prm.Name, Tag: int32(i), Type: schemaType(prm.Type)})
	}
	s.input = in
	return s, nil
}

// Name implements generic.Protocol: "dubbo" or "triple".
func (p *Protocol) Name() string { return p.name }

// Dial returns a Client for one provider instance and creates its generic
// reference (one per interface, under a lock). When the provider cannot
// be reached within a second (or ctx's deadline), Dial still returns the
// client, and the reference is created by the first call.
func (p *Protocol) Dial(ctx context.Context, t generic.Target) (generic.Client, error) {
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil || host == "" || port == "" {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo: instance address must be host:port, got %q", t.Address)
	}
	if p.direct {
		return p.dialDirect(ctx, t.Address), nil
	}
	c := &dubboClient{p: p, addr: t.Address, refs: make(map[string]*reference)}
	// Connect now when the provider is up; otherwise the first call
	// retries.
	probe := time.Second
	if d, ok := ctx.Deadline(); ok {
		probe = min(probe, time.Until(d))
	}
	if probe > 0 {
		if _, err := c.ref(p.o.Interface, probe); err != nil {
			p.log.Warn("dubbo: provider not reachable at dial; will retry on first call", "address", t.Address, "error", err)
		}
	}
	return c, nil
}

// dubboClient calls one provider instance.
type dubboClient struct {
	p    *Protocol
	addr string

	mu     sync.Mutex
	refs   map[string]*reference // by interface
	closed bool
}

type reference struct {
	gs *dgeneric.GenericService
}

// ref returns the generic reference for iface, creating it once. dubbo-go
// copies reference options through a shared config, so references are
// created under the lock, each from its own client, with every option
// given.
func (c *dubboClient) ref(iface string, timeout time.Duration) (*reference, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, generic.Errorf(generic.CodeUnavailable, "client is closed")
	}
	if r := c.refs[iface]; r != nil {
		return r, nil
	}
	// dubbo-go spends 2 x 3s trying to connect to a dead address and then
	// returns a broken reference: check the address first.
	probe := min(timeout, time.Second)
	conn, err := net.DialTimeout("tcp", c.addr, probe)
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	}
	conn.Close()
	r, err := c.newReference(iface)
	if err != nil {
		return nil, err
	}
	c.refs[iface] = r
	return r, nil
}

func (c *dubboClient) newReference(iface string) (r *reference, err error) {
	defer func() {
		// dubbo-go panics on some refer failures.
		if v := recover(); v != nil {
			r, err = nil, &generic.Error{Code: generic.CodeUnavailable, Message: "cannot create a reference to the provider", Err: fmt.Errorf("dubbo-go panic: %v", v)}
		}
	}()
	o := c.p.o
	// One dubbo-go client per reference: reference options leak between
	// references of one client. graceful_shutdown's settings are
	// process-wide and taken from the first client or server: this one
	// asks for no signal handler.
	cli, err := client.NewClient(client.WithClientShutdown(graceful_shutdown.WithoutInternalSignal()))
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeInternal, Message: "cannot create a dubbo client", Err: err}
	}
	url := c.p.proto + "://" + c.addr
	opts := []client.ReferenceOption{
		client.WithURL(url),
		client.WithProtocol(c.p.proto),
		client.WithGroup(o.Group),
		client.WithVersion(o.Version),
		client.WithClusterFailFast(),
		client.WithRetries(0),
		client.WithRequestTimeout(o.RequestTimeout),
	}
	if len(c.p.expose) > 0 {
		// The filter that hands the reply's attachments to Invoke.
		opts = append(opts, client.WithFilter(attachmentsFilterName))
	}
	gs, err := cli.NewGenericService(iface, opts...)
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "cannot create a reference to the provider", Err: err}
	}
	return &reference{gs: gs}, nil
}

// Invoke implements generic.Client.
func (c *dubboClient) Invoke(ctx context.Context, call *generic.Call) (res *generic.Result, err error) {
	iface := call.Service
	if iface == "" {
		iface = c.p.o.Interface
	}
	defer func() { c.p.tagError(err, iface, call.Method) }()
	types, args, timeout, err := c.p.prepare(ctx, call)
	if err != nil {
		return nil, err
	}
	r, err := c.ref(iface, timeout)
	if err != nil {
		return nil, err
	}
	att := make(map[string]string, len(call.Meta)+1)
	for k, v := range call.Meta {
		if !reservedAttachment[strings.ToLower(k)] {
			att[k] = v
		}
	}
	var ictx context.Context
	if c.p.proto == "tri" {
		// Triple runs each call on its own HTTP/2 stream and honours the
		// context's deadline.
		att[constant.TimeoutKey] = timeout.String()
		tctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		ictx = context.WithValue(tctx, constant.AttachmentKey, att)
	} else {
		// dubbo-go v3.3.2 crashes the connection (and every call on it)
		// when a reply arrives after its own timeout removed the pending
		// request. So dubbo-go waits lateReplyGrace longer than the
		// caller, and the caller's deadline is enforced here.
		att[constant.TimeoutKey] = (timeout + lateReplyGrace).String()
		ictx = context.WithValue(context.WithoutCancel(ctx), constant.AttachmentKey, att)
	}
	var replyAtt *replyAttachments
	if len(c.p.expose) > 0 {
		replyAtt = &replyAttachments{}
		ictx = context.WithValue(ictx, replyAttachmentsKey{}, replyAtt)
	}
	done := make(chan callResult, 1)
	go func() {
		out, err := c.safeInvoke(ictx, r, call.Method, types, args)
		done <- callResult{out, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var cr callResult
	select {
	case cr = <-done:
	case <-timer.C:
		return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String()}
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: ctx.Err()}
		}
		return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: ctx.Err()}
	}
	out, err := cr.out, cr.err
	if err != nil {
		if _, ok := err.(panicError); ok {
			c.drop(iface, r)
		}
		var meta map[string]string
		if len(c.p.expose) > 0 {
			if ex := exceptionOf(err); ex != nil {
				meta = metaOfMap(c.p.expose, ex.attachments)
			}
		}
		return nil, withMeta(c.p.callError(ctx, err, timeout), meta)
	}
	body, err := appendJSON(make([]byte, 0, 64), out, c.p.o.KeepClass, 0)
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeBackendError, Message: "reply cannot be written as JSON", Err: err}
	}
	res = &generic.Result{Body: body}
	if replyAtt != nil {
		res.Meta = metaOfMap(c.p.expose, replyAtt.get())
	}
	return res, nil
}

// tagError names the protocol, service and method in err when it is a
// *generic.Error that does not name them.
func (p *Protocol) tagError(err error, iface, method string) {
	ge, ok := err.(*generic.Error)
	if !ok || ge == nil {
		return
	}
	if ge.Protocol == "" {
		ge.Protocol = p.name
	}
	if ge.Service == "" {
		ge.Service = iface
	}
	if ge.Method == "" {
		ge.Method = method
	}
}

// prepare converts a call's arguments and finds its timeout: ctx's
// deadline, or RequestTimeout.
func (p *Protocol) prepare(ctx context.Context, call *generic.Call) ([]string, []hessian.Object, time.Duration, error) {
	if call.Method == "" {
		return nil, nil, 0, generic.Errorf(generic.CodeInvalidArgument, "method name is empty")
	}
	types, args, err := p.arguments(call)
	if err != nil {
		return nil, nil, 0, err
	}
	timeout := p.o.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
		if timeout <= 0 {
			return nil, nil, 0, generic.Errorf(generic.CodeDeadlineExceeded, "deadline exceeded before the call")
		}
	}
	return types, args, timeout, nil
}

// reservedAttachment lists attachment keys that steer dubbo-go or the
// provider (routing, async mode, generic mode, timeouts); Call.Meta
// cannot set them.
var reservedAttachment = map[string]bool{
	"path": true, "interface": true, "group": true, "version": true, "dubbo": true,
	"timeout": true, "async": true, "generic": true, "token": true, "retries": true,
	"side": true, "serialization": true, "_to": true, "timeout-countdown": true,
}

// lateReplyGrace is how much longer than the caller dubbo-go waits for a
// reply (see Invoke).
const lateReplyGrace = 30 * time.Second

type callResult struct {
	out any
	err error
}

// panicError is a panic inside dubbo-go, turned into an error.
type panicError struct{ v any }

func (e panicError) Error() string { return fmt.Sprintf("dubbo-go panic: %v", e.v) }

// drop forgets a reference that failed in a way that may have broken it,
// so that the next call creates a new one.
func (c *dubboClient) drop(iface string, r *reference) {
	c.mu.Lock()
	if c.refs[iface] == r {
		delete(c.refs, iface)
	}
	c.mu.Unlock()
}

func (c *dubboClient) safeInvoke(ctx context.Context, r *reference, method string, types []string, args []hessian.Object) (out any, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, panicError{v}
		}
	}()
	return r.gs.Invoke(ctx, method, types, args)
}

// Describe implements generic.Client with the configured methods.
func (c *dubboClient) Describe(ctx context.Context) (*generic.ServiceSchema, error) {
	return c.p.Describe(), nil
}

// Close implements generic.Client. dubbo-go shares connections per
// address inside the process and offers no per-reference close; Close
// drops the references so that later calls fail.
func (c *dubboClient) Close() error {
	c.mu.Lock()
	c.closed = true
	c.refs = nil
	c.mu.Unlock()
	return nil
}

// Describe returns the configured methods as a schema. An overloaded
// method is described by its first signature.
func (p *Protocol) Describe() *generic.ServiceSchema {
	s := &generic.ServiceSchema{Name: p.o.Interface}
	names := make([]string, 0, len(p.methods))
	for n := range p.methods {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		sig := p.methods[n][0]
		ms := &generic.MethodSchema{Name: n, Input: sig.input}
		if m, ok := p.o.Methods[n]; ok && m.Returns != "" && m.Returns != "void" {
			ms.Output = schemaType(m.Returns)
		}
		s.Methods = append(s.Methods, ms)
	}
	return s
}

// arguments picks the signature and converts the request.
func (p *Protocol) arguments(call *generic.Call) ([]string, []hessian.Object, error) {
	sigs := p.methods[call.Method]
	if len(sigs) == 0 && p.o.TypesFor != nil {
		for _, m := range p.o.TypesFor(call.Method) {
			s, err := newSignature(m)
			if err != nil {
				return nil, nil, generic.Errorf(generic.CodeFailedPrecondition, "method %q: %s", call.Method, err)
			}
			sigs = append(sigs, s)
		}
	}
	body := call.Body
	if len(sigs) == 0 {
		return adHoc(body)
	}
	var err error
	if len(call.Params) > 0 {
		if body, err = generic.BindParams(body, call.Params, sigs[0].input); err != nil {
			return nil, nil, err
		}
	}
	trimmed := bytes.TrimSpace(body)
	var obj map[string]json.RawMessage
	isObj := len(trimmed) > 0 && trimmed[0] == '{'
	if isObj {
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "request body is not valid JSON: %v", err)
		}
	} else if len(trimmed) > 0 && !json.Valid(trimmed) {
		return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "request body is not valid JSON")
	}
	if len(sigs) == 1 {
		return sigs[0].convert(trimmed, obj, isObj)
	}
	// Overloads: signatures whose parameter count matches the body's keys
	// first, then the rest; the first whose conversions all succeed wins.
	n := -1
	if isObj {
		n = len(obj)
	} else if len(trimmed) > 0 {
		n = 1
	} else {
		n = 0
	}
	order := make([]signature, 0, len(sigs))
	for _, s := range sigs {
		if len(s.params) == n && s.namesMatch(obj) {
			order = append(order, s)
		}
	}
	for _, s := range sigs {
		if len(s.params) == n && !s.namesMatch(obj) {
			order = append(order, s)
		}
	}
	for _, s := range sigs {
		if len(s.params) != n {
			order = append(order, s)
		}
	}
	var first error
	for _, s := range order {
		types, args, err := s.convert(trimmed, obj, isObj)
		if err == nil {
			return types, args, nil
		}
		if first == nil {
			first = err
		}
	}
	if ge, ok := first.(*generic.Error); ok {
		ge.Message = "no overload of " + call.Method + " accepts the request; first: " + ge.Message
	}
	return nil, nil, first
}

func (s signature) namesMatch(obj map[string]json.RawMessage) bool {
	for i, prm := range s.params {
		if _, ok := obj[prm.Name]; ok {
			continue
		}
		if _, ok := obj["arg"+strconv.Itoa(i)]; ok {
			continue
		}
		return false
	}
	return true
}

// convert binds the body to the parameters: an object keyed by parameter
// name (or arg0..argN); with one parameter, a body that names neither is
// the argument itself.
func (s signature) convert(body []byte, obj map[string]json.RawMessage, isObj bool) ([]string, []hessian.Object, error) {
	args := make([]hessian.Object, len(s.params))
	// Only a single parameter may be the whole body; otherwise a body is
	// an object keyed by parameter name (or nothing, or null).
	if !isObj && len(body) > 0 && !isNull(body) && len(s.params) != 1 {
		return nil, nil, generic.Errorf(generic.CodeInvalidArgument,
			"request body must be a JSON object keyed by parameter name, got %s", shortJSON(body))
	}
	if len(s.params) == 0 {
		if isObj && len(obj) > 0 {
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, generic.ClipTo(k, 64))
			}
			sortStrings(keys)
			if len(keys) > 4 {
				keys = append(keys[:4], "...")
			}
			return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "method takes no arguments, got %q", strings.Join(keys, ", "))
		}
		return []string{}, args, nil
	}
	whole := false
	if len(s.params) == 1 {
		if !isObj {
			whole = len(body) > 0
		} else if _, ok := obj[s.params[0].Name]; !ok {
			if _, ok := obj["arg0"]; !ok && len(obj) > 0 {
				whole = true
			}
		}
	}
	if isObj && !whole {
		if err := s.unknownArgument(obj); err != nil {
			return nil, nil, err
		}
	}
	for i, prm := range s.params {
		var raw json.RawMessage
		if whole {
			raw = body
		} else if v, ok := obj[prm.Name]; ok {
			raw = v
		} else if v, ok := obj["arg"+strconv.Itoa(i)]; ok {
			raw = v
		}
		if raw == nil {
			raw = json.RawMessage("null")
		}
		v, err := toHessian(raw, prm.Type)
		if err != nil {
			if raw == nil || isNull(raw) {
				return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "argument %q (%s) is missing", prm.Name, prm.Type)
			}
			return nil, nil, argError(prm.Name, prm.Type, err)
		}
		args[i] = v
	}
	return s.types, args, nil
}

// unknownArgument rejects a key that names no parameter (by name or as
// arg0..argN), as the other protocols reject an unknown field.
func (s signature) unknownArgument(obj map[string]json.RawMessage) error {
	var unknown []string
	for k := range obj {
		known := false
		for i, prm := range s.params {
			if k == prm.Name || k == "arg"+strconv.Itoa(i) {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sortStrings(unknown)
	names := make([]string, len(s.params))
	for i, prm := range s.params {
		names[i] = prm.Name
	}
	return generic.Errorf(generic.CodeInvalidArgument, "unknown argument %q: the method takes %s",
		generic.ClipTo(unknown[0], 64), strings.Join(names, ", "))
}

// adHoc reads {"types": [...], "args": [...]}: types that no
// configuration gives.
func adHoc(body []byte) ([]string, []hessian.Object, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("{}")) {
		return []string{}, []hessian.Object{}, nil
	}
	var req struct {
		Types []string          `json:"types"`
		Args  []json.RawMessage `json:"args"`
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || len(req.Types) != len(req.Args) {
		return nil, nil, generic.Errorf(generic.CodeInvalidArgument,
			`no parameter types are configured for this method: send {"types": [...], "args": [...]} with one type per argument`)
	}
	types := make([]string, len(req.Types))
	args := make([]hessian.Object, len(req.Types))
	for i, t := range req.Types {
		if strings.TrimSpace(t) == "" {
			return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "types[%d] is empty", i)
		}
		v, err := toHessian(req.Args[i], t)
		if err != nil {
			return nil, nil, argError("args["+strconv.Itoa(i)+"]", t, err)
		}
		types[i] = wireType(t)
		args[i] = v
	}
	return types, args, nil
}

// callError classifies a failed call.
func (p *Protocol) callError(ctx context.Context, err error, timeout time.Duration) error {
	if ex := exceptionOf(err); ex != nil {
		if noSuchMethod(ex) {
			return &generic.Error{Code: generic.CodeNotFound, Message: "the provider has no such method", Err: err}
		}
		e := &generic.Error{
			Code:      generic.CodeBackendException,
			Exception: ex.class,
			Message:   ex.message,
			Err:       err,
		}
		if e.Message == "" {
			e.Message = "the provider threw " + ex.class
		}
		if len(ex.fields) > 0 {
			if b, ferr := appendJSON(nil, ex.fields, p.o.KeepClass, 0); ferr == nil {
				e.Fields = b
			}
		}
		if st, ok := p.o.ExceptionStatus[ex.class]; ok {
			e.Status = st
		}
		return e
	}
	if e := tripleError(err, timeout); e != nil {
		return e
	}
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: err}
	case ctx.Err() != nil || strings.Contains(msg, "timeout") || strings.Contains(msg, "deadline"):
		return &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: err}
	case strings.Contains(msg, "connect") || strings.Contains(msg, "closed") || strings.Contains(msg, "destroy") ||
		strings.Contains(msg, "no provider") || strings.Contains(msg, "session") || strings.Contains(msg, "refused") ||
		strings.Contains(msg, "unavailable") || strings.Contains(msg, "broken pipe") || strings.Contains(msg, "reset by peer") ||
		strings.Contains(msg, "eof"):
		return &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	case strings.Contains(msg, "not found") || strings.Contains(msg, "no such method") || strings.Contains(msg, "nosuchmethod"):
		return &generic.Error{Code: generic.CodeNotFound, Message: "the provider has no such method or service", Err: err}
	}
	return &generic.Error{Code: generic.CodeBackendError, Message: "the provider failed the call", Err: err}
}

// noSuchMethod reports whether a provider's exception says the method
// (with those parameter types) does not exist: dubbo-go providers throw
// java.lang.Throwable "\"m\" method is not found, service key: ...",
// Java ones a java.lang.NoSuchMethodException.
func noSuchMethod(ex *javaException) bool {
	return ex.class == "java.lang.NoSuchMethodException" ||
		ex.class == "java.lang.Throwable" && strings.Contains(ex.message, " method is not found, service key: ")
}

// tripleError classifies a Triple status.
func tripleError(err error, timeout time.Duration) *generic.Error {
	var te *triple.Error
	if !errors.As(err, &te) {
		return nil
	}
	e := &generic.Error{BackendCode: int(te.Code()), Err: err}
	low := strings.ToLower(err.Error())
	switch te.Code() {
	case triple.CodeCanceled:
		e.Code, e.Message = generic.CodeCanceled, "the call was canceled"
	case triple.CodeDeadlineExceeded:
		e.Code, e.Message = generic.CodeDeadlineExceeded, "the provider did not answer within "+timeout.Round(time.Millisecond).String()
	case triple.CodeUnavailable:
		e.Code, e.Message = generic.CodeUnavailable, "the provider is unavailable"
	case triple.CodeUnimplemented, triple.CodeNotFound:
		e.Code, e.Message = generic.CodeNotFound, "the provider has no such method or service"
	case triple.CodeUnknown, triple.CodeBizError:
		// A provider exception; dubbo-go's Triple server sends neither
		// the Java class nor the message.
		e.Code, e.Message = generic.CodeBackendException, te.Message()
		if e.Message == "" {
			e.Message = "the provider threw an exception"
		}
	default:
		e.Code, e.Message = generic.CodeBackendError, "the provider failed the call"
		if strings.Contains(low, "eof") || strings.Contains(low, "reset by peer") || strings.Contains(low, "refused") {
			e.Code, e.Message = generic.CodeUnavailable, "the provider is unavailable"
		}
	}
	return e
}

// exceptionOf finds a Java exception in err's chain: the one read from
// the reply with its class and fields (see exceptionSerializer), or what
// dubbo-go and hessian2 decoded.
func exceptionOf(err error) *javaException {
	for e := err; e != nil; {
		switch x := e.(type) {
		case *javaException:
			return x
		case *dhessian.GenericException:
			return &javaException{class: x.ExceptionClass, message: x.ExceptionMessage}
		case dhessian.GenericException:
			return &javaException{class: x.ExceptionClass, message: x.ExceptionMessage}
		case *java_exception.DubboGenericException:
			return &javaException{class: x.ExceptionClass, message: x.ExceptionMessage}
		case java_exception.Throwabler:
			return &javaException{class: x.JavaClassName(), message: x.Error()}
		}
		if c, ok := e.(interface{ Cause() error }); ok && c.Cause() != nil && c.Cause() != e {
			e = c.Cause()
			continue
		}
		e = errors.Unwrap(e)
	}
	return nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

var _ generic.Protocol = (*Protocol)(nil)
var _ generic.Client = (*dubboClient)(nil)
