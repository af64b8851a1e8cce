package dubbo

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
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
	s := c.p.getScratch()
	defer c.p.putScratch(s)
	w := hessianWriter{b: s.b[:0], classes: s.classes[:0]}
	// The request is written with request id 0, set below once the
	// connection is known.
	timeout, ok := c.p.writeFast(ctx, &w, s, iface, call)
	if !ok {
		types, args, t, err := c.p.prepare(ctx, call)
		if err != nil {
			return nil, err
		}
		timeout = t
		w.b, w.classes = w.b[:0], w.classes[:0]
		if err := c.p.writeRequest(&w, 0, iface, call, types, args, timeout); err != nil {
			return nil, generic.Errorf(generic.CodeInvalidArgument, "request cannot be written as Hessian 2: %v", err)
		}
	}
	s.b, s.classes = w.b, w.classes
	cn, err := c.conn(timeout)
	if err != nil {
		return nil, err
	}
	id := cn.nextID.Add(1)
	binary.BigEndian.PutUint64(w.b[4:12], uint64(id))
	frame, err := cn.roundTrip(ctx, id, w.b, timeout)
	if err != nil {
		return nil, err
	}
	body, meta, err := c.p.readReply(ctx, frame, timeout, &s.reply)
	putFrame(frame)
	if err != nil {
		return nil, err
	}
	return &generic.Result{Body: body, Meta: meta}, nil
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

// callScratch is one call's reusable space: the request being written,
// the JSON reader of its arguments, the reply's writer.
type callScratch struct {
	b       []byte
	classes []writtenClass
	json    generic.JSONReader
	bigJSON bool // json read a large body: its scratch space is not kept
	fields  []argField
	reply   replyWriter
}

// scratchLimit bounds the space a pooled callScratch keeps.
const scratchLimit = 64 << 10

func (p *Protocol) getScratch() *callScratch {
	if s, ok := p.scratch.Get().(*callScratch); ok {
		return s
	}
	return &callScratch{b: make([]byte, 0, 512)}
}

func (p *Protocol) putScratch(s *callScratch) {
	if cap(s.b) > scratchLimit {
		return
	}
	clear(s.classes)
	s.classes = s.classes[:0]
	clear(s.fields[:cap(s.fields)])
	s.fields = s.fields[:0]
	if cap(s.fields) > 1024 {
		s.fields = nil
	}
	s.json.Reset(nil, 0)
	if s.bigJSON {
		s.json, s.bigJSON = generic.JSONReader{}, false
	}
	s.reply.release(scratchLimit)
	p.scratch.Put(s)
}

// framePool holds reply frames of up to scratchLimit bytes: a reply is
// read into one, and the caller puts it back once it is decoded. The
// *[]byte that carry them in the pool are pooled too (frameRefs), so that
// putting a frame back allocates nothing.
var framePool, frameRefs sync.Pool // *[]byte

func getFrame(n int) []byte {
	if n > scratchLimit {
		return make([]byte, n)
	}
	if ref, ok := framePool.Get().(*[]byte); ok {
		f := *ref
		*ref = nil
		frameRefs.Put(ref)
		if cap(f) >= n {
			return f[:n]
		}
	}
	return make([]byte, n, max(n, 1024))
}

// putFrame returns a frame getFrame gave, which nothing refers to any
// more, to the pool.
func putFrame(f []byte) {
	if cap(f) > scratchLimit {
		return
	}
	ref, ok := frameRefs.Get().(*[]byte)
	if !ok {
		ref = new([]byte)
	}
	*ref = f
	framePool.Put(ref)
}

// writeRequest writes a whole request frame: the header, then the body
// of a generic call ($invoke with the method name, its parameter types
// and the arguments) and the attachments.
func (p *Protocol) writeRequest(w *hessianWriter, id int64, iface string, call *generic.Call, types []string, args []hessian.Object, timeout time.Duration) error {
	p.writeRequestHead(w, id, iface, call.Method, types, nil)
	w.listStart("[object", len(args))
	for _, a := range args {
		if err := w.value(a, 0); err != nil {
			return err
		}
	}
	return p.writeRequestTail(w, iface, call, timeout)
}

