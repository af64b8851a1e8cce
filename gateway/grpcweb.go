package gateway

// gRPC-Web calls (generic.GRPCWeb): a browser's protobuf messages pass
// through to a service whose protocol carries them (generic.GRPCWebService,
// generic.GRPCWebProxy) without JSON, as Envoy's grpc_web filter does.
// Every filter has run before; the call goes through the cluster like any
// (max_concurrent, circuit breaker, balancing, ejection), retried on
// another instance only while no message has been sent. The reply is 200
// with the messages as data frames and a trailer frame with the status;
// an error before any message is "trailers-only" (the status also in
// headers). The -text variants carry the same frames as base64.

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Frame flags: a data frame carries a message, a trailer frame the status.
const (
	webData       = 0x00
	webCompressed = 0x01
	webTrailer    = 0x80
)

// isGRPCWeb reports a gRPC-Web call: a POST with one of its content types.
func isGRPCWeb(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	_, _, ok := generic.GRPCWebContentType(r.Header.Get("Content-Type"))
	return ok
}

// webCall is one gRPC-Web call's state, in one allocation.
type webCall struct {
	w    webWriter
	rd   webReader
	call generic.GRPCWebCall
	rw   http.ResponseWriter
	// first is the first request message, read before an instance is
	// picked so that a malformed body never reaches a backend.
	first     []byte
	haveFirst bool
	// sent is set once a message was handed to a backend: no retry after.
	sent bool
}

