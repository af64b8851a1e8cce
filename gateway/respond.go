package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// statusWriter records the status written, for metrics and access logs.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	bytes  int
	code   generic.Code // the error code of an error reply
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// statusCode is the status written, 200 when the handler wrote none.
func (w *statusWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeError(w http.ResponseWriter, e *generic.Error) {
	if sw, ok := w.(*statusWriter); ok {
		sw.code = e.Code
	}
	h := w.Header()
	for k, v := range e.Meta {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(e.HTTPStatus())
	w.Write(e.MarshalBody())
}

func writeResult(w http.ResponseWriter, res *generic.Result) {
	h := w.Header()
	for k, v := range res.Meta {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if res.NoReply {
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte("{}"))
		return
	}
	body := res.Body
	if len(body) == 0 {
		body = []byte("{}")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// streamWriter writes server-streaming replies: Server-Sent Events when
// the client accepts text/event-stream, newline-delimited JSON otherwise.
type streamWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	r       *http.Request
	sse     bool
	started bool
	rc      *http.ResponseController
	// perMessage extends the write deadline before each message, so that a
	// long stream outlives server.write_timeout while each write is bounded.
	perMessage time.Duration
}

func newStreamWriter(w http.ResponseWriter, r *http.Request, perMessage time.Duration) *streamWriter {
	return &streamWriter{w: w, r: r, perMessage: perMessage}
}

func (s *streamWriter) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

func (s *streamWriter) begin() {
	if s.started {
		return
	}
	s.started = true
	s.sse = strings.Contains(s.r.Header.Get("Accept"), "text/event-stream")
	s.rc = http.NewResponseController(s.w)
	h := s.w.Header()
	if s.sse {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	s.w.WriteHeader(http.StatusOK)
}

func (s *streamWriter) send(msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.begin()
	if s.perMessage > 0 {
		s.rc.SetWriteDeadline(time.Now().Add(s.perMessage))
	}
	var err error
	if s.sse {
		_, err = s.w.Write(append(append([]byte("data: "), compactLine(msg)...), '\n', '\n'))
	} else {
		_, err = s.w.Write(append(compactLine(msg), '\n'))
	}
	if err == nil {
		err = s.rc.Flush()
	}
	return err
}

// fail ends a started stream with an error: an `error` event (SSE) or a
// final {"error":...} line (NDJSON).
func (s *streamWriter) fail(e *generic.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sse {
		s.w.Write(append(append([]byte("event: error\ndata: "), e.MarshalBody()...), '\n', '\n'))
	} else {
		s.w.Write(append(e.MarshalBody(), '\n'))
	}
	s.rc.Flush()
}

// failOrError answers a failed call: an error ending the stream when it
// has started, else the error reply.
func (s *streamWriter) failOrError(e *generic.Error) {
	if s.isStarted() {
		s.fail(e)
		return
	}
	writeError(s.w, e)
}

// finish is called after the last message; a stream with no messages still
// answers 200 with an empty body.
func (s *streamWriter) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.begin()
	s.rc.Flush()
}

// compactLine removes the newlines a pretty-printed JSON message may hold,
// so that one message stays one line (JSON strings never hold raw newlines).
func compactLine(b []byte) []byte {
	if !strings.ContainsAny(string(b), "\r\n") {
		return b
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\n' && c != '\r' {
			out = append(out, c)
		}
	}
	return out
}
