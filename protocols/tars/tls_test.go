package tars_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/internal/tlscheck"
	"github.com/rpcbridge/rpcbridge/protocols/tars"
)

// tlsFront is a TLS listener in front of a Tars servant: it completes the
// TLS handshake with cfg (requiring a client certificate when cfg says
// so) and relays the connection's bytes to the servant in clear, as a
// TLS-terminating sidecar does. The test servant (examples/stock) listens
// in clear only.
type tlsFront struct {
	ln       net.Listener
	accepted atomic.Int32 // connections whose handshake succeeded
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func startTLSFront(t *testing.T, servant string, cfg *tls.Config) *tlsFront {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFront{ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.track(c)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.relay(c.(*tls.Conn), servant)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *tlsFront) addr() string { return f.ln.Addr().String() }

func (f *tlsFront) track(c net.Conn) {
	f.mu.Lock()
	f.conns[c] = struct{}{}
	f.mu.Unlock()
}

func (f *tlsFront) relay(c *tls.Conn, servant string) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := c.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return
	}
	f.accepted.Add(1)
	b, err := net.Dial("tcp", servant)
	if err != nil {
		return
	}
	f.track(b)
	defer b.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(c, b)
		_ = c.Close()
	}()
	_, _ = io.Copy(b, c)
	_ = b.Close()
	<-done
}

// tlsClient builds the adapter from a tars service's YAML with the given
// tls: section (a YAML flow mapping) and dials addr.
func tlsClient(t *testing.T, addr string, version int, tlsYAML string) generic.Client {
	t.Helper()
	y := fmt.Sprintf(`
services:
  - name: echo
    protocol: tars
    tars: {idl: %s, servant: %s, interface: Test.Echo, version: %d}
    instances: [{address: %q}]
    tls: %s
`, testIDL, echoServant, version, addr, tlsYAML)
	cfg, err := mapping.Parse([]byte(y), mapping.Plugins{"tars": tars.Plugin{}})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", y, err)
	}
	p, err := cfg.Service("echo").Build(mapping.ProtocolEnv{})
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

func timedCall(c generic.Client, method, body string, timeout time.Duration) (*generic.Result, error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := c.Invoke(ctx, &generic.Call{Method: method, Body: []byte(body)})
	return res, err, time.Since(start)
}

func TestTLSServantCalledThroughTheTLSKey(t *testing.T) {
	ca := testcerts.NewCA(t)
	front := startTLSFront(t, startEcho(t).Addr(), testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	for _, version := range []int{1, 3} {
		t.Run(fmt.Sprintf("iVersion%d", version), func(t *testing.T) {
			c := tlsClient(t, front.addr(), version, fmt.Sprintf("{ca: %q}", ca.File(t)))
			for i := 0; i < 4; i++ {
				res, err, _ := timedCall(c, "echoLong", fmt.Sprintf(`{"v":%d}`, i), 10*time.Second)
				if err != nil {
					t.Fatalf("call %d over TLS: %v", i, err)
				}
				if got, want := string(res.Body), fmt.Sprintf(`{"return":%d}`, i); got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
			}
		})
	}
	if n := front.accepted.Load(); n < 1 || n > 4 {
		t.Fatalf("%d TLS connections for two clients of two connections each", n)
	}
}

func TestTLSServantWithUntrustedCertificateIsBackendError(t *testing.T) {
	ca := testcerts.NewCA(t)
	front := startTLSFront(t, startEcho(t).Addr(), testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	c := tlsClient(t, front.addr(), 1, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	const timeout = 3 * time.Second
	for i := 0; i < 2; i++ { // the failed connection is dialled again, and fails again
		_, err, took := timedCall(c, "ping", `{}`, timeout)
		tlscheck.Failure(t, err, took, timeout, "certificate")
	}
	if n := front.accepted.Load(); n != 0 {
		t.Fatalf("%d handshakes succeeded, want none", n)
	}
}

func TestTLSMutualNeedsTheClientCertificate(t *testing.T) {
	ca := testcerts.NewCA(t)
	front := startTLSFront(t, startEcho(t).Addr(), testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), ca))
	t.Run("without", func(t *testing.T) {
		c := tlsClient(t, front.addr(), 1, fmt.Sprintf("{ca: %q}", ca.File(t)))
		const timeout = 3 * time.Second
		_, err, took := timedCall(c, "ping", `{}`, timeout)
		tlscheck.Failure(t, err, took, timeout, "certificate")
	})
	t.Run("with", func(t *testing.T) {
		cert, key := testcerts.Files(t, ca.Client(t, "gateway"))
		c := tlsClient(t, front.addr(), 1, fmt.Sprintf("{ca: %q, cert: %q, key: %q}", ca.File(t), cert, key))
		if _, err, _ := timedCall(c, "ping", `{}`, 10*time.Second); err != nil {
			t.Fatalf("call with the client certificate: %v", err)
		}
	})
}

func TestTLSToAPlainServantIsBackendError(t *testing.T) {
	c := tlsClient(t, startEcho(t).Addr(), 1, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	const timeout = 3 * time.Second
	_, err, took := timedCall(c, "ping", `{}`, timeout)
	tlscheck.Failure(t, err, took, timeout, "TLS")
}

func TestUnreachableTLSServantIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := tlsClient(t, addr, 1, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)))
	if _, err, _ := timedCall(c, "ping", `{}`, 3*time.Second); generic.CodeOf(err) != generic.CodeUnavailable {
		t.Fatalf("got %v, want UNAVAILABLE", err)
	}
}
