package thrift

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/internal/tlscheck"
)

// tlsConfigs are the server set-ups the TLS tests run against.
var tlsConfigs = []serverConfig{configs[0], configs[3]}

func withTLS(cfg serverConfig, tc *tls.Config) serverConfig {
	cfg.tls = tc
	return cfg
}

// tlsClient builds the adapter from a thrift service's YAML with the given
// tls: section (a YAML flow mapping) and dials addr.
func tlsClient(t *testing.T, addr string, cfg serverConfig, tlsYAML string) *Client {
	t.Helper()
	y := fmt.Sprintf(`
services:
  - name: all
    protocol: thrift
    thrift: {idl: ../../testdata/thrift/alltypes.thrift, service: AllTypes, protocol: %s, transport: %s}
    instances: [{address: %q}]
    tls: %s
`, cfg.protocol, cfg.transport, addr, tlsYAML)
	c, err := mapping.Parse([]byte(y), mapping.Plugins{"thrift": Plugin{}})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", y, err)
	}
	p, err := c.Service("all").Build(mapping.ProtocolEnv{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	cl, err := p.Dial(context.Background(), targetOf(addr))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl.(*Client)
}

func ping(c generic.Client, msg string, timeout time.Duration) (*generic.Result, error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := c.Invoke(ctx, &generic.Call{Method: "ping", Body: []byte(`{"msg":"` + msg + `"}`)})
	return res, err, time.Since(start)
}

func TestTLSBackendCalledThroughTheTLSKey(t *testing.T) {
	ca := testcerts.NewCA(t)
	for _, cfg := range tlsConfigs {
		t.Run(cfg.String(), func(t *testing.T) {
			s := startServer(t, withTLS(cfg, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil)))
			c := tlsClient(t, s.addr, cfg, fmt.Sprintf("{ca: %q}", ca.File(t)))
			for i := 0; i < 5; i++ {
				res, err, _ := ping(c, fmt.Sprint(i), 10*time.Second)
				if err != nil {
					t.Fatalf("call %d over TLS: %v", i, err)
				}
				if got, want := string(res.Body), fmt.Sprintf(`"pong:%d"`, i); got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
			}
			// The idle TLS connection is reused: its socket looks idle.
			if got := s.accepted.Load(); got != 1 {
				t.Fatalf("accepted connections: got %d, want 1", got)
			}
		})
	}
}

func TestTLSIdleConnectionClosedByServerIsNotReused(t *testing.T) {
	ca := testcerts.NewCA(t)
	cfg := tlsConfigs[0]
	s := startServer(t, withTLS(cfg, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil)))
	c := tlsClient(t, s.addr, cfg, fmt.Sprintf("{ca: %q}", ca.File(t)))
	if _, err, _ := ping(c, "a", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s.cutConnections()
	c.pool.mu.Lock()
	idle := c.pool.idle[0]
	c.pool.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !idle.trans.peek.peerClosed() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err, _ := ping(c, "b", 10*time.Second); err != nil {
		t.Fatalf("call after the server closed the idle connection: %v", err)
	}
	if got := s.accepted.Load(); got != 2 {
		t.Fatalf("accepted connections: got %d, want 2", got)
	}
}

func TestTLSBackendWithUntrustedCertificateIsBackendError(t *testing.T) {
	ca := testcerts.NewCA(t)
	cfg := tlsConfigs[0]
	s := startServer(t, withTLS(cfg, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil)))
	c := tlsClient(t, s.addr, cfg, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	const timeout = 3 * time.Second
	_, err, took := ping(c, "x", timeout)
	tlscheck.Failure(t, err, took, timeout, "certificate")
}

func TestTLSMutualNeedsTheClientCertificate(t *testing.T) {
	ca := testcerts.NewCA(t)
	for _, cfg := range tlsConfigs {
		t.Run(cfg.String(), func(t *testing.T) {
			s := startServer(t, withTLS(cfg, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), ca)))
			t.Run("without", func(t *testing.T) {
				c := tlsClient(t, s.addr, cfg, fmt.Sprintf("{ca: %q}", ca.File(t)))
				const timeout = 3 * time.Second
				_, err, took := ping(c, "x", timeout)
				tlscheck.Failure(t, err, took, timeout, "certificate")
			})
			t.Run("with", func(t *testing.T) {
				cert, key := testcerts.Files(t, ca.Client(t, "gateway"))
				c := tlsClient(t, s.addr, cfg, fmt.Sprintf("{ca: %q, cert: %q, key: %q}", ca.File(t), cert, key))
				if _, err, _ := ping(c, "x", 10*time.Second); err != nil {
					t.Fatalf("call with the client certificate: %v", err)
				}
			})
		})
	}
}

func TestTLSToAPlainBackendIsBackendError(t *testing.T) {
	cfg := tlsConfigs[0]
	s := startServer(t, cfg)
	c := tlsClient(t, s.addr, cfg, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	const timeout = 3 * time.Second
	_, err, took := ping(c, "x", timeout)
	tlscheck.Failure(t, err, took, timeout, "TLS")
}
