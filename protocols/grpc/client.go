package grpc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/rpcbridge/rpcbridge/generic"
)

// minRefreshGap limits reflection fetches caused by unknown names or stale
// caches, so that a stream of bad requests cannot turn into a stream of
// schema fetches.
const minRefreshGap = time.Second

// newServiceGap is the shorter gap for fetching a service not fetched yet.
const newServiceGap = 100 * time.Millisecond

// client is one backend instance: one connection, one schema cache.
type client struct {
	p      *Protocol
	cc     *gogrpc.ClientConn
	ctx    context.Context // client lifetime; ends at Close
	cancel context.CancelFunc

	cur         atomic.Pointer[schema]
	lastAttempt atomic.Int64 // unix nanos of the last reflection fetch start

	// codec, when set, receives replies as wire bytes for the transcoder.
	codec   gogrpc.CallOption
	replies sync.Pool // of *transcoder

	mu     sync.Mutex
	flight *flight
	wanted map[string]bool // services to fetch by reflection
}

// flight is one reflection fetch that callers may wait on.
type flight struct {
	done    chan struct{}
	s       *schema
	err     error
	covers  map[string]bool
	missing map[string]bool
}

func newClient(p *Protocol, cc *gogrpc.ClientConn) *client {
	c := &client{p: p, cc: cc, wanted: map[string]bool{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if pc := encoding.GetCodecV2("proto"); pc != nil {
		c.codec = gogrpc.ForceCodecV2(replyCodec{proto: pc})
	}
	if p.static != nil {
		c.cur.Store(p.static)
	} else {
		if p.opts.Service != "" {
			c.wanted[p.opts.Service] = true
		}
		c.startFetch()
	}
	return c
}

// startFetch starts a reflection fetch unless one is running, and returns
// the flight to wait on.
func (c *client) startFetch() *flight {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startFetchLocked()
}

func (c *client) startFetchLocked() *flight {
	if c.flight != nil {
		return c.flight
	}
	f := &flight{done: make(chan struct{}), covers: make(map[string]bool, len(c.wanted))}
	for s := range c.wanted {
		f.covers[s] = true
	}
	c.flight = f
	c.lastAttempt.Store(time.Now().UnixNano())
	go c.fetch(f)
	return f
}

func (c *client) fetch(f *flight) {
	ctx, cancel := context.WithTimeout(c.ctx, c.p.opts.FetchTimeout)
	defer cancel()
	services := make([]string, 0, len(f.covers))
	for s := range f.covers {
		services = append(services, s)
	}
	var s *schema
	files, missing, err := fetchReflection(ctx, c.cc, services)
	if err == nil && len(files) > 0 {
		s, err = newSchema(files, time.Now(), c.p.opts.EmitDefaults)
		if err != nil {
			err = &buildError{err}
		}
	} else if err == nil {
		s = &schema{services: map[string]*service{}, fetched: time.Now()}
	}
	c.mu.Lock()
	f.missing = map[string]bool{}
	for _, m := range missing {
		f.missing[m] = true
		delete(c.wanted, m)
	}
	if err == nil {
		c.cur.Store(s)
	} else {
		c.p.log.Warn("grpc reflection fetch failed", "services", services, "err", err)
	}
	f.s, f.err = s, err
	c.flight = nil
	c.mu.Unlock()
	close(f.done)
}

type buildError struct{ err error }

func (e *buildError) Error() string { return "invalid descriptors from reflection: " + e.err.Error() }
func (e *buildError) Unwrap() error { return e.err }

// refresh fetches descriptors again (adding svc to what is fetched) and
// waits for the result or ctx.
func (c *client) refresh(ctx context.Context, svc string) (*schema, error) {
	for attempt := 0; attempt < 2; attempt++ {
		c.mu.Lock()
		if svc != "" {
			c.wanted[svc] = true
		}
		f := c.startFetchLocked()
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.err != nil {
			return nil, f.err
		}
		if svc == "" || f.covers[svc] || f.missing[svc] {
			return f.s, nil
		}
	}
	return c.cur.Load(), nil
}

// schema returns the current schema, fetching it first when there is none.
// A stale reflected schema is refreshed in the background.
func (c *client) schema(ctx context.Context, svc string) (*schema, error) {
	s := c.cur.Load()
	if s != nil {
		if c.p.reflect && time.Since(s.fetched) > c.p.opts.Refresh && c.mayRefresh() {
			c.startFetch()
		}
		return s, nil
	}
	return c.refresh(ctx, svc)
}

func (c *client) mayRefresh() bool { return c.refreshedBefore(minRefreshGap) }

// refreshedBefore reports whether the last fetch started at least gap ago.
func (c *client) refreshedBefore(gap time.Duration) bool {
	return time.Now().UnixNano()-c.lastAttempt.Load() >= int64(gap)
}

// wants reports whether svc is among the services fetched by reflection.
func (c *client) wants(svc string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wanted[svc]
}

// resolve finds the method, refreshing reflected descriptors once when the
// service or method is unknown.
func (c *client) resolve(ctx context.Context, svcName, name string) (*schema, *method, error) {
	if svcName == "" {
		svcName = qualifiedService(name)
	}
	if svcName == "" {
		return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "no service given for method %q", name)
	}
	s, err := c.schema(ctx, svcName)
	if err != nil {
		return nil, nil, c.fetchError(err, svcName)
	}
	_, m := s.find(svcName, name)
	// A service not fetched yet may be fetched sooner than a known one is
	// refreshed, but still at a bounded rate, since names come from clients.
	if m == nil && c.p.reflect && (c.mayRefresh() || (!c.wants(svcName) && c.refreshedBefore(newServiceGap))) {
		s, err = c.refresh(ctx, svcName)
		if err != nil {
			return nil, nil, c.fetchError(err, svcName)
		}
		_, m = s.find(svcName, name)
	}
	if m == nil {
		if s.services[svcName] == nil {
			return nil, nil, &generic.Error{Code: generic.CodeNotFound,
				Message: fmt.Sprintf("service %s is not known to the backend", svcName)}
		}
		return nil, nil, &generic.Error{Code: generic.CodeNotFound,
			Message: fmt.Sprintf("method %q not found in service %s", name, svcName)}
	}
	return s, m, nil
}

// Invoke implements generic.Client.
func (c *client) Invoke(ctx context.Context, call *generic.Call) (*generic.Result, error) {
	svcName := call.Service
	if svcName == "" {
		svcName = c.p.opts.Service
	}
	s, m, err := c.resolve(ctx, svcName, call.Method)
	if err != nil {
		return nil, fill(err, svcName, call.Method)
	}
	svcName = string(m.desc.Parent().FullName())
	mName := string(m.desc.Name())
	if m.kind != "" {
		return c.clientStream(ctx, s, m, call, svcName, mName)
	}
	if call.NextMessage != nil {
		return nil, fill(generic.Errorf(generic.CodeInvalidArgument,
			"method %s takes one request message: send it as the JSON body (application/json), not as a stream", mName), svcName, mName)
	}
	body := call.Body
	if len(call.Params) > 0 {
		body, err = generic.BindParams(body, call.Params, m.inputType())
		if err != nil {
			return nil, fill(err, svcName, mName)
		}
	}
	in, err := c.request(m, body)
	if err != nil {
		return nil, fill(err, svcName, mName)
	}
	if len(call.Meta) > 0 {
		md, err := outgoing(call.Meta)
		if err != nil {
			return nil, fill(err, svcName, mName)
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	if m.stream != nil {
		return c.serverStream(ctx, s, m, in, call, svcName, mName)
	}
	var hdr, tr metadata.MD
	if r := c.rawReply(s, m); r != nil {
		if len(c.p.expose) > 0 {
			err = c.cc.Invoke(ctx, m.path, in, r, c.codec, gogrpc.Header(&hdr), gogrpc.Trailer(&tr))
		} else {
			err = c.cc.Invoke(ctx, m.path, in, r, c.codec)
		}
		if err != nil {
			return nil, c.callError(ctx, err, s, svcName, mName)
		}
		b, ge := s.replyJSON(r, "reply")
		if ge != nil {
			return nil, fill(ge, svcName, mName)
		}
		return &generic.Result{Body: b, Meta: c.meta(hdr, tr)}, nil
	}
	out := m.out.New().Interface()
	if len(c.p.expose) > 0 {
		err = c.cc.Invoke(ctx, m.path, in, out, gogrpc.Header(&hdr), gogrpc.Trailer(&tr))
	} else {
		err = c.cc.Invoke(ctx, m.path, in, out)
	}
	if err != nil {
		return nil, c.callError(ctx, err, s, svcName, mName)
	}
	b, err := s.marsh.Marshal(out)
	if err != nil {
		return nil, fill(&generic.Error{Code: generic.CodeBackendError,
			Message: "reply could not be written as JSON", Err: err}, svcName, mName)
	}
	return &generic.Result{Body: b, Meta: c.meta(hdr, tr)}, nil
}

// request encodes the request body: straight to wire bytes when it is
// plain JSON (see encodeRequest), else through protojson into a message.
func (c *client) request(m *method, body []byte) (any, error) {
	if m.request != nil && c.codec != nil {
		w, err := encodeRequest(m.request, body, make([]byte, 0, len(body)/2+16))
		if err == nil {
			return rawRequest(w), nil
		}
		// A break of the JSON rules is final; anything else the direct
		// encoder does not handle goes through protojson.
		if ge, ok := err.(*generic.Error); ok {
			return nil, &generic.Error{Code: ge.Code, Err: ge,
				Message: fmt.Sprintf("invalid request for %s: %s", m.in.Descriptor().FullName(), ge.Message)}
		}
	}
	in := m.in.New().Interface()
	if err := decode(m.unmarsh, body, in); err != nil {
		return nil, err
	}
	return in, nil
}

// rawReply returns the reply target for replyCodec (nil if gRPC's
// protobuf codec is missing): replies are transcoded when m has a plan and
// otherwise decoded for protojson.
func (c *client) rawReply(s *schema, m *method) *rawReply {
	if c.codec == nil {
		return nil
	}
	return &rawReply{plan: m.reply, typ: m.out, emit: s.marsh.EmitUnpopulated, pool: &c.replies}
}

func (c *client) serverStream(ctx context.Context, s *schema, m *method, in any, call *generic.Call, svcName, mName string) (*generic.Result, error) {
	if call.OnMessage == nil {
		return nil, fill(generic.Errorf(generic.CodeInvalidArgument,
			"method %s is server streaming and this caller cannot receive a stream", mName), svcName, mName)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := c.rawReply(s, m)
	st, err := c.newStream(ctx, m, r)
	if err != nil {
		return nil, c.callError(ctx, err, s, svcName, mName)
	}
	if err := st.SendMsg(in); err != nil && err != io.EOF {
		return nil, c.callError(ctx, err, s, svcName, mName)
	}
	if err := st.CloseSend(); err != nil {
		return nil, c.callError(ctx, err, s, svcName, mName)
	}
	if err := c.recvMessages(ctx, st, s, m, r, call, svcName, mName); err != nil {
		return nil, err
	}
	var hdr metadata.MD
	if len(c.p.expose) > 0 {
		hdr, _ = st.Header()
	}
	return &generic.Result{Streamed: true, Meta: c.meta(hdr, st.Trailer())}, nil
}

// newStream opens a stream of m; replies come as wire bytes for r when
// it is set.
func (c *client) newStream(ctx context.Context, m *method, r *rawReply) (gogrpc.ClientStream, error) {
	if r != nil {
		return c.cc.NewStream(ctx, m.stream, m.path, c.codec)
	}
	return c.cc.NewStream(ctx, m.stream, m.path)
}

// recvMessages hands each reply message of a stream to call.OnMessage, as
// JSON, until the stream ends.
func (c *client) recvMessages(ctx context.Context, st gogrpc.ClientStream, s *schema, m *method, r *rawReply, call *generic.Call, svcName, mName string) error {
	var out proto.Message
	if r == nil {
		out = m.out.New().Interface()
	}
	for {
		var b []byte
		if r != nil {
			err := st.RecvMsg(r)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return c.callError(ctx, err, s, svcName, mName)
			}
			var ge *generic.Error
			if b, ge = s.replyJSON(r, "stream message"); ge != nil {
				return fill(ge, svcName, mName)
			}
		} else {
			err := st.RecvMsg(out)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return c.callError(ctx, err, s, svcName, mName)
			}
			b, err = s.marsh.Marshal(out)
			if err != nil {
				return fill(&generic.Error{Code: generic.CodeBackendError,
					Message: "stream message could not be written as JSON", Err: err}, svcName, mName)
			}
		}
		if err := call.OnMessage(b); err != nil {
			if ge, ok := err.(*generic.Error); ok {
				return fill(ge, svcName, mName)
			}
			return fill(&generic.Error{Code: generic.CodeCanceled,
				Message: "stream receiver stopped", Err: err}, svcName, mName)
		}
	}
}

// outgoing turns forwarded headers into gRPC metadata. Names are
// lower-cased; names gRPC reserves or cannot carry are skipped; a value
// that is not printable ASCII (outside "-bin" keys) is an error.
func outgoing(meta map[string]string) (metadata.MD, error) {
	md := make(metadata.MD, len(meta))
	for k, v := range meta {
		k = strings.ToLower(k)
		if !validKey(k) {
			continue
		}
		if !strings.HasSuffix(k, "-bin") {
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					return nil, generic.Errorf(generic.CodeInvalidArgument,
						"header %q: want printable ASCII to forward as grpc metadata", k)
				}
			}
		}
		md[k] = []string{v}
	}
	return md, nil
}

