package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const streamYAML = `
server:
  max_body_bytes: 4096
  read_timeout: 1s
  streams: {max_message_bytes: 256, idle_timeout: "{{idle}}", max_per_connection: 1}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService, expose_headers: [x-request-id]}
    instances: [{address: "{{addr}}"}]
    timeout: 300ms
    forward_headers: [x-request-id]
  - name: plain
    protocol: http
    http: {path_prefix: /}
    instances: [{address: "{{dead}}"}]
routes:
  - match: {path: /v1/people:count, methods: [POST]}
    service: people
    method: Count
  - match: {path: /v1/people:chat, methods: [POST]}
    service: people
    method: Chat
`

func streamEnv(t *testing.T, idle string) *served {
	return serveGateway(t, streamYAML, map[string]string{"addr": startPeople(t, true), "dead": deadAddr(t), "idle": idle})
}

// ndjson posts body as an NDJSON stream and reads the whole reply.
func ndjson(t *testing.T, url string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// TestClientStreamingFromAnNDJSONBody: every line reaches the backend's
// client-streaming method, in order and exact; bad input and backend
// errors are one JSON error each.
func TestClientStreamingFromAnNDJSONBody(t *testing.T) {
	s := streamEnv(t, "5s")
	base := "http://" + s.addr
	for _, tc := range []struct {
		name, url, body string
		status          int
		want            string // the body, or the error code
		wantMsg         string
	}{
		{"route", base + "/v1/people:count", "{\"id\":1}\n\n{\"id\":\"9007199254740993\"}\r\n{\"id\":3}", 200,
			`{"count":"3","ids":["1","9007199254740993","3"],"requestId":"nd-1"}`, ""},
		{"route-less", base + "/people/Count", "{\"id\":5}\n", 200, `{"count":"1","ids":["5"],"requestId":"nd-1"}`, ""},
		{"empty stream", base + "/people/Count", "", 200, `{"requestId":"nd-1"}`, ""},
		{"backend refuses message 2", base + "/people/Count", "{\"id\":1}\n{\"id\":0}\n{\"id\":2}\n", 400,
			"INVALID_ARGUMENT", "got 0 (message 2)"},
		{"bad JSON in message 2", base + "/people/Count", "{\"id\":1}\n{\"id\":\n", 400, "INVALID_ARGUMENT", "stream message 2: "},
		{"message too large", base + "/people/Count", "{\"id\":1}\n{\"id\":1" + strings.Repeat(" ", 300) + "}\n", 413,
			"BODY_TOO_LARGE", "stream message 2 is larger than the 256 bytes allowed"},
		{"unary method", base + "/people/Get", "{\"id\":1}\n", 400, "INVALID_ARGUMENT", "takes one request message"},
		{"not a streaming service", base + "/plain/x", "{}\n", 415, "UNSUPPORTED_MEDIA_TYPE", "has no client- or bidirectional-streaming methods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ndjson(t, tc.url, strings.NewReader(tc.body), "x-request-id", "nd-1")
			if r.status != tc.status {
				t.Fatalf("got %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 200 {
				if r.body != tc.want || r.header.Get("X-Request-Id") != "nd-1" {
					t.Fatalf("got %s (x-request-id %q), want %s (nd-1)", r.body, r.header.Get("X-Request-Id"), tc.want)
				}
				return
			}
			if got := errCode(t, r.body); got != tc.want || !strings.Contains(r.body, tc.wantMsg) {
				t.Fatalf("got %s, want code %s and a message with %q", r.body, tc.want, tc.wantMsg)
			}
		})
	}
}

// TestBidiOverNDJSONRepliesAsLinesArrive: over HTTP/1.1 the reply to each
// line comes back while the request body is still open, which a
// half-duplex exchange could not do.
func TestBidiOverNDJSONRepliesAsLinesArrive(t *testing.T) {
	s := streamEnv(t, "5s")
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/people:chat", pr)
	req.Header.Set("Content-Type", "application/x-ndjson")
	type result struct {
		resp *http.Response
		err  error
	}
	rc := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		rc <- result{resp, err}
	}()
	io.WriteString(pw, `{"id":"1","name":"Ada"}`+"\n")
	res := <-rc
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.resp.Body.Close()
	if got := res.resp.Header.Get("Content-Type"); res.resp.StatusCode != 200 || got != "application/x-ndjson" {
		t.Fatalf("got %d %q, want 200 application/x-ndjson", res.resp.StatusCode, got)
	}
	br := bufio.NewReader(res.resp.Body)
	for i, want := range []string{`{"id":"1","name":"Ada"}`, `{"id":"9007199254740993","name":"Alan"}`} {
		if i == 1 {
			io.WriteString(pw, `{"id":"9007199254740993","name":"Alan"}`+"\n")
		}
		line, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != want {
			t.Fatalf("reply %d: got %q (%v), want %s", i+1, line, err, want)
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("after the client's end: got %q, want nothing more", rest)
	}
}

// wsURL is the WebSocket URL of path on s.
func wsURL(s *served, path string) string { return "ws://" + s.addr + path }

// closeOf reads until the connection ends and returns the close frame.
func closeOf(t *testing.T, c *websocket.Conn) (msgs []string, code int, reason string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, m, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a close frame", err)
			}
			return msgs, ce.Code, ce.Text
		}
		msgs = append(msgs, string(m))
	}
}

