package dubbo

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"

	hessian "github.com/apache/dubbo-go-hessian2"
)

// The dubbo protocol's frame: a 16-byte header (magic, flags, status,
// request id, body length) and a Hessian 2 body.
const (
	frameHeaderLen = 16
	frameMagicHi   = 0xda
	frameMagicLo   = 0xbb

	flagRequest = 0x80
	flagTwoWay  = 0x40
	flagEvent   = 0x20
	serialMask  = 0x1f
	// serialHessian2 is the serialization id of Hessian 2.
	serialHessian2 = 2

	statusOK            = 20
	statusClientTimeout = 30
	statusServerTimeout = 31

	// maxFrameBody bounds a reply body (Dubbo's default payload limit).
	maxFrameBody = 8 << 20

	// dubboVersion is the protocol version a request names.
	dubboVersion = "2.0.2"
	// invokeDescriptor is $invoke's parameter types: the method name,
	// the parameter types and the arguments.
	invokeDescriptor = "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;"

	// Dubbo reply body types holding a value (the exception kinds are in
	// javaexception.go).
	responseValue                    = 1
	responseNullValue                = 2
	responseValueWithAttachments     = 4
	responseNullValueWithAttachments = 5

	// heartbeatInterval is how often an idle connection sends a
	// heartbeat; a connection that reads nothing for three intervals is
	// closed.
	heartbeatInterval = 30 * time.Second
)

// directClient calls one provider instance over the dubbo protocol with
// this package's own codec: the request's Hessian 2 written from the
// converted arguments, the reply's read into JSON, on one multiplexed
// connection (redialled when it breaks).
type directClient struct {
	p    *Protocol
	addr string

	mu     sync.Mutex
	cur    *dconn
	closed bool
}

func (p *Protocol) dialDirect(ctx context.Context, addr string) *directClient {
	c := &directClient{p: p, addr: addr}
	probe := time.Second
	if d, ok := ctx.Deadline(); ok {
		probe = min(probe, time.Until(d))
	}
	if probe > 0 {
		if _, err := c.conn(probe); err != nil {
			p.log.Warn("dubbo: provider not reachable at dial; will retry on first call", "address", addr, "error", err)
		}
	}
	return c
}

// conn returns the working connection, dialling one within timeout when
// there is none.
func (c *directClient) conn(timeout time.Duration) (*dconn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, generic.Errorf(generic.CodeUnavailable, "client is closed")
	}
	if c.cur != nil && !c.cur.broken() {
		return c.cur, nil
	}
	nc, err := net.DialTimeout("tcp", c.addr, min(timeout, 3*time.Second))
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	}
	c.cur = newDconn(nc, heartbeatInterval)
	return c.cur, nil
}

// Invoke implements generic.Client.
func (c *directClient) Invoke(ctx context.Context, call *generic.Call) (res *generic.Result, err error) {
	iface := call.Service
	if iface == "" {
		iface = c.p.o.Interface
	}
	defer func() { c.p.tagError(err, iface, call.Method) }()
	types, args, timeout, err := c.p.prepare(ctx, call)
	if err != nil {
		return nil, err
	}
	cn, err := c.conn(timeout)
	if err != nil {
		return nil, err
	}
	id := cn.nextID.Add(1)
	buf := c.p.getBuf()
	defer c.p.putBuf(buf)
	w := hessianWriter{b: buf.b[:0]}
	if err := c.p.writeRequest(&w, id, iface, call, types, args, timeout); err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "request cannot be written as Hessian 2: %v", err)
	}
	buf.b = w.b
	frame, err := cn.roundTrip(ctx, id, w.b, timeout)
	if err != nil {
		return nil, err
	}
	body, err := c.p.readReply(ctx, frame, timeout)
	if err != nil {
		return nil, err
	}
	return &generic.Result{Body: body}, nil
}

// Describe implements generic.Client with the configured methods.
func (c *directClient) Describe(ctx context.Context) (*generic.ServiceSchema, error) {
	return c.p.Describe(), nil
}

// Close implements generic.Client: it closes the connection; later calls
// fail.
func (c *directClient) Close() error {
	c.mu.Lock()
	c.closed = true
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cur != nil {
		cur.fail(errors.New("client closed"))
	}
	return nil
}

// frameBuf is a reusable request buffer.
type frameBuf struct{ b []byte }

func (p *Protocol) getBuf() *frameBuf {
	if b, ok := p.bufs.Get().(*frameBuf); ok {
		return b
	}
	return &frameBuf{b: make([]byte, 0, 512)}
}

func (p *Protocol) putBuf(b *frameBuf) {
	if cap(b.b) <= 64<<10 {
		p.bufs.Put(b)
	}
}

