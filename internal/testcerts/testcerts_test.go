package testcerts_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"testing"

	"github.com/rpcbridge/rpcbridge/internal/testcerts"
)

func TestServerCertificateVerifiesForItsHostsOnly(t *testing.T) {
	ca := testcerts.NewCA(t)
	cert := ca.Server(t, "127.0.0.1", "backend.test")
	for _, name := range []string{"127.0.0.1", "backend.test"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.2"}); err == nil {
		t.Error("certificate verifies for 127.0.0.2, a host it does not name")
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: testcerts.NewCA(t).Pool(), DNSName: "127.0.0.1"}); err == nil {
		t.Error("certificate verifies against another CA")
	}
}

func TestFilesLoadAsAKeyPairAndCAPool(t *testing.T) {
	ca := testcerts.NewCA(t)
	certFile, keyFile := testcerts.Files(t, ca.Client(t, "gateway"))
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ca.File(t))
	if err != nil {
		t.Fatal(err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) || string(b) != string(ca.PEM()) {
		t.Fatal("CA file is not the CA's PEM")
	}
}

func TestMutualHandshake(t *testing.T) {
	ca := testcerts.NewCA(t)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, testcerts.ServerConfig(ca.Server(t), ca))
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	cli := tls.Client(b, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{ca.Client(t, "gateway")}})
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if got := srv.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "gateway" {
		t.Fatalf("server saw client %q, want gateway", got)
	}
}