// TestBidiOverWebSocket: text frames each way, the final status as the
// close code (1000 OK, 4000 + the gRPC code otherwise) with the JSON
// error as the reason.
func TestBidiOverWebSocket(t *testing.T) {
	s := streamEnv(t, "5s")
	hdr := http.Header{"X-Request-Id": {"ws-1"}}
	for _, path := range []string{"/people/Chat", "/v1/people:chat"} {
		c, resp, err := websocket.DefaultDialer.Dial(wsURL(s, path), hdr)
		if err != nil {
			t.Fatalf("%s: dial: %v", path, err)
		}
		if resp.StatusCode != 101 {
			t.Fatalf("%s: got %d, want 101", path, resp.StatusCode)
		}
		for _, m := range []string{`{"id":"1","name":"Ada"}`, `{"id":"9007199254740993","name":"Alan"}`} {
			c.WriteMessage(websocket.TextMessage, []byte(m))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, got, err := c.ReadMessage()
			want := strings.TrimSuffix(m, "}") + `,"requestId":"ws-1"}`
			if err != nil || string(got) != want {
				t.Fatalf("%s: got %s (%v), want %s", path, got, err, want)
			}
		}
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		msgs, code, reason := closeOf(t, c)
		c.Close()
		if len(msgs) != 0 || code != 1000 || reason != "" {
			t.Fatalf("%s: got %q then close %d %q, want close 1000 alone", path, msgs, code, reason)
		}
	}

	// ABORTED mid-stream: 4010, the error as JSON in the reason.
	c, _, err := websocket.DefaultDialer.Dial(wsURL(s, "/people/Chat"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":7,"name":"abort"}`))
	_, code, reason := closeOf(t, c)
	var body struct {
		Error struct{ Code, Message string }
	}
	if code != 4010 || json.Unmarshal([]byte(reason), &body) != nil || body.Error.Code != "ABORTED" ||
		!strings.Contains(body.Error.Message, "chat aborted after person 7") {
		t.Fatalf("abort: got close %d %q, want 4010 with an ABORTED JSON error", code, reason)
	}
}

// TestClientStreamingOverWebSocket: the one reply comes as a text frame
// once the client has closed its half, then close 1000.
func TestClientStreamingOverWebSocket(t *testing.T) {
	s := streamEnv(t, "5s")
	c, _, err := websocket.DefaultDialer.Dial(wsURL(s, "/v1/people:count"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":4}`))
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":"-9223372036854775808"}`))
	_, code, reason := closeOf(t, c)
	if code != 4003 || !strings.Contains(reason, "INVALID_ARGUMENT") {
		t.Fatalf("negative id: got close %d %q, want 4003 INVALID_ARGUMENT", code, reason)
	}

	c2, _, err := websocket.DefaultDialer.Dial(wsURL(s, "/v1/people:count"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.WriteMessage(websocket.TextMessage, []byte(`{"id":4}`))
	c2.WriteMessage(websocket.TextMessage, []byte(`{"id":"9223372036854775807"}`))
	c2.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	msgs, code, reason := closeOf(t, c2)
	if want := `{"count":"2","ids":["4","9223372036854775807"]}`; len(msgs) != 1 || msgs[0] != want || code != 1000 {
		t.Fatalf("got %q then close %d %q, want [%s] then 1000", msgs, code, reason, want)
	}
}

// TestWebSocketLimitsAndRefusals: idle streams end with 4004, oversized
// and binary messages are refused by close code, services that take no
// streams refuse the handshake with a JSON error, and a client that
// vanishes frees its stream.
func TestWebSocketLimitsAndRefusals(t *testing.T) {
	s := streamEnv(t, "300ms")
	dial := func(path string) *websocket.Conn {
		t.Helper()
		c, _, err := websocket.DefaultDialer.Dial(wsURL(s, path), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	c := dial("/people/Chat")
	start := time.Now()
	_, code, reason := closeOf(t, c)
	if code != 4004 || !strings.Contains(reason, "DEADLINE_EXCEEDED") || time.Since(start) > 5*time.Second {
		t.Fatalf("idle: got close %d %q after %v, want 4004 DEADLINE_EXCEEDED", code, reason, time.Since(start))
	}

	c = dial("/people/Chat")
	c.WriteMessage(websocket.TextMessage, []byte(`{"name":"`+strings.Repeat("x", 300)+`"}`))
	_, code, reason = closeOf(t, c)
	if code != 4008 || !strings.Contains(reason, "BODY_TOO_LARGE") {
		t.Fatalf("too large: got close %d %q, want 4008 BODY_TOO_LARGE", code, reason)
	}

	c = dial("/people/Chat")
	c.WriteMessage(websocket.BinaryMessage, []byte(`{}`))
	_, code, reason = closeOf(t, c)
	if code != 4003 || !strings.Contains(reason, "text frame") {
		t.Fatalf("binary: got close %d %q, want 4003 about text frames", code, reason)
	}

	_, resp, err := websocket.DefaultDialer.Dial(wsURL(s, "/plain/x"), nil)
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("not a streaming service: got %v %v, want a 400 refusal", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if errCode(t, string(b)) != "INVALID_ARGUMENT" {
		t.Fatalf("not a streaming service: got %s", b)
	}

	// A client that vanishes mid-stream: the gateway notices, cancels
	// the backend's call, and the connection's stream slot is free (the
	// limit is 1 per connection; a new connection must work at once).
	c = dial("/people/Chat")
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":1}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	c.UnderlyingConn().Close()
	c = dial("/people/Chat")
	c.WriteMessage(websocket.TextMessage, []byte(`{"id":2}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := c.ReadMessage(); err != nil || !strings.Contains(string(m), `"id":"2"`) {
		t.Fatalf("after a vanished client: got %s %v, want the echo of id 2", m, err)
	}
}

// TestStreamsPerConnectionOverHTTP2: one HTTP/2 connection may hold
// server.streams.max_per_connection streams (1 here); another is refused
// with 429 until the first ends.
func TestStreamsPerConnectionOverHTTP2(t *testing.T) {
	s := streamEnv(t, "5s")
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	open := func(body io.Reader) (*http.Response, error) {
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/people:chat", body)
		req.Header.Set("Content-Type", "application/x-ndjson")
		return client.Do(req)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var first *http.Response
	go func() {
		defer close(done)
		first, _ = open(pr)
	}()
	io.WriteString(pw, "{\"id\":1}\n")
	<-done
	if first == nil || first.ProtoMajor != 2 {
		t.Fatalf("first stream: got %v, want an HTTP/2 response", first)
	}
	defer first.Body.Close()
	br := bufio.NewReader(first.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, `"id":"1"`) {
		t.Fatalf("first stream: got %q %v", line, err)
	}
	second, err := open(strings.NewReader("{\"id\":2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.StatusCode != 429 || errCode(t, string(b)) != "RESOURCE_EXHAUSTED" {
		t.Fatalf("second stream: got %d %s, want 429 RESOURCE_EXHAUSTED", second.StatusCode, b)
	}
	pw.Close()
	io.ReadAll(br)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		third, err := open(strings.NewReader("{\"id\":3}\n"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(third.Body)
		third.Body.Close()
		if third.StatusCode == 200 {
			if !strings.Contains(string(b), `"id":"3"`) {
				t.Fatalf("third stream: got %s", b)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("third stream: still %d %s after the first ended", third.StatusCode, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
