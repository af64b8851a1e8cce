package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcbridge/rpcbridge/internal/testcerts"
)

// proxyBackend is a plain net/http backend for proxy mode: it echoes what
// it received in headers, streams SSE on /events, echoes WebSocket
// messages on /ws.
func proxyBackend(t *testing.T, name string, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprint(w, "data: two\n\n")
			return
		case "/ws":
			up := websocket.Upgrader{}
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				typ, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(typ, append([]byte(name+":"), msg...)); err != nil {
					return
				}
			}
		}
		body, _ := io.ReadAll(r.Body)
		h := w.Header()
		h.Set("X-Backend", name)
		h.Set("X-Seen-Method", r.Method)
		h.Set("X-Seen-Path", r.URL.EscapedPath())
		h.Set("X-Seen-Query", r.URL.RawQuery)
		h.Set("X-Seen-Custom", r.Header.Get("X-Custom"))
		h.Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		h.Set("X-Seen-Forwarded-Host", r.Header.Get("X-Forwarded-Host"))
		h.Set("X-Seen-Connection", r.Header.Get("Connection")+r.Header.Get("Keep-Alive"))
		h.Set("Content-Type", "application/octet-stream")
		status := 200
		fmt.Sscan(r.URL.Query().Get("status"), &status)
		w.WriteHeader(status)
		w.Write(body)
	})
}

func TestProxyModePassesRequestsThroughWhole(t *testing.T) {
	release := make(chan struct{})
	plain := httptest.NewServer(proxyBackend(t, "plain", release))
	defer plain.Close()
	ca := testcerts.NewCA(t)
	secure := httptest.NewUnstartedServer(proxyBackend(t, "secure", release))
	secure.TLS = testcerts.ServerConfig(ca.Server(t, "127.0.0.1"), nil)
	secure.StartTLS()
	defer secure.Close()
	down := deadAddr(t)
	e := newEnv(t, `
services:
  - name: web
    protocol: http
    http: {mode: proxy}
    balancer: round_robin
    retries: 1
    outlier: {consecutive_failures: -1}
    instances: [{address: "{{plain}}"}]
  - name: flaky
    protocol: http
    http: {mode: proxy}
    retries: 1
    outlier: {consecutive_failures: -1}
    instances: [{address: "{{down}}", weight: 100}, {address: "{{plain}}", weight: 1}]
  - name: secure
    protocol: http
    http: {mode: proxy}
    tls: {ca: "{{ca}}"}
    instances: [{address: "{{secure}}"}]
routes:
  - match: {prefix: /api/}
    service: web
    strip_prefix: true
  - match: {path: "/old/{id}"}
    service: web
    rewrite: /new/place
`, map[string]string{"plain": strings.TrimPrefix(plain.URL, "http://"), "secure": strings.TrimPrefix(secure.URL, "https://"),
		"down": down, "ca": ca.File(t)})

	body := make([]byte, 256)
	for i := range body {
		body[i] = byte(i)
	}
	req, _ := http.NewRequest("PUT", e.url+"/api/items/a%2Fb?b=2&a=1&status=201", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Custom", "kept")
	req.Header.Set("Keep-Alive", "timeout=5") // hop-by-hop: not forwarded
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for k, want := range map[string]string{
		"X-Backend": "plain", "X-Seen-Method": "PUT", "X-Seen-Path": "/items/a%2Fb", "X-Seen-Query": "b=2&a=1&status=201",
		"X-Seen-Custom": "kept", "X-Seen-Forwarded-For": "127.0.0.1", "X-Seen-Connection": "",
		"Content-Type": "application/octet-stream",
	} {
		if resp.Header.Get(k) != want {
			t.Errorf("%s: got %q, want %q", k, resp.Header.Get(k), want)
		}
	}
	if resp.Header.Get("X-Seen-Forwarded-Host") == "" {
		t.Errorf("X-Forwarded-Host: got none, want the gateway's host")
	}
	if resp.StatusCode != 201 || !bytes.Equal(got, body) {
		t.Errorf("got %d and %d bytes back, want 201 and the 256-byte binary body unchanged", resp.StatusCode, len(got))
	}

	// The backend's own 404 and body come back as they are.
	r := do(t, "GET", e.url+"/api/missing?status=404", "")
	if r.status != 404 || r.header.Get("X-Backend") != "plain" {
		t.Errorf("backend 404: got %d %v", r.status, r.header)
	}
	// rewrite, and the route-less form /{service}/rest.
	if r := do(t, "GET", e.url+"/old/7", ""); r.header.Get("X-Seen-Path") != "/new/place" {
		t.Errorf("rewrite: got path %q, want /new/place", r.header.Get("X-Seen-Path"))
	}
	if r := do(t, "DELETE", e.url+"/web/deep/er/path", ""); r.status != 200 || r.header.Get("X-Seen-Path") != "/deep/er/path" || r.header.Get("X-Seen-Method") != "DELETE" {
		t.Errorf("route-less: got %d path %q method %q", r.status, r.header.Get("X-Seen-Path"), r.header.Get("X-Seen-Method"))
	}
	// https backend with the service's tls: key.
	if r := do(t, "GET", e.url+"/secure/x", ""); r.status != 200 || r.header.Get("X-Backend") != "secure" {
		t.Errorf("TLS backend: got %d %v", r.status, r.header)
	}
	// A GET retried on another instance when the first is unreachable; a
	// POST with a body is not retried.
	if r := do(t, "GET", e.url+"/flaky/x", ""); r.status != 200 || r.header.Get("X-Backend") != "plain" {
		t.Errorf("GET to a dead instance first: got %d %s, want 200 from the live one", r.status, r.body)
	}
	if r := do(t, "POST", e.url+"/flaky/x", `{"a":1}`); r.status != 503 || !strings.Contains(r.body, `"UNAVAILABLE"`) {
		t.Errorf("POST to a dead instance first: got %d %s, want 503 UNAVAILABLE (not retried)", r.status, r.body)
	}

	// Server-Sent Events stream through as they are written.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sreq, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/events", nil)
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(sresp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "data: one\n" {
		t.Fatalf("first event before the backend finished: got %q %v", first, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	sresp.Body.Close()
	if !strings.Contains(string(rest), "data: two") {
		t.Errorf("second event: got %q", rest)
	}

	// WebSocket upgrades pass through.
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(e.url, "http://", "ws://", 1)+"/api/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through the gateway: %v", err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil || string(msg) != "plain:hello" {
		t.Errorf("WebSocket echo: got %q %v, want plain:hello", msg, err)
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}
