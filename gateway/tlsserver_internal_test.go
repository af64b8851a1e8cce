package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/testcerts"
)

// tlsGateway serves yaml (with {{cert}}, {{key}}, {{clientca}} filled in)
// on a real listener through Serve, and returns its address.
func tlsGateway(t *testing.T, yaml string, files map[string]string) string {
	t.Helper()
	for k, v := range files {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	g := newTestGateway(t, yaml, metaEcho{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, l, nil, AdminOptions{}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func tlsClient(roots *x509.CertPool, certs []tls.Certificate, h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}, ForceAttemptHTTP2: h2, DisableKeepAlives: true}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func postJSON(c *http.Client, url string) (*http.Response, string, error) {
	resp, err := c.Post(url, "application/json", strings.NewReader(`{}`))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

const tlsYAML = `
server:
  tls: {cert: "{{cert}}", key: "{{key}}"}
services:
  - name: s
    protocol: http
    instances: [{address: 127.0.0.1:1}]
`

func TestHTTPSServesHTTP2AndHTTP1AndRefusesAnUntrustedChain(t *testing.T) {
	ca := testcerts.NewCA(t)
	cert, key := testcerts.Files(t, ca.Server(t, "127.0.0.1"))
	addr := tlsGateway(t, tlsYAML, map[string]string{"cert": cert, "key": key})
	url := "https://" + addr + "/s/M"

	for _, h2 := range []bool{true, false} {
		c := tlsClient(ca.Pool(), nil, h2)
		resp, body, err := postJSON(c, url)
		if err != nil {
			t.Fatalf("h2=%v: %v", h2, err)
		}
		want := 1
		if h2 {
			want = 2
		}
		if resp.StatusCode != 200 || resp.ProtoMajor != want || resp.TLS == nil {
			t.Errorf("h2=%v: got %d over HTTP/%d (%s), want 200 over HTTP/%d with TLS", h2, resp.StatusCode, resp.ProtoMajor, body, want)
		}
		c.CloseIdleConnections()
	}
	other := testcerts.NewCA(t)
	if _, _, err := postJSON(tlsClient(other.Pool(), nil, true), url); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client trusting another CA: got %v, want a certificate error", err)
	}
	// Plain HTTP to the TLS port gets nothing useful.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+addr+"/s/M", "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS listener: got 200, want a refusal")
		}
	}
}

// The framing checks and JSON errors of plain listeners hold on HTTPS.
func TestHTTPSKeepsTheFramingChecksAndJSONErrors(t *testing.T) {
	ca := testcerts.NewCA(t)
	cert, key := testcerts.Files(t, ca.Server(t, "127.0.0.1"))
	addr := tlsGateway(t, tlsYAML, map[string]string{"cert": cert, "key": key})
	for _, c := range []struct{ name, req, want string }{
		{"both framings", "POST /s/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", `"INVALID_ARGUMENT"`},
		{"Go's own 400", "POST /s/M HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n", `"code"`},
	} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, c.req)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), c.want) || !json.Valid(b) {
			t.Errorf("%s: got %d %s, want 400 JSON with %s", c.name, resp.StatusCode, b, c.want)
		}
	}
}

func TestMutualTLSAndTheClientSubjectReachTheBackend(t *testing.T) {
	ca := testcerts.NewCA(t)
	clients := testcerts.NewCA(t)
	cert, key := testcerts.Files(t, ca.Server(t, "127.0.0.1"))
	addr := tlsGateway(t, `
server:
  tls: {cert: "{{cert}}", key: "{{key}}", client_ca: "{{clientca}}", client_auth: require, forward_client_subject: x-client-subject}
services:
  - name: s
    protocol: http
    forward_headers: [x-client-subject]
    instances: [{address: 127.0.0.1:1}]
`, map[string]string{"cert": cert, "key": key, "clientca": clients.File(t)})
	url := "https://" + addr + "/s/M"
	if _, _, err := postJSON(tlsClient(ca.Pool(), nil, true), url); err == nil {
		t.Errorf("without a client certificate: got a reply, want the handshake refused")
	}
	stranger := testcerts.NewCA(t).Client(t, "stranger")
	if _, _, err := postJSON(tlsClient(ca.Pool(), []tls.Certificate{stranger}, true), url); err == nil {
		t.Errorf("with a certificate of another CA: got a reply, want the handshake refused")
	}
	c := tlsClient(ca.Pool(), []tls.Certificate{clients.Client(t, "partner-7")}, true)
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Client-Subject", "CN=forged")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var meta map[string]string
	json.Unmarshal(b, &meta)
	if resp.StatusCode != 200 || meta["x-client-subject"] != "CN=partner-7,O=rpcbridge tests" {
		t.Errorf("got %d %s, want 200 with x-client-subject CN=partner-7,O=rpcbridge tests (never the client's own header)", resp.StatusCode, b)
	}
}

func TestARotatedCertificateReachesNewConnectionsWithoutARestart(t *testing.T) {
	ca := testcerts.NewCA(t)
	first := ca.Server(t, "127.0.0.1")
	cert, key := testcerts.Files(t, first)
	addr := tlsGateway(t, tlsYAML, map[string]string{"cert": cert, "key": key})
	served := func() string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	firstSerial := served()
	// An open connection keeps going across the rotation.
	open, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	second := ca.Server(t, "127.0.0.1")
	c2, k2 := testcerts.Files(t, second)
	testcerts.Replace(t, c2, cert)
	testcerts.Replace(t, k2, key)
	want := second.Leaf
	if want == nil {
		want, _ = x509.ParseCertificate(second.Certificate[0])
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := served(); got != want.SerialNumber.String(); got = served() {
		if time.Now().After(deadline) {
			t.Fatalf("served serial after 5 s: got %s (first %s), want %s", got, firstSerial, want.SerialNumber)
		}
		time.Sleep(50 * time.Millisecond)
	}
	open.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(open, "POST /s/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	resp, err := http.ReadResponse(bufio.NewReader(open), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("the connection opened before the rotation: got %v %v, want 200", resp, err)
	}
}
