package gateway

// Calls whose requests are a stream of messages (client- and
// bidirectional-streaming gRPC methods): an NDJSON request body, one JSON
// message per line, read as it arrives; or a WebSocket, one JSON message
// per text frame each way, closed with the call's final status. Such a
// call is bounded by server.streams (idle time between messages, message
// size, streams per connection), not by its service's timeout, and is
// never retried, mirrored or answered from a fallback: its request cannot
// be replayed.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/rpcbridge/rpcbridge/generic"
)

// isNDJSON reports a request whose body is a stream of JSON messages.
func isNDJSON(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/x-ndjson"
}

// isWebSocket reports a WebSocket opening handshake.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && isUpgrade(r) && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// routeMethod is the method a request is routed by: a WebSocket carries
// what a POST would, so it opens on the path of a POST route.
func routeMethod(r *http.Request) string {
	if isWebSocket(r) {
		return http.MethodPost
	}
	return r.Method
}

// errStreamIdle is the cause of a stream ended by server.streams.idle_timeout.
var errStreamIdle = errors.New("stream idle")

// streamCall is the context of one streaming call and its idle timer,
// which any message either way resets.
type streamCall struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   *time.Timer
	d      time.Duration
}

func newStreamCall(parent context.Context, idle time.Duration) *streamCall {
	s := &streamCall{d: idle}
	s.ctx, s.cancel = context.WithCancelCause(parent)
	s.idle = time.AfterFunc(idle, func() { s.cancel(errStreamIdle) })
	return s
}

func (s *streamCall) touch() { s.idle.Reset(s.d) }

func (s *streamCall) stop() {
	s.idle.Stop()
	s.cancel(nil)
}

// explain replaces an error caused by the idle timer with one that says
// so.
func (s *streamCall) explain(err error) error {
	if err != nil && context.Cause(s.ctx) == errStreamIdle {
		return &generic.Error{Code: generic.CodeDeadlineExceeded, Err: err,
			Message: fmt.Sprintf("no stream message either way for %v (server.streams.idle_timeout)", s.d)}
	}
	return err
}

// acquireStream counts a stream against its connection's
// server.streams.max_per_connection; release undoes it.
func acquireStream(r *http.Request, max int) (release func(), err error) {
	c, _ := r.Context().Value(connKey{}).(*conn)
	if c == nil {
		return func() {}, nil
	}
	if n := c.streams.Add(1); int(n) > max {
		c.streams.Add(-1)
		return nil, errorf(generic.CodeResourceExhausted,
			"this connection has %d streams open, the most allowed (server.streams.max_per_connection)", max)
	}
	return func() { c.streams.Add(-1) }, nil
}

// invokeStream runs a call whose requests are a stream.
func (g *Gateway) invokeStream(rc *reqCtx, call *generic.Call) {
	st, t, rw, r := rc.st, rc.t, rc.w, rc.r
	ws := isWebSocket(r)
	if !t.svc.StreamsRequests() {
		e := errorf(generic.CodeUnsupportedMediaType,
			"service %q takes one JSON request (Content-Type: application/json): its protocol has no client- or bidirectional-streaming methods", t.svc.Name)
		if ws {
			e = errorf(generic.CodeInvalidArgument,
				"service %q takes no WebSocket: its protocol has no client- or bidirectional-streaming methods", t.svc.Name)
		}
		refuse(rw, r, g.tag(e, t))
		return
	}
	lim := st.cfg.Server.Streams
	release, err := acquireStream(r, lim.MaxPerConnection)
	if err != nil {
		refuse(rw, r, g.tag(generic.AsError(err), t))
		return
	}
	defer release()
	sc := newStreamCall(r.Context(), lim.IdleTimeout)
	defer sc.stop()
	pr := pickRequest{tag: r.Header.Get(st.cfg.Server.TagHeader), hashKey: hashKey(t, r, rc.q), info: &t.attempt,
		started: func() bool { return true }}
	if c := t.cluster; c.split != nil && pr.tag == "" {
		pr.tag, t.split = c.split.pick(r, rc.q)
	}
	if ws {
		g.invokeWebSocket(rc, call, sc, pr)
		return
	}
	// The body is read as it arrives, for as long as messages keep
	// coming: no whole-request read deadline. Over HTTP/1.1 replies may
	// go out while it does.
	rcon := http.NewResponseController(rw)
	rcon.SetReadDeadline(time.Time{})
	rcon.SetWriteDeadline(time.Time{})
	rcon.EnableFullDuplex()
	if r.ProtoMajor == 1 {
		// The call may end before the body does (a backend's early
		// answer, a bad message): such a connection cannot carry
		// another request, so none is invited.
		rw.Header().Set("Connection", "close")
	}
	nr := &ndjsonReader{br: bufio.NewReader(r.Body), max: lim.MaxMessageBytes, depth: st.cfg.Server.MaxJSONDepth,
		rcon: rcon, sc: sc}
	call.NextMessage = nr.next
	sw := newStreamWriter(rw, r, st.cfg.Server.WriteTimeout)
	call.OnMessage = func(m []byte) error {
		sc.touch()
		return sw.send(m)
	}
	res, err := g.call(sc.ctx, t.cluster, call, pr)
	if err != nil {
		sw.failOrError(g.tag(generic.AsError(sc.explain(err)), t))
		return
	}
	if res.Streamed {
		sw.finish()
		return
	}
	rcon.SetWriteDeadline(time.Now().Add(st.cfg.Server.WriteTimeout))
	writeResult(rw, res)
}