// writeRequest writes a whole request frame: the header, then the body
// of a generic call ($invoke with the method name, its parameter types
// and the arguments) and the attachments.
func (p *Protocol) writeRequest(w *hessianWriter, id int64, iface string, call *generic.Call, types []string, args []hessian.Object, timeout time.Duration) error {
	w.b = append(w.b, frameMagicHi, frameMagicLo, flagRequest|flagTwoWay|serialHessian2, 0)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(id))
	w.b = append(w.b, 0, 0, 0, 0) // body length, set below
	w.string(dubboVersion)
	w.string(iface)
	w.string(p.o.Version)
	w.string("$invoke")
	w.string(invokeDescriptor)
	w.string(call.Method)
	w.listStart("[string", len(types))
	for _, t := range types {
		w.string(t)
	}
	w.listStart("[object", len(args))
	for _, a := range args {
		if err := w.value(a, 0); err != nil {
			return err
		}
	}
	w.b = append(w.b, 'H')
	w.string("path")
	w.string(iface)
	w.string("interface")
	w.string(iface)
	w.string("version")
	w.string(p.o.Version)
	if p.o.Group != "" {
		w.string("group")
		w.string(p.o.Group)
	}
	w.string("timeout")
	w.b = append(w.b, 0) // a short string, its length set below
	at := len(w.b)
	w.b = strconv.AppendInt(w.b, timeout.Milliseconds(), 10)
	w.b[at-1] = byte(len(w.b) - at)
	w.string("generic")
	w.string("true")
	for k, v := range call.Meta {
		if reservedAttachment[k] || reservedAttachment[lowerASCII(k)] {
			continue
		}
		w.string(k)
		w.string(v)
	}
	w.b = append(w.b, 'Z')
	n := len(w.b) - frameHeaderLen
	if n > maxFrameBody {
		return fmt.Errorf("request is %d bytes, more than %d", n, maxFrameBody)
	}
	binary.BigEndian.PutUint32(w.b[12:16], uint32(n))
	return nil
}

// lowerASCII lower-cases ASCII letters, allocating only when s has an
// upper-case one.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// readReply turns a reply frame into the reply's JSON or the call's
// error.
func (p *Protocol) readReply(ctx context.Context, frame []byte, timeout time.Duration) ([]byte, error) {
	status, body := frame[3], frame[frameHeaderLen:]
	if status != statusOK {
		r := hessianReader{b: body}
		msg, _ := r.string()
		if msg == "" {
			msg = "dubbo status " + strconv.Itoa(int(status))
		}
		if status == statusClientTimeout || status == statusServerTimeout {
			return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: errors.New(msg)}
		}
		return nil, p.callError(ctx, errors.New(msg), timeout)
	}
	out, ex, err := decodeReply(body, p.o.KeepClass)
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeBackendError, Message: "reply cannot be read", Err: err}
	}
	if ex != nil {
		return nil, p.callError(ctx, ex, timeout)
	}
	return out, nil
}

// decodeReply reads a reply body (status OK): the value as JSON, or the
// exception it holds.
func decodeReply(body []byte, keepClass bool) ([]byte, error, error) {
	r := hessianReader{b: body}
	kind, err := r.read()
	if err != nil {
		return nil, nil, err
	}
	k, ok := kind.(int32)
	if !ok {
		return nil, nil, fmt.Errorf("reply type is %T, want an int", kind)
	}
	switch k {
	case responseNullValue, responseNullValueWithAttachments:
		return []byte("null"), nil, nil
	case responseValue, responseValueWithAttachments:
		v, err := r.read()
		if err != nil {
			return nil, nil, err
		}
		out, err := hessianJSON(make([]byte, 0, 64), v, keepClass)
		if err != nil {
			return nil, nil, err
		}
		return out, nil, nil
	case responseWithException, responseWithExceptionWithAttachments:
		v, err := r.read()
		if err != nil {
			return nil, nil, err
		}
		budget := maxReplyValues
		if err := checkExpansion(v, nil, &budget); err != nil {
			return nil, nil, err
		}
		if e, ok := exceptionOfObject(v); ok {
			return nil, e, nil
		}
		if s, ok := v.(string); ok {
			return nil, errors.New(s), nil
		}
		return nil, fmt.Errorf("the provider failed the call with a %s", describeHessian(v)), nil
	}
	return nil, nil, fmt.Errorf("unknown reply type %d", k)
}

func describeHessian(v any) string {
	if o, ok := v.(*hobject); ok {
		return o.class
	}
	return fmt.Sprintf("%T", v)
}

// hessianJSON writes a value hessianReader read as JSON, as appendJSON
// writes what hessian2 decodes.
func hessianJSON(dst []byte, v any, keepClass bool) ([]byte, error) {
	switch v.(type) {
	case *hobject, *hlist, *hmap:
		budget := maxReplyValues
		if err := checkExpansion(v, nil, &budget); err != nil {
			return nil, err
		}
		v = plainValue(v, map[any]bool{})
	}
	return appendJSON(dst, v, keepClass, 0)
}

// maxReplyValues bounds the values a reply expands to once its
// references are followed: a few bytes of references can stand for
// exponentially many copies.
const maxReplyValues = 1 << 20

