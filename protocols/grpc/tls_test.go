package grpc_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/reflection"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
	"github.com/rpcbridge/rpcbridge/protocols/internal/tlscheck"
)

// startTLSPeople serves the sample PeopleService, with reflection, over
// TLS with cfg on 127.0.0.1:0.
func startTLSPeople(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := gogrpc.NewServer(gogrpc.Creds(credentials.NewTLS(cfg)))
	demov1.RegisterPeopleServiceServer(gs, people.NewService())
	reflection.Register(gs)
	done := make(chan error, 1)
	go func() { done <- gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		if err := <-done; err != nil && !errors.Is(err, gogrpc.ErrServerStopped) {
			t.Errorf("serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// tlsClient builds the adapter from a grpc service's YAML with the given
// tls: section (a YAML flow mapping, "" for none) and dials addr.
func tlsClient(t *testing.T, addr, tlsYAML, schema string) generic.Client {
	t.Helper()
	y := fmt.Sprintf(`
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService%s}
    instances: [{address: %q}]
`, schema, addr)
	if tlsYAML != "" {
		y += "    tls: " + tlsYAML + "\n"
	}
	cfg, err := mapping.Parse([]byte(y), mapping.Plugins{"grpc": grpc.Plugin{}})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", y, err)
	}
	p, err := cfg.Service("people").Build(mapping.ProtocolEnv{})
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

// tlsSchemas are the ways of getting the schema: by reflection (fetched
// over the TLS connection) and from a protoset.
var tlsSchemas = []struct{ name, yaml string }{
	{"reflection", ""},
	{"protoset", ", schema: {protoset: [" + testdata + "/people.protoset]}"},
}

func getPerson(c generic.Client, timeout time.Duration) (*generic.Result, error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)})
	return res, err, time.Since(start)
}

func TestTLSBackendCalledThroughTheTLSKey(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSPeople(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	for _, s := range tlsSchemas {
		t.Run(s.name, func(t *testing.T) {
			c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", ca.File(t)), s.yaml)
			res, err, _ := getPerson(c, 10*time.Second)
			if err != nil {
				t.Fatalf("call over TLS: %v", err)
			}
			if !strings.Contains(string(res.Body), `"id"`) {
				t.Fatalf("reply %s has no person", res.Body)
			}
		})
	}
}

func TestTLSBackendWithUntrustedCertificateIsBackendError(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSPeople(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	other := testcerts.NewCA(t)
	for _, s := range tlsSchemas {
		t.Run(s.name, func(t *testing.T) {
			c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", other.File(t)), s.yaml)
			const timeout = 3 * time.Second
			_, err, took := getPerson(c, timeout)
			tlscheck.Failure(t, err, took, timeout, "certificate")
		})
	}
}

func TestTLSBackendCertificateForAnotherNameIsBackendError(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSPeople(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	c := tlsClient(t, addr, fmt.Sprintf("{ca: %q, server_name: other.test}", ca.File(t)), tlsSchemas[1].yaml)
	const timeout = 3 * time.Second
	_, err, took := getPerson(c, timeout)
	tlscheck.Failure(t, err, took, timeout, "certificate")
	if strings.Contains(generic.AsError(err).Message, "127.0.0.1") {
		t.Fatalf("message %q names the certificate's address", generic.AsError(err).Message)
	}
}

func TestTLSMutualNeedsTheClientCertificate(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSPeople(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), ca))
	for _, s := range tlsSchemas {
		t.Run(s.name, func(t *testing.T) {
			t.Run("without", func(t *testing.T) {
				c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", ca.File(t)), s.yaml)
				const timeout = 3 * time.Second
				_, err, took := getPerson(c, timeout)
				tlscheck.Failure(t, err, took, timeout, "certificate")
			})
			t.Run("with", func(t *testing.T) {
				cert, key := testcerts.Files(t, ca.Client(t, "gateway"))
				c := tlsClient(t, addr, fmt.Sprintf("{ca: %q, cert: %q, key: %q}", ca.File(t), cert, key), s.yaml)
				if _, err, _ := getPerson(c, 10*time.Second); err != nil {
					t.Fatalf("call with the client certificate: %v", err)
				}
			})
		})
	}
}

func TestDownTLSBackendStaysUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ca := testcerts.NewCA(t)
	for _, s := range tlsSchemas {
		t.Run(s.name, func(t *testing.T) {
			c := tlsClient(t, addr, fmt.Sprintf("{ca: %q}", ca.File(t)), s.yaml)
			_, err, _ := getPerson(c, 3*time.Second)
			if ge := generic.AsError(err); ge.Code != generic.CodeUnavailable {
				t.Fatalf("got %v (%s), want UNAVAILABLE", err, ge.Code)
			}
		})
	}
}

func TestTLSHealthCheckDialsTLS(t *testing.T) {
	ca := testcerts.NewCA(t)
	addr := startTLSPeople(t, testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil))
	check := func(c generic.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return c.(generic.HealthChecker).CheckHealth(ctx)
	}
	// The server has no health service: an answer at all is healthy.
	if err := check(tlsClient(t, addr, fmt.Sprintf("{ca: %q}", ca.File(t)), tlsSchemas[1].yaml)); err != nil {
		t.Fatalf("health over TLS: %v", err)
	}
	err := check(tlsClient(t, addr, fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)), tlsSchemas[1].yaml))
	if ge := generic.AsError(err); err == nil || ge.Code != generic.CodeUnavailable || !strings.Contains(ge.Message, "certificate") {
		t.Fatalf("health with an untrusted certificate: got %v, want UNAVAILABLE naming the certificate", err)
	}
}

func TestTLSToAPlainBackendIsBackendError(t *testing.T) {
	srv := startPeople(t, false)
	c := tlsClient(t, srv.Addr(), fmt.Sprintf("{ca: %q}", testcerts.NewCA(t).File(t)), tlsSchemas[1].yaml)
	const timeout = 3 * time.Second
	_, err, took := getPerson(c, timeout)
	tlscheck.Failure(t, err, took, timeout, "does not speak TLS")
}