// ndjsonReader yields the lines of an NDJSON body as messages; blank
// lines are skipped, the last line needs no newline.
type ndjsonReader struct {
	br    *bufio.Reader
	max   int64
	depth int
	rcon  *http.ResponseController
	sc    *streamCall
	n     int
	buf   []byte
}

func (nr *ndjsonReader) next(ctx context.Context) ([]byte, error) {
	// A caller that sends nothing more cannot hold the call past ctx.
	stop := context.AfterFunc(ctx, func() { nr.rcon.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		line, err := nr.line()
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err == io.EOF {
				return nil, io.EOF
			}
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, err
		}
		nr.sc.touch()
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		nr.n++
		if err := generic.CheckJSON(line, nr.depth); err != nil {
			e := generic.AsError(err)
			return nil, &generic.Error{Code: e.Code, Err: e, Message: fmt.Sprintf("stream message %d: %s", nr.n, e.Message)}
		}
		// The adapter may keep the message until the next call.
		return bytes.Clone(line), nil
	}
}

// line reads up to and including the next newline (or to the end).
func (nr *ndjsonReader) line() ([]byte, error) {
	nr.buf = nr.buf[:0]
	for {
		part, err := nr.br.ReadSlice('\n')
		nr.buf = append(nr.buf, part...)
		if int64(len(bytes.TrimRight(nr.buf, "\r\n"))) > nr.max {
			return nil, errorf(generic.CodeBodyTooLarge,
				"stream message %d is larger than the %d bytes allowed (server.streams.max_message_bytes)", nr.n+1, nr.max)
		}
		switch {
		case err == nil:
			return nr.buf, nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			return nr.buf, io.EOF
		default:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, &generic.Error{Code: generic.CodeCanceled, Message: "the request stream stopped arriving", Err: err}
			}
			return nil, &generic.Error{Code: generic.CodeCanceled, Message: "the caller went away before ending its request stream", Err: err}
		}
	}
}

