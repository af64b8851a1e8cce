package backendtls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

func TestForAddressNamesTheHostOnlyWhenNoServerNameIsSet(t *testing.T) {
	if backendtls.ForAddress(nil, "127.0.0.1:1") != nil {
		t.Fatal("nil config became non-nil")
	}
	base := &tls.Config{}
	if got := backendtls.ForAddress(base, "backend.test:9090"); got.ServerName != "backend.test" || base.ServerName != "" {
		t.Fatalf("got ServerName %q (base %q), want backend.test on a copy", got.ServerName, base.ServerName)
	}
	named := &tls.Config{ServerName: "named.test"}
	if got := backendtls.ForAddress(named, "backend.test:9090"); got != named {
		t.Fatal("a config that names its server was copied")
	}
}

func TestTextReasonReadsGRPCTransportErrors(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`,
			"tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate is valid for 10.0.0.1, not 10.0.0.2"`,
			"tls: failed to verify certificate: x509: the certificate does not name the backend (see tls.server_name)"},
		{`connection error: desc = "error reading server preface: remote error: tls: bad certificate"`, "remote error: tls: bad certificate"},
		{`connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`,
			"tls: the backend does not speak TLS (first record does not look like a TLS handshake)"},
		{`connection error: desc = "transport: authentication handshake failed: EOF"`, "the backend closed the connection during the handshake"},
		{`connection error: desc = "transport: authentication handshake failed: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"`,
			"the backend closed the connection during the handshake"},
	} {
		got, ok := backendtls.TextReason(tc.msg)
		if !ok || got != tc.want {
			t.Errorf("TextReason(%q) = %q, %v; want %q", tc.msg, got, ok, tc.want)
		}
	}
	for _, msg := range []string{
		`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`,
		"name resolver error: produced zero addresses",
		`connection error: desc = "transport: authentication handshake failed: context deadline exceeded"`,
	} {
		if got, ok := backendtls.TextReason(msg); ok {
			t.Errorf("TextReason(%q) = %q, want no TLS failure", msg, got)
		}
	}
}

func TestReasonIgnoresOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("boom"), context.DeadlineExceeded,
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}} {
		if got, ok := backendtls.Reason(err); ok {
			t.Errorf("Reason(%v) = %q, want no TLS failure", err, got)
		}
	}
}

// serve accepts one connection on a TLS listener with cfg and completes
// its handshake, then echoes one byte back.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 1)
		if _, err := c.Read(b); err == nil {
			_, _ = c.Write(b)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

func TestDialTellsTheTLSFailure(t *testing.T) {
	ca := testcerts.NewCA(t)
	cert := ca.Server(t, "127.0.0.1")
	cert2, key2 := testcerts.Files(t, ca.Client(t, "gateway"))
	client, err := tls.LoadX509KeyPair(cert2, key2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		server *tls.Config
		client *tls.Config
		want   string // "" for success
	}{
		{"ok", testcerts.ServerConfig(cert, nil), &tls.Config{RootCAs: ca.Pool()}, ""},
		{"untrusted", testcerts.ServerConfig(cert, nil), &tls.Config{RootCAs: testcerts.NewCA(t).Pool()}, "certificate signed by unknown authority"},
		{"other name", testcerts.ServerConfig(cert, nil), &tls.Config{RootCAs: ca.Pool(), ServerName: "other.test"}, "does not name the backend"},
		{"no client certificate", testcerts.ServerConfig(cert, ca), &tls.Config{RootCAs: ca.Pool()}, "certificate"},
		{"client certificate", testcerts.ServerConfig(cert, ca), &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, tc.server)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := backendtls.Dial(ctx, &net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, backendtls.ForAddress(tc.client, addr))
			if err == nil {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err = c.Write([]byte{'x'}); err == nil {
					_, err = c.Read(make([]byte, 1))
				}
			}
			reason, ok := backendtls.Reason(err)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.want != "" && (!ok || !strings.Contains(reason, tc.want)):
				t.Fatalf("got %v (reason %q, %v), want a TLS failure naming %q", err, reason, ok, tc.want)
			case ok && strings.Contains(reason, "127.0.0.1"):
				t.Fatalf("reason %q names an address", reason)
			}
			if ok {
				t.Log(backendtls.Message(reason))
			}
		})
	}
}

func ExampleMessage() {
	fmt.Println(backendtls.Message("remote error: tls: certificate required"))
	// Output: TLS handshake with the backend failed: remote error: tls: certificate required
}

func TestDialToASilentBackendTimesOutAsNoTLSFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // holds the connection open, says nothing
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	start := time.Now()
	_, err = backendtls.Dial(context.Background(), &net.Dialer{Timeout: 200 * time.Millisecond}, "tcp", ln.Addr().String(),
		backendtls.ForAddress(&tls.Config{}, ln.Addr().String()))
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("dial took %s, want about the 200ms dial timeout", took)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want a timeout", err)
	}
	if reason, ok := backendtls.Reason(err); ok {
		t.Fatalf("a timeout reads as the TLS failure %q", reason)
	}
}