func validKey(k string) bool {
	if k == "" || strings.HasPrefix(k, "grpc-") {
		return false
	}
	switch k {
	case "content-type", "te", "user-agent", "connection", "host", "transfer-encoding", "upgrade", "keep-alive":
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// decode reads the request JSON into msg. An empty body is an empty message.
func decode(u protojson.UnmarshalOptions, body []byte, msg proto.Message) (err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = &generic.Error{Code: generic.CodeInvalidArgument,
				Message: "request body could not be decoded", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	if e := u.Unmarshal(body, msg); e != nil {
		text := protoErrText(e)
		if h := rangeHint(text); h != "" {
			text = h
		}
		return &generic.Error{Code: generic.CodeInvalidArgument,
			Message: fmt.Sprintf("invalid request for %s: %s", msg.ProtoReflect().Descriptor().FullName(), generic.Clip(text)),
			Err:     e}
	}
	return nil
}

// rangeHint rewrites protojson's "invalid value for int64 field id: N"
// as "field id: N is out of range for int64" when N is an integer that
// does not fit; otherwise it returns "".
func rangeHint(text string) string {
	const p = "invalid value for "
	i := strings.Index(text, p)
	if i < 0 {
		return ""
	}
	kind, rest, ok := strings.Cut(text[i+len(p):], " field ")
	if !ok {
		return ""
	}
	field, val, ok := strings.Cut(rest, ": ")
	if !ok {
		return ""
	}
	bits := 32
	if strings.HasSuffix(kind, "64") {
		bits = 64
	} else if !strings.HasSuffix(kind, "32") {
		return ""
	}
	var err error
	if strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "fixed") {
		_, err = generic.ParseUint([]byte(val), bits)
	} else {
		_, err = generic.ParseInt([]byte(val), bits)
	}
	if err == nil || !strings.Contains(err.Error(), "out of range") {
		return ""
	}
	return "field " + field + ": " + err.Error()
}

// protoErrText strips the "proto:" prefix (followed by a space or, at
// random, a no-break space) from protobuf-go error text.
func protoErrText(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		s = strings.TrimLeft(rest, " \u00a0")
	}
	return strings.ReplaceAll(s, "\u00a0", " ")
}

func (c *client) meta(hdr, tr metadata.MD) map[string]string {
	if len(c.p.expose) == 0 {
		return nil
	}
	var out map[string]string
	for _, k := range c.p.expose {
		v := hdr.Get(k)
		if len(v) == 0 {
			v = tr.Get(k)
		}
		if len(v) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(c.p.expose))
		}
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// Describe implements generic.Client.
func (c *client) Describe(ctx context.Context) (*generic.ServiceSchema, error) {
	svcName := c.p.opts.Service
	if svcName == "" {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "no service configured to describe")
	}
	s, err := c.schema(ctx, svcName)
	if err != nil {
		return nil, fill(c.fetchError(err, svcName), svcName, "")
	}
	svc := s.services[svcName]
	if svc == nil {
		return nil, fill(&generic.Error{Code: generic.CodeNotFound,
			Message: fmt.Sprintf("service %s is not known to the backend", svcName)}, svcName, "")
	}
	return svc.describe(), nil
}

// Close implements generic.Client.
func (c *client) Close() error {
	c.cancel()
	return c.cc.Close()
}

var _ generic.Client = (*client)(nil)
