package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
)

// TestCallModeAgainstANetHTTPBackend: in call mode a method is POST
// <prefix>/<method> with the JSON body and the forwarded headers; the
// JSON reply comes back exactly (int64 beyond 2^53 included); a backend's
// error status becomes the matching code with its JSON body as a detail;
// a reply that is not JSON is a BACKEND_ERROR.
func TestCallModeAgainstANetHTTPBackend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/api/echo":
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "want POST JSON", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"got":`+string(body)+`,"user":"`+r.Header.Get("X-User")+`","q":"`+r.URL.RawQuery+`"}`)
		case "/api/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"reason":"no such item"}`)
		case "/api/html":
			io.WriteString(w, "<html>oops</html>")
		}
	}))
	defer srv.Close()
	p, err := phttp.New(phttp.Options{PathPrefix: "/api"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Dial(context.Background(), generic.Target{Address: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	res, err := c.Invoke(ctx, &generic.Call{Method: "echo", Body: []byte(`{"id":9007199254740993}`),
		Meta: map[string]string{"x-user": "u-17"}, Params: []generic.Param{{Name: "page", Value: "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(res.Body), `{"got":{"id":9007199254740993},"user":"u-17","q":"page=2"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}

	_, err = c.Invoke(ctx, &generic.Call{Method: "missing"})
	e := generic.AsError(err)
	if e.Code != generic.CodeNotFound || e.BackendCode != 404 || len(e.Details) != 1 || string(e.Details[0]) != `{"reason":"no such item"}` {
		t.Fatalf("404: got %v (code %s, backend code %d, details %s), want NOT_FOUND with the body as a detail", err, e.Code, e.BackendCode, e.Details)
	}

	_, err = c.Invoke(ctx, &generic.Call{Method: "html"})
	if e := generic.AsError(err); e.Code != generic.CodeBackendError || !strings.Contains(e.Message, "not JSON") {
		t.Fatalf("html: got %v, want BACKEND_ERROR saying the reply is not JSON", err)
	}
}
