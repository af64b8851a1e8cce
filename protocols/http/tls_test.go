package http_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/mapping"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
	"github.com/rpcbridge/rpcbridge/protocols/internal/tlscheck"
)

// startTLSBackend serves POST /api/<method> over TLS with cfg, answering
// {"method": ..., "tls": true, "client": <client certificate's CN>}.
func startTLSBackend(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			client = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": strings.TrimPrefix(r.URL.Path, "/api/"), "tls": r.TLS != nil, "client": client})
	}))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// tlsClient builds the adapter from an http service's YAML with the given
// tls: section (a YAML flow mapping) and dials addr.
func tlsClient(t *testing.T, addr, tlsYAML string) generic.Client {
	t.Helper()
	y := fmt.Sprintf(`
services:
  - name: api
    protocol: http
    http: {path_prefix: /api}
    instances: [{address: %q}]
    tls: %s
`, addr, tlsYAML)
	cfg, err := mapping.Parse([]byte(y), mapping.Plugins{"http": phttp.Plugin{}})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", y, err)
	}
	p, err := cfg.Service("api").Build(mapping.ProtocolEnv{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	c, err := p.Dial(context.Background(), generic.Target{Address: addr})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func call(c generic.Client, timeout time.Duration) (*generic.Result, error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := c.Invoke(ctx, &generic.Call{Method: "hello", Body: []byte(`{}`)})
	return res, err, time.Since(start)
}

func TestTLSBackendCalledOverHTTPS(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSBackend(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", ca.File(t)))
	for i := 0; i < 3; i++ {
		res, err, _ := call(c, 10*time.Second)
		if err != nil {
			t.Fatalf("call %d over https: %v", i, err)
		}
		if got, want := string(res.Body), `{"client":"","method":"hello","tls":true}`+"\n"; got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

func TestTLSBackendWithUntrustedCertificateIsBackendError(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSBackend(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	const timeout = 3 * time.Second
	_, err, took := call(c, timeout)
	tlscheck.Failure(t, err, took, timeout, "certificate")
}

func TestTLSMutualNeedsTheClientCertificate(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSBackend(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), ca))
	t.Run("without", func(t *testing.T) {
		c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", ca.File(t)))
		const timeout = 3 * time.Second
		_, err, took := call(c, timeout)
		tlscheck.Failure(t, err, took, timeout, "certificate")
	})
	t.Run("with", func(t *testing.T) {
		cert, key := testcerts.Files(t, ca.Client(t, "gateway"))
		c := tlsClient(t, addr, fmt.Sprintf("{ca: %q, cert: %q, key: %q}", ca.File(t), cert, key))
		res, err, _ := call(c, 10*time.Second)
		if err != nil {
			t.Fatalf("call with the client certificate: %v", err)
		}
		if !strings.Contains(string(res.Body), `"client":"gateway"`) {
			t.Fatalf("backend did not see the gateway's certificate: %s", res.Body)
		}
	})
}

func TestTLSToAPlainBackendIsBackendError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	c := tlsClient(t, srv.Listener.Addr().String(), fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	const timeout = 3 * time.Second
	_, err, took := call(c, timeout)
	tlscheck.Failure(t, err, took, timeout, "does not speak TLS")
}

func TestDownTLSBackendIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	_, err, _ = call(c, 3*time.Second)
	if ge := generic.AsError(err); ge.Code != generic.CodeUnavailable {
		t.Fatalf("got %v (%s), want UNAVAILABLE", err, ge.Code)
	}
}
