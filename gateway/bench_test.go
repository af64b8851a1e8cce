package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkGatewayGRPCGet measures one HTTP/JSON -> gRPC -> JSON call
// through the gateway's handler (no HTTP client or listener on the
// gateway side), against the real sample service.
func BenchmarkGatewayGRPCGet(b *testing.B) {
	addr := startPeople(b, true)
	e := newEnvB(b, peopleYAML, map[string]string{"addr": addr, "dead": addr})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/people/Get", strings.NewReader(`{"id": "1"}`))
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("got %d %s", w.Code, w.Body.String())
			}
		}
	})
}