// writeRequestHead writes the frame header and the body up to the
// arguments, whose list is written next. head, when not nil, is that
// body for the configured interface (signature.head).
func (p *Protocol) writeRequestHead(w *hessianWriter, id int64, iface, method string, types []string, head []byte) {
	w.b = append(w.b, frameMagicHi, frameMagicLo, flagRequest|flagTwoWay|serialHessian2, 0)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(id))
	w.b = append(w.b, 0, 0, 0, 0) // body length, set by writeRequestTail
	if head != nil && iface == p.o.Interface {
		w.b = append(w.b, head...)
		return
	}
	w.string(dubboVersion)
	w.string(iface)
	w.string(p.o.Version)
	w.string("$invoke")
	w.string(invokeDescriptor)
	w.string(method)
	w.listStart("[string", len(types))
	for _, t := range types {
		w.string(t)
	}
}

// writeRequestTail writes the attachments after the arguments and sets
// the body length.
func (p *Protocol) writeRequestTail(w *hessianWriter, iface string, call *generic.Call, timeout time.Duration) error {
	if iface == p.o.Interface && p.tail != nil {
		w.b = append(w.b, p.tail...)
	} else {
		w.b = p.appendTailHead(w.b, iface)
	}
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

// appendTailHead appends the attachments of a request to iface up to
// the timeout's value.
func (p *Protocol) appendTailHead(b []byte, iface string) []byte {
	w := hessianWriter{b: b}
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
	return w.b
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

// readReply turns a reply frame into the reply's JSON and exposed
// attachments, or the call's error.
func (p *Protocol) readReply(ctx context.Context, frame []byte, timeout time.Duration, w *replyWriter) ([]byte, map[string]string, error) {
	status, body := frame[3], frame[frameHeaderLen:]
	if status != statusOK {
		r := hessianReader{b: body}
		msg, _ := r.string()
		if msg == "" {
			msg = "dubbo status " + strconv.Itoa(int(status))
		}
		if status == statusClientTimeout || status == statusServerTimeout {
			return nil, nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: errors.New(msg)}
		}
		return nil, nil, p.callError(ctx, errors.New(msg), timeout)
	}
	out, meta, ex, err := decodeReplyWith(w, body, p.o.KeepClass, p.expose)
	if err != nil {
		return nil, nil, &generic.Error{Code: generic.CodeBackendError, Message: "reply cannot be read", Err: err}
	}
	if ex != nil {
		return nil, nil, withMeta(p.callError(ctx, ex, timeout), meta)
	}
	return out, meta, nil
}

// decodeReply reads a reply body (status OK): the value as JSON, or the
// exception it holds.
func decodeReply(body []byte, keepClass bool) ([]byte, error, error) {
	var w replyWriter
	out, _, ex, err := decodeReplyWith(&w, body, keepClass, nil)
	return out, ex, err
}

// decodeReplyWith reads a reply body (status OK) as decodeReply does, and
// the attachments named in expose. A value reply is written by w, which
// gives up on what it does not write as hessianReader, plainValue and
// appendJSON do; then, and for exceptions, the body is read again by
// decodeReplyTree.
func decodeReplyWith(w *replyWriter, body []byte, keepClass bool, expose []string) (out []byte, meta map[string]string, ex, err error) {
	w.reset(body, keepClass)
	if k, ok := w.replyKind(); ok {
		switch k {
		case responseNullValue, responseNullValueWithAttachments:
			ok = true
			w.out = append(w.out, "null"...)
		case responseValue, responseValueWithAttachments:
			_, ok = w.value(1)
		default:
			ok = false
		}
		if ok {
			out = make([]byte, len(w.out))
			copy(out, w.out)
			if len(expose) > 0 && (k == responseValueWithAttachments || k == responseNullValueWithAttachments) {
				b := metaBuilder{names: expose}
				if w.attachments(&b) {
					return out, b.meta, nil, nil
				}
				_, meta, _, _ = decodeReplyTree(body, keepClass, expose)
			}
			return out, meta, nil, nil
		}
	}
	return decodeReplyTree(body, keepClass, expose)
}

// decodeReplyTree reads a reply body with hessianReader: the value as
// JSON (through plainValue and appendJSON), or the exception it holds,
// and the attachments named in expose.
func decodeReplyTree(body []byte, keepClass bool, expose []string) ([]byte, map[string]string, error, error) {
	r := hessianReader{b: body}
	kind, err := r.read()
	if err != nil {
		return nil, nil, nil, err
	}
	k, ok := kind.(int32)
	if !ok {
		return nil, nil, nil, fmt.Errorf("reply type is %T, want an int", kind)
	}
	// The attachments follow the value or exception, when the reply type
	// says so; a map that cannot be read exposes nothing.
	attachments := func() map[string]string {
		if len(expose) == 0 {
			return nil
		}
		switch k {
		case responseValueWithAttachments, responseNullValueWithAttachments, responseWithExceptionWithAttachments:
			if att, err := r.read(); err == nil {
				return metaOfMap(expose, att)
			}
		}
		return nil
	}
	switch k {
	case responseNullValue, responseNullValueWithAttachments:
		return []byte("null"), attachments(), nil, nil
	case responseValue, responseValueWithAttachments:
		v, err := r.read()
		if err != nil {
			return nil, nil, nil, err
		}
		out, err := hessianJSON(make([]byte, 0, 64), v, keepClass)
		if err != nil {
			return nil, nil, nil, err
		}
		return out, attachments(), nil, nil
	case responseWithException, responseWithExceptionWithAttachments:
		v, err := r.read()
		if err != nil {
			return nil, nil, nil, err
		}
		budget := maxReplyValues
		if err := checkExpansion(v, nil, &budget); err != nil {
			return nil, nil, nil, err
		}
		if e, ok := exceptionOfObject(v); ok {
			return nil, attachments(), e, nil
		}
		if s, ok := v.(string); ok {
			return nil, attachments(), errors.New(s), nil
		}
		return nil, attachments(), fmt.Errorf("the provider failed the call with a %s", describeHessian(v)), nil
	}
	return nil, nil, nil, fmt.Errorf("unknown reply type %d", k)
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
// once. Requests are queued and written in batches (see send); one reader
// goroutine routes replies by request id and answers heartbeats; another
// sends heartbeats and closes a connection that stopped answering. When
// the connection breaks, every pending request fails with UNAVAILABLE.
type dconn struct {
	nc net.Conn

	nextID atomic.Int64
	reads  atomic.Int64 // frames read, for heartbeats to see

	wmu     sync.Mutex
	out     []byte    // frames queued, not yet written
	spare   []byte    // the other buffer, written last
	outBy   time.Time // the latest deadline of the frames in out
	writing bool      // a sender is writing: it takes out along
	// wdl is the write deadline set on nc; only the writing sender
	// reads or sets it.
	wdl time.Time

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
	frame := getFrame(frameHeaderLen + int(n))
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

func (c *dconn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 32<<10)
	for {
		if r.Buffered() == 0 {
			// Let the goroutines ready to run go first (those given
			// the replies read last, say): the replies that arrive
			// meanwhile are read by one read syscall, not one each
			// (and often two: one finding nothing to read yet).
			runtime.Gosched()
		}
		frame, err := readFrame(r)
		if err != nil {
			c.fail(err)
			return
		}
		c.reads.Add(1)
		flags := frame[2]
		id := int64(binary.BigEndian.Uint64(frame[4:12]))
		if flags&flagRequest != 0 {
			// The provider's heartbeat: answer it.
			if flags&flagEvent != 0 && flags&flagTwoWay != 0 {
				// Not written from here: a write waiting for the
				// provider to read must not stop replies being read.
				go func() { _ = c.send(eventFrame(nil, id, false), time.Now().Add(10*time.Second)) }()
			}
			continue
		}
		if flags&flagEvent != 0 {
			putFrame(frame)
			continue // a reply to our heartbeat
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- frame // buffered: never blocks
		} else {
			putFrame(frame)
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
// when nothing has been read for three (a read is seen at the tick after
// it: three to four intervals after the last read).
func (c *dconn) heartbeats(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	seen, heard := c.reads.Load(), time.Now()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			if n := c.reads.Load(); n != seen {
				seen, heard = n, now
			} else if now.Sub(heard) > 3*interval {
				c.fail(errors.New("dubbo: the provider stopped answering heartbeats"))
				return
			}
			if err := c.send(eventFrame(nil, c.nextID.Add(1), true), now.Add(interval)); err != nil {
				return
			}
		}
	}
}

// Write batching: a batch's buffer is kept for the next one up to
// outKeep bytes; the connection's write deadline is moved only when a
// batch's deadline is past it or more than deadlineSlack before it.
const (
	outKeep       = 64 << 10
	deadlineSlack = 100 * time.Millisecond
)

// send queues frame (copied: the caller may reuse it at once), to be
// written by deadline. When no write is in progress, the caller writes
// the queue itself, then whatever was queued while it wrote, until the
// queue is empty, and returns the error of those writes; otherwise it
// returns nil at once and the sender writing takes the frame along.
// Concurrent requests so share write syscalls (under load, about five
// frames a write), and a lone request writes its frame straight away. A write that fails, or that is still blocked
// deadlineSlack after the latest deadline of its frames (the provider
// stopped reading), fails the connection and so every request waiting
// on it.
func (c *dconn) send(frame []byte, deadline time.Time) error {
	c.wmu.Lock()
	c.out = append(c.out, frame...)
	if deadline.After(c.outBy) {
		c.outBy = deadline
	}
	if c.writing {
		c.wmu.Unlock()
		return nil
	}
	c.writing = true
	// Let the goroutines ready to run go first: those about to send
	// queue their frames meanwhile and share this write. With none (a
	// lone request), the caller goes on at once.
	c.wmu.Unlock()
	runtime.Gosched()
	c.wmu.Lock()
	for {
		buf, by := c.out, c.outBy
		c.out, c.spare, c.outBy = c.spare[:0], nil, time.Time{}
		c.wmu.Unlock()
		err := c.flush(buf, by)
		c.wmu.Lock()
		if cap(buf) <= outKeep {
			c.spare = buf[:0]
		}
		if err != nil || len(c.out) == 0 {
			c.writing = false
			c.wmu.Unlock()
			if err != nil {
				// A partial write leaves the stream unusable.
				c.fail(err)
			}
			return err
		}
	}
}

// flush writes one batch, its frames' latest deadline by; only the
// writing sender calls it.
func (c *dconn) flush(b []byte, by time.Time) error {
	if c.wdl.Before(by) || c.wdl.After(by.Add(deadlineSlack)) {
		c.wdl = by.Add(deadlineSlack)
		if err := c.nc.SetWriteDeadline(c.wdl); err != nil {
			return err
		}
	}
	_, err := c.nc.Write(b)
	return err
}

// roundTrip sends one request frame and waits for its reply, timeout,
// ctx, or the connection breaking. When ctx has a deadline, timeout is
// the time left until it (as prepare and writeFast set it).
func (c *dconn) roundTrip(ctx context.Context, id int64, frame []byte, timeout time.Duration) ([]byte, error) {
	ch := getReplyChan()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		putReplyChan(ch)
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	}
	c.pending[id] = ch
	c.mu.Unlock()

	// No timer when ctx has a deadline: ctx.Done() tells it.
	var expired <-chan time.Time
	by, ok := ctx.Deadline()
	if !ok {
		by = time.Now().Add(timeout)
		timer := getTimer(timeout)
		defer putTimer(timer)
		expired = timer.C
	}
	if err := c.send(frame, by); err != nil {
		c.forget(id)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the provider did not answer within " + timeout.Round(time.Millisecond).String(), Err: err}
		}
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: err}
	}

	// A channel goes back to the pool only once its reply was received:
	// the reader sends on it at most once, after forgetting it.
	select {
	case reply := <-ch:
		putReplyChan(ch)
		return reply, nil
	case <-expired:
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
			putReplyChan(ch)
			return reply, nil
		default:
		}
		c.forget(id)
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "the provider is unavailable", Err: c.failure()}
	}
}

var replyChans sync.Pool // chan []byte, buffered (1)

func getReplyChan() chan []byte {
	if ch, ok := replyChans.Get().(chan []byte); ok {
		return ch
	}
	return make(chan []byte, 1)
}

func putReplyChan(ch chan []byte) { replyChans.Put(ch) }

// timers are reused: since Go 1.23 a stopped or reset timer delivers no
// stale tick.
var timers sync.Pool // *time.Timer

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}

func (c *dconn) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

var _ generic.Client = (*directClient)(nil)