// invokeGRPCWeb makes a gRPC-Web call to t's service.
func (g *Gateway) invokeGRPCWeb(rc *reqCtx) {
	st, t, rw, r := rc.st, rc.t, rc.w, rc.r
	ws, ok := t.svc.Proto.(generic.GRPCWebService)
	if !ok || t.cluster == nil {
		refuse(rw, r, g.tag(errorf(generic.CodeUnsupportedMediaType,
			"service %q (protocol %s) does not take %s calls: call it with JSON", t.svc.Name, t.svc.Protocol, generic.GRPCWeb), t))
		return
	}
	ct, text, _ := generic.GRPCWebContentType(r.Header.Get("Content-Type"))
	wc := &webCall{rw: rw}
	wc.w = webWriter{w: rw, r: r, ct: ct, text: text, perMessage: st.cfg.Server.WriteTimeout}
	wc.rd = webReader{body: r.Body, size: r.ContentLength, text: text, max: st.cfg.Server.MaxBodyBytes}
	timeout := t.svc.Timeout
	if t.route != nil && t.route.Timeout > 0 {
		timeout = t.route.Timeout
	}
	if v := r.Header.Get(generic.GRPCWebTimeout); v != "" {
		d, ok := parseWebTimeout(v)
		if !ok {
			wc.fail(g.tag(errorf(generic.CodeInvalidArgument, "%s %q is not a valid timeout", generic.GRPCWebTimeout, generic.Clip(v)), t))
			return
		}
		timeout = min(timeout, d)
	}
	first, err := wc.rd.next()
	switch {
	case err == nil:
		wc.first, wc.haveFirst = first, true
	case err != io.EOF:
		wc.fail(g.tag(generic.AsError(err), t))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	wc.w.cancel = cancel
	wc.call = generic.GRPCWebCall{Path: ws.GRPCWebPath(t.method), Meta: callMeta(st, t, r, t.svc),
		Next: wc.next, OnHeader: wc.w.header, OnMessage: wc.w.message}
	c := t.cluster
	retries := *t.svc.Retries
	if rp := t.svc.Retry; rp != nil {
		retries = rp.Attempts - 1
	}
	if t.route != nil && t.route.Retries != nil {
		retries = *t.route.Retries
	}
	pr := pickRequest{
		tag: r.Header.Get(st.cfg.Server.TagHeader), hashKey: hashKey(t, r, rc.q),
		retries: retries, started: wc.started, info: &t.attempt,
		forward: wc.forward,
	}
	if rp := t.svc.Retry; rp != nil {
		pr.perTry, pr.backoff, pr.maxBackoff = rp.PerTryTimeout, rp.Backoff, rp.MaxBackoff
	}
	if c.split != nil && pr.tag == "" {
		pr.tag, t.split = c.split.pick(r, rc.q)
	}
	if _, err := g.call(ctx, c, &generic.Call{Service: t.service, Method: t.method}, pr); err != nil {
		e := g.tag(generic.AsError(err), t)
		if e.Code == generic.CodeInternal && e.Err != nil {
			g.log.Error("backend call failed", "service", t.svc.Name, "method", generic.Clip(t.method), "err", e.Err)
		}
		wc.fail(e)
		return
	}
	wc.w.finish(0, "", wc.call.Trailer, wc.rd.done())
}

// forward is the attempt at member m.
func (wc *webCall) forward(ctx context.Context, m *member) error {
	p, ok := m.client.(generic.GRPCWebProxy)
	if !ok {
		return generic.Errorf(generic.CodeInternal, "the client of %s cannot pass %s calls", m.inst.Address, generic.GRPCWeb)
	}
	return p.ProxyGRPCWeb(ctx, &wc.call)
}

// started reports whether the call may no longer be retried: a message
// was sent, or a reply written.
func (wc *webCall) started() bool { return wc.sent || wc.w.started }

// fail ends the call with e: in the trailer frame, after any message.
func (wc *webCall) fail(e *generic.Error) {
	if sw, ok := wc.rw.(*statusWriter); ok {
		sw.code = e.Code
	}
	wc.w.finish(generic.GRPCStatus(e), e.Message, wc.call.Trailer, wc.rd.done())
}

// next yields the request messages: the one read ahead, then the rest of
// the body, reading no longer than ctx allows.
func (wc *webCall) next(ctx context.Context) ([]byte, error) {
	if wc.haveFirst {
		wc.haveFirst, wc.sent = false, true
		return wc.first, nil
	}
	if wc.rd.done() {
		return nil, io.EOF
	}
	// The body has more (or does not say): a read that waits must end
	// with ctx.
	stop := context.AfterFunc(ctx, func() {
		http.NewResponseController(wc.rw).SetReadDeadline(time.Now())
	})
	b, err := wc.rd.next()
	stop()
	if err != nil && err != io.EOF && ctx.Err() != nil {
		return nil, generic.AsError(ctx.Err())
	}
	if err == nil {
		wc.sent = true
	}
	return b, err
}

// webReader reads gRPC-Web frames from a request body: 5 bytes (flags,
// big-endian length) then the message; -text bodies are base64, possibly
// in several padded chunks.
type webReader struct {
	body io.Reader
	size int64 // Content-Length; -1 when unknown
	text bool
	max  int64
	// read counts the body's bytes; eof is set once it ended.
	read int64
	eof  bool
	// in holds undecoded base64, out decoded bytes not yet taken (-text).
	in, out []byte
	hdr     [5]byte
}

// done reports whether the body has been read to its end.
func (rd *webReader) done() bool {
	return rd.eof && len(rd.out) == 0 && len(rd.in) == 0 || rd.size >= 0 && rd.read >= rd.size && len(rd.out) == 0 && len(rd.in) == 0
}

// next returns the next message, io.EOF at the body's end, or an
// *generic.Error: INVALID_ARGUMENT for a malformed body,
// RESOURCE_EXHAUSTED for a message over server.max_body_bytes.
func (rd *webReader) next() ([]byte, error) {
	if rd.done() {
		return nil, io.EOF
	}
	n, err := rd.full(rd.hdr[:])
	if err == io.EOF && n == 0 {
		return nil, io.EOF
	}
	if err != nil {
		return nil, rd.bodyError(err, "a frame's 5-byte prefix")
	}
	switch rd.hdr[0] {
	case webData:
	case webCompressed:
		return nil, errorf(generic.CodeUnimplemented, "compressed %s messages are not supported", generic.GRPCWeb)
	default:
		return nil, errorf(generic.CodeInvalidArgument, "malformed %s request: frame flags 0x%02x, want a data frame (0x00)", generic.GRPCWeb, rd.hdr[0])
	}
	size := binary.BigEndian.Uint32(rd.hdr[1:])
	if int64(size) > rd.max {
		return nil, errorf(generic.CodeResourceExhausted, "request message is %d bytes, more than the %d allowed (server.max_body_bytes)", size, rd.max)
	}
	msg := make([]byte, size)
	if _, err := rd.full(msg); err != nil {
		return nil, rd.bodyError(err, "a message")
	}
	return msg, nil
}

func (rd *webReader) bodyError(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(generic.CodeInvalidArgument, "malformed %s request: the body ends inside %s", generic.GRPCWeb, where)
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return errorf(generic.CodeInvalidArgument, "malformed %s request: the body is not base64: %v", generic.GRPCWeb, ce)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "the request body did not arrive in time", Err: err}
	}
	return errorf(generic.CodeInvalidArgument, "reading request body: %w", err)
}