// invokeWebSocket runs a streaming call over a WebSocket: each text
// message is a request message, each reply message a text message, and
// the call's final status closes the socket: 1000 for OK, else 4000 + the
// gRPC status code, with the JSON error as the reason. A client ends its
// half of the stream with a normal close (1000); the gateway answers it
// with the final status once the backend is done.
func (g *Gateway) invokeWebSocket(rc *reqCtx, call *generic.Call, sc *streamCall, pr pickRequest) {
	st, t, rw, r := rc.st, rc.t, rc.w, rc.r
	lim := st.cfg.Server.Streams
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Same-origin pages, and origins the cors block allows (the CORS
		// filter has already answered for them).
		CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return o == "" || sameOrigin(o, r.Host) || rw.Header().Get("Access-Control-Allow-Origin") != ""
		},
		Error: func(_ http.ResponseWriter, _ *http.Request, status int, reason error) {
			code := generic.CodeInvalidArgument
			if status == http.StatusForbidden {
				code = generic.CodePermissionDenied
			}
			writeError(rw, g.tag(&generic.Error{Code: code, Status: status, Message: "websocket: " + reason.Error()}, t))
		},
	}
	// The handshake and the socket live outside the server's deadlines.
	rcon := http.NewResponseController(rw)
	rcon.SetReadDeadline(time.Time{})
	rcon.SetWriteDeadline(time.Time{})
	// The handshake needs the server's own writer (it hijacks the
	// connection); the status and error code are noted for the access
	// log and metrics.
	sw, _ := rw.(*statusWriter)
	if sw == nil {
		writeError(rw, errorf(generic.CodeInternal, "websocket: the response cannot be taken over"))
		return
	}
	conn, err := up.Upgrade(sw.ResponseWriter, r, nil)
	if err != nil {
		if !sw.wrote {
			sw.status, sw.wrote = http.StatusBadRequest, true
		}
		return
	}
	sw.status, sw.wrote = http.StatusSwitchingProtocols, true
	defer conn.Close()
	// A client's close frame ends its half of the stream; the answer is
	// the final status, sent when the backend is done.
	var clientClosed bool
	conn.SetCloseHandler(func(int, string) error { return nil })
	depth := st.cfg.Server.MaxJSONDepth
	n := 0
	call.NextMessage = func(ctx context.Context) ([]byte, error) {
		stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
		defer stop()
		typ, msg, err := readMessage(conn, lim.MaxMessageBytes)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseNoStatusReceived):
				clientClosed = true
				return nil, io.EOF
			case errors.As(err, &ce):
				clientClosed = true
				return nil, &generic.Error{Code: generic.CodeCanceled, Err: err,
					Message: fmt.Sprintf("the client closed the WebSocket with code %d", ce.Code)}
			case errors.Is(err, errMessageTooLarge):
				return nil, errorf(generic.CodeBodyTooLarge,
					"stream message %d is larger than the %d bytes allowed (server.streams.max_message_bytes)", n+1, lim.MaxMessageBytes)
			}
			return nil, &generic.Error{Code: generic.CodeCanceled, Message: "the WebSocket connection was lost", Err: err}
		}
		sc.touch()
		n++
		if typ != websocket.TextMessage {
			return nil, errorf(generic.CodeInvalidArgument, "stream message %d: send each JSON message as a text frame, got a binary one", n)
		}
		if err := generic.CheckJSON(msg, depth); err != nil {
			e := generic.AsError(err)
			return nil, &generic.Error{Code: e.Code, Err: e, Message: fmt.Sprintf("stream message %d: %s", n, e.Message)}
		}
		return msg, nil
	}
	var wmu sync.Mutex
	send := func(m []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		sc.touch()
		conn.SetWriteDeadline(time.Now().Add(st.cfg.Server.WriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, m)
	}
	call.OnMessage = send
	res, err := g.call(sc.ctx, t.cluster, call, pr)
	if err == nil && !res.Streamed && !res.NoReply {
		// A client-streaming method's one reply.
		err = send(res.Body)
	}
	var e *generic.Error
	if err != nil {
		e = g.tag(generic.AsError(sc.explain(err)), t)
		sw.code = e.Code
	}
	wmu.Lock()
	defer wmu.Unlock()
	code, reason := closeStatus(e)
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	if !clientClosed {
		// Give the client a moment to answer the close, as the protocol
		// asks; then the connection is closed regardless.
		conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			if _, _, err := conn.NextReader(); err != nil {
				break
			}
		}
	}
}

// errMessageTooLarge: a WebSocket message over server.streams.max_message_bytes.
var errMessageTooLarge = errors.New("message too large")

// readMessage reads one message of at most max bytes. The limit is kept
// here rather than by the library, which would close the socket itself
// (1009) before the gateway could give its final status.
func readMessage(conn *websocket.Conn, max int64) (int, []byte, error) {
	typ, rd, err := conn.NextReader()
	if err != nil {
		return 0, nil, err
	}
	msg, err := io.ReadAll(io.LimitReader(rd, max+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(msg)) > max {
		return 0, nil, errMessageTooLarge
	}
	return typ, msg, nil
}

// maxCloseReason is the most a close frame's reason may hold (RFC 6455:
// 125 bytes of payload, 2 of them the code).
const maxCloseReason = 123

// closeStatus is the close code and reason for a call's final status:
// 1000 for OK, 4000 + the gRPC status code otherwise, with the JSON error
// shortened until it fits.
func closeStatus(e *generic.Error) (int, string) {
	if e == nil {
		return websocket.CloseNormalClosure, ""
	}
	code := 4000 + generic.GRPCStatusCode(e)
	body := e.MarshalBody()
	if len(body) <= maxCloseReason {
		return code, string(body)
	}
	// Keep the code and as much of the message as fits, as valid JSON.
	msg := e.Message
	for {
		b, _ := json.Marshal(map[string]map[string]string{"error": {"code": string(e.Code), "message": msg}})
		if len(b) <= maxCloseReason || msg == "" {
			return code, string(b)
		}
		cut := len(msg) - max(1, len(b)-maxCloseReason)
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
}
