package gateway

// The console: one embedded page on the control plane (GET /) that shows
// the services, their instances, the routes, the config and recent
// errors, and tries any method through the data plane's handler.

import (
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

//go:embed console/index.html
var consolePage []byte

// recentErrors keeps the last errors the data plane answered.
type recentErrors struct {
	mu   sync.Mutex
	ring []errorEntry
	next int
	n    int
}

type errorEntry struct {
	Time    string `json:"time"`
	Status  int    `json:"status"`
	Code    string `json:"code,omitempty"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Service string `json:"service,omitempty"`
	API     string `json:"api,omitempty"`
}

// maxRecentErrors bounds the ring.
const maxRecentErrors = 100

func (e *recentErrors) add(x errorEntry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ring == nil {
		e.ring = make([]errorEntry, maxRecentErrors)
	}
	e.ring[e.next] = x
	e.next = (e.next + 1) % maxRecentErrors
	e.n = min(e.n+1, maxRecentErrors)
}

// list returns the errors, newest first.
func (e *recentErrors) list() []errorEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]errorEntry, 0, e.n)
	for i := 1; i <= e.n; i++ {
		out = append(out, e.ring[(e.next-i+maxRecentErrors)%maxRecentErrors])
	}
	return out
}

// tryRequest is a request the console sends through the data plane.
type tryRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	// Body is the request body's text, sent as it is.
	Body string `json:"body"`
}

func (g *Gateway) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		w.Write(consolePage)
	})
	mux.HandleFunc("GET /admin/errors", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"errors": g.errors.list()})
	})
	mux.HandleFunc("POST /admin/try", func(w http.ResponseWriter, r *http.Request) {
		var tr tryRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&tr); err != nil {
			writeError(w, errorf(generic.CodeInvalidArgument, "want {method, path, headers, body}: %v", err))
			return
		}
		if !strings.HasPrefix(tr.Path, "/") {
			writeError(w, errorf(generic.CodeInvalidArgument, "path must start with /"))
			return
		}
		var body io.Reader
		if tr.Body != "" {
			body = strings.NewReader(tr.Body)
		}
		req := httptest.NewRequest(strings.ToUpper(tr.Method), tr.Path, body).WithContext(r.Context())
		req.RemoteAddr = r.RemoteAddr
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range tr.Headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		g.ServeHTTP(rec, req)
		took := time.Since(start)
		headers := map[string]string{}
		for k := range rec.Header() {
			headers[k] = rec.Header().Get(k)
		}
		writeJSON(w, 200, map[string]any{"status": rec.Code, "headers": headers, "body": rec.Body.String(),
			"latency_ms": float64(took.Microseconds()) / 1000})
	})
}