// full fills p from the body (decoded, for -text).
func (rd *webReader) full(p []byte) (int, error) {
	if !rd.text {
		n, err := io.ReadFull(rd.body, p)
		rd.read += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			rd.eof = true
		}
		return n, err
	}
	n := 0
	for n < len(p) {
		if len(rd.out) == 0 {
			if err := rd.decode(); err != nil {
				if err == io.EOF && n > 0 {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			continue
		}
		k := copy(p[n:], rd.out)
		rd.out = rd.out[k:]
		n += k
	}
	return n, nil
}

// textChunk is how much base64 one read takes.
const textChunk = 4096

// decode reads base64 from the body and decodes what it can into out:
// whole 4-character groups, each padded chunk on its own.
func (rd *webReader) decode() error {
	for {
		if g := len(rd.in) &^ 3; g > 0 || rd.eof && len(rd.in) > 0 {
			if rd.eof && g < len(rd.in) {
				g = len(rd.in) // an unpadded end
			}
			src := rd.in[:g]
			out := rd.out[:0]
			for len(src) > 0 {
				end := len(src)
				if i := indexByte(src, '='); i >= 0 {
					end = min((i/4+1)*4, len(src))
				}
				enc := base64.StdEncoding
				if end%4 != 0 {
					enc = base64.RawStdEncoding
				}
				seg := src[:end]
				start := len(out)
				out = append(out, make([]byte, enc.DecodedLen(len(seg)))...)
				k, err := enc.Decode(out[start:], seg)
				if err != nil {
					return err
				}
				out = out[:start+k]
				src = src[end:]
			}
			rd.out = out
			rd.in = rd.in[:copy(rd.in, rd.in[g:])]
			if len(out) > 0 {
				return nil
			}
			continue
		}
		if rd.eof {
			return io.EOF
		}
		if cap(rd.in)-len(rd.in) < textChunk {
			rd.in = append(make([]byte, 0, len(rd.in)+textChunk), rd.in...)
		}
		buf := rd.in[len(rd.in) : len(rd.in)+textChunk]
		n, err := rd.body.Read(buf)
		rd.read += int64(n)
		// Whitespace between chunks is not base64.
		w := len(rd.in)
		rd.in = rd.in[:w+n]
		for _, c := range buf[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				rd.in[w] = c
				w++
			}
		}
		rd.in = rd.in[:w]
		if err == io.EOF {
			rd.eof = true
		} else if err != nil {
			return err
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// webWriter writes a gRPC-Web reply: the backend's metadata as headers,
// each message as a data frame flushed at once, then the trailer frame.
type webWriter struct {
	w          http.ResponseWriter
	r          *http.Request
	ct         string
	text       bool
	started    bool
	rc         *http.ResponseController
	perMessage time.Duration
	// cancel ends the call when the client cannot be written to.
	cancel context.CancelFunc
	buf    []byte
	enc    []byte
	hdr    [5]byte
}

// header takes the backend's response metadata as reply headers.
func (ww *webWriter) header(md map[string][]string) {
	if ww.started {
		return
	}
	h := ww.w.Header()
	for k, vs := range md {
		if !webHeaderPasses(k) {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

// webHeaderPasses reports whether a backend's metadata name may become a
// reply header: not one the reply's framing, the connection or CORS owns.
func webHeaderPasses(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection", "Keep-Alive",
		"Te", "Trailer", "Upgrade", "Proxy-Connection", "Date", "Server", "Vary":
		return false
	}
	return len(k) < 15 || http.CanonicalHeaderKey(k[:15]) != "Access-Control-"
}

func (ww *webWriter) begin(h http.Header) {
	ww.started = true
	ww.rc = http.NewResponseController(ww.w)
	h.Set("Content-Type", ww.ct)
	h.Del("Content-Length")
	ww.w.WriteHeader(http.StatusOK)
}

// message writes one reply message as a data frame and flushes it.
func (ww *webWriter) message(msg []byte) error {
	if !ww.started {
		ww.begin(ww.w.Header())
	}
	if ww.perMessage > 0 {
		ww.rc.SetWriteDeadline(time.Now().Add(ww.perMessage))
	}
	err := ww.frame(webData, msg)
	if err == nil {
		err = ww.rc.Flush()
	}
	if err != nil {
		// The client is gone: the call ends as canceled, not as a
		// failure of the backend.
		ww.cancel()
		return &generic.Error{Code: generic.CodeCanceled, Message: "the client stopped reading the reply", Err: err}
	}
	return nil
}

func (ww *webWriter) frame(flags byte, msg []byte) error {
	hdr := ww.hdr[:]
	hdr[0] = flags
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(msg)))
	if !ww.text {
		if _, err := ww.w.Write(hdr); err != nil {
			return err
		}
		_, err := ww.w.Write(msg)
		return err
	}
	// Each frame is base64 on its own, padded: a client decodes the
	// reply in 4-character groups as it arrives.
	ww.buf = append(append(ww.buf[:0], hdr...), msg...)
	n := base64.StdEncoding.EncodedLen(len(ww.buf))
	if cap(ww.enc) < n {
		ww.enc = make([]byte, n)
	}
	ww.enc = ww.enc[:n]
	base64.StdEncoding.Encode(ww.enc, ww.buf)
	_, err := ww.w.Write(ww.enc)
	return err
}

// finish writes the trailer frame. Before any message the reply is
// trailers-only: the status is also in headers. bodyRead tells whether
// the request body was read to its end (otherwise an HTTP/1 connection
// closes after the reply).
func (ww *webWriter) finish(code int, msg string, trailer map[string][]string, bodyRead bool) {
	if !ww.started {
		h := ww.w.Header()
		h.Set(generic.GRPCWebStatus, strconv.Itoa(code))
		if msg != "" {
			h.Set(generic.GRPCWebMessage, string(generic.AppendGRPCMessage(nil, msg)))
		}
		if !bodyRead && ww.r.ProtoMajor == 1 && hasBody(ww.r) {
			h.Set("Connection", "close")
		}
		ww.begin(h)
	}
	block := generic.AppendGRPCWebTrailers(nil, code, msg, trailer)
	if ww.frame(webTrailer, block) == nil {
		ww.rc.Flush()
	}
}

// parseWebTimeout reads a grpc-timeout value: at most 8 digits and a
// unit (H, M, S, m, u, n).
func parseWebTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	var n time.Duration
	for i := 0; i < len(v)-1; i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + time.Duration(c-'0')
	}
	// Eight digits of hours still fit a time.Duration.
	return n * unit, true
}
