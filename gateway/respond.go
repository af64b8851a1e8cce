package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// statusWriter records the status written, for metrics and access logs.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	bytes  int
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

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeError(w http.ResponseWriter, e *generic.Error) {
	h := w.Header()
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
}

func newStreamWriter(w http.ResponseWriter, r *http.Request) *streamWriter {
	return &streamWriter{w: w, r: r}
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

// cors writes CORS headers; it reports true when it answered a preflight.
func (g *Gateway) cors(c *mapping.CORS, w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if c == nil || origin == "" {
		return false
	}
	allowed := ""
	for _, o := range c.AllowOrigins {
		if o == "*" && !c.AllowCredentials {
			allowed = "*"
			break
		}
		if o == "*" || strings.EqualFold(o, origin) {
			allowed = origin
			break
		}
	}
	if allowed == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allowed)
	if allowed != "*" {
		h.Add("Vary", "Origin")
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ", "))
	}
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	methods := "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	if len(c.AllowMethods) > 0 {
		methods = strings.Join(c.AllowMethods, ", ")
	}
	h.Set("Access-Control-Allow-Methods", methods)
	if len(c.AllowHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ", "))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge.Seconds())))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}
