package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/stock"
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
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("got %d %s", w.Code, w.Body.String())
			}
		}
	})
}

func benchGateway(b *testing.B, yaml string, vars map[string]string, method, path, body string) {
	g := newEnvB(b, yaml, vars)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("got %d %s", w.Code, w.Body.String())
			}
		}
	})
}

// BenchmarkGatewayThriftGetOrder: HTTP/JSON -> Thrift -> JSON through the
// gateway's handler against the real sample Thrift service.
func BenchmarkGatewayThriftGetOrder(b *testing.B) {
	srv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Stop() })
	idl := filepath.Join(b.TempDir(), "order.thrift")
	os.WriteFile(idl, orders.IDL, 0o644)
	benchGateway(b, `
services:
  - name: orders
    protocol: thrift
    thrift: {idl: "{{idl}}", service: OrderService}
    instances: [{address: "{{addr}}"}]
`, map[string]string{"addr": srv.Addr(), "idl": idl}, "POST", "/orders/getOrder", `{"id": 1}`)
}

// BenchmarkGatewayTarsGetQuote: HTTP/JSON -> Tars -> JSON through the
// gateway's handler against the real sample Tars servant.
func BenchmarkGatewayTarsGetQuote(b *testing.B) {
	srv, err := stock.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	idl := filepath.Join(b.TempDir(), "Stock.tars")
	os.WriteFile(idl, stock.IDL, 0o644)
	benchGateway(b, `
services:
  - name: stock
    protocol: tars
    tars: {idl: "{{idl}}", servant: Demo.StockServer.StockObj, interface: Stock}
    instances: [{address: "{{addr}}"}]
`, map[string]string{"addr": srv.Addr(), "idl": idl}, "POST", "/stock/getQuote", `{"code": "600000"}`)
}