// checkExpansion walks v as plainValue will (following references,
// cutting cycles) and fails when that takes more than *budget values or
// nests deeper than maxHessianDepth.
func checkExpansion(v any, open []any, budget *int) error {
	*budget--
	if *budget < 0 {
		return fmt.Errorf("reply expands to more than %d values", maxReplyValues)
	}
	switch v.(type) {
	case *hobject, *hlist, *hmap:
	default:
		return nil
	}
	for _, o := range open {
		if o == v {
			return nil // a cycle, cut by plainValue
		}
	}
	if len(open) >= maxHessianDepth {
		return fmt.Errorf("reply nests deeper than %d levels", maxHessianDepth)
	}
	open = append(open, v)
	var kids [][]any
	switch x := v.(type) {
	case *hobject:
		kids = [][]any{x.values}
	case *hlist:
		kids = [][]any{x.items}
	case *hmap:
		kids = [][]any{x.keys, x.vals}
	}
	for _, ks := range kids {
		for _, k := range ks {
			if err := checkExpansion(k, open, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

// dconn is one TCP connection to a provider carrying many requests at
// once. Requests are written under a lock; one reader goroutine routes
// replies by request id and answers heartbeats; another sends heartbeats
// and closes a connection that stopped answering. When the connection
// breaks, every pending request fails with UNAVAILABLE.
type dconn struct {
	nc net.Conn

	nextID   atomic.Int64
	lastRead atomic.Int64 // unix nanoseconds

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	pending map[int64]chan []byte
	err     error         // set once, when the connection breaks
	done    chan struct{} // closed when err is set
}

func newDconn(nc net.Conn, heartbeat time.Duration) *dconn {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &dconn{nc: nc, pending: map[int64]chan []byte{}, done: make(chan struct{})}
	c.lastRead.Store(time.Now().UnixNano())
	go c.readLoop()
	go c.heartbeats(heartbeat)
	return c
}

func (c *dconn) broken() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// fail marks the connection broken, closes it and wakes every waiter.
func (c *dconn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
}

func (c *dconn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// readFrame reads one frame (header and body, in one slice).
func readFrame(r *bufio.Reader) ([]byte, error) {
	hdr, err := r.Peek(frameHeaderLen)
	if err != nil {
		return nil, err
	}
	if hdr[0] != frameMagicHi || hdr[1] != frameMagicLo {
		return nil, fmt.Errorf("dubbo: bad magic 0x%02x%02x", hdr[0], hdr[1])
	}
	n := binary.BigEndian.Uint32(hdr[12:16])
	if n > maxFrameBody {
		return nil, fmt.Errorf("dubbo: frame body of %d bytes exceeds %d", n, maxFrameBody)
	}
	frame := make([]byte, frameHeaderLen+int(n))
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

func (c *dconn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 32<<10)
	for {
		frame, err := readFrame(r)
		if err != nil {
			c.fail(err)
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		flags := frame[2]
		id := int64(binary.BigEndian.Uint64(frame[4:12]))
		if flags&flagRequest != 0 {
			// The provider's heartbeat: answer it.
			if flags&flagEvent != 0 && flags&flagTwoWay != 0 {
				if err := c.write(eventFrame(nil, id, false), time.Now().Add(10*time.Second)); err != nil {
					c.fail(err)
					return
				}
			}
			continue
		}
		if flags&flagEvent != 0 {
			continue // a reply to our heartbeat
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- frame // buffered: never blocks
		}
	}
}

// eventFrame appends a heartbeat frame: a two-way request, or the reply
// to one.
func eventFrame(dst []byte, id int64, request bool) []byte {
	flags, status := byte(flagEvent|serialHessian2), byte(statusOK)
	if request {
		flags |= flagRequest | flagTwoWay
		status = 0
	}
	dst = append(dst, frameMagicHi, frameMagicLo, flags, status)
	dst = binary.BigEndian.AppendUint64(dst, uint64(id))
	dst = binary.BigEndian.AppendUint32(dst, 1)
	return append(dst, 'N')
}

// heartbeats sends a heartbeat every interval and closes the connection
// when nothing has been read for three.
func (c *dconn) heartbeats(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.lastRead.Load())) > 3*interval {
				c.fail(errors.New("dubbo: the provider stopped answering heartbeats"))
				return
			}
			if err := c.write(eventFrame(nil, c.nextID.Add(1), true), now.Add(interval)); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

func (c *dconn) write(frame []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(frame)
	return err
}

// roundTrip sends one request frame and waits for its reply, timeout,
// ctx, or the connection breaking.
func (c *dconn) roundTrip(ctx context.Context, id int64, frame []byte, timeout time.Duration) ([]byte, error) {
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	}
	c.pending[id] = ch
	c.mu.Unlock()

	if err := c.write(frame, time.Now().Add(timeout)); err != nil {
		// A partial write leaves the stream unusable.
		c.fail(err)
		c.forget(id)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: err}
		}
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case reply := <-ch:
		return reply, nil
	case <-timer.C:
		c.forget(id)
		return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String()}
	case <-ctx.Done():
		c.forget(id)
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: ctx.Err()}
		}
		return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: ctx.Err()}
	case <-c.done:
		select {
		case reply := <-ch:
			return reply, nil
		default:
		}
		c.forget(id)
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: c.failure()}
	}
}

func (c *dconn) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

var _ generic.Client = (*directClient)(nil)
