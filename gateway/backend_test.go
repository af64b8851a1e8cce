package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// backend is a real HTTP backend that answers {"instance": name}, or fails
// with 500 while broken.
type backend struct {
	name   string
	srv    *httptest.Server
	hits   atomic.Int64
	broken atomic.Bool
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if b.broken.Load() {
			w.WriteHeader(500)
			return
		}
		fmt.Fprintf(w, `{"instance": %q}`, name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func instanceOf(t *testing.T, r reply) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("got %d %s, want 200", r.status, r.body)
	}
	return strings.Trim(field(t, r.body, "instance"), `"`)
}
