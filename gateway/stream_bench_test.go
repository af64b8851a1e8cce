package gateway_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	demov1 "github.com/rpcbridge/rpcbridge/examples/people/demov1"
)

// BenchmarkBidiEcho measures a bidirectional echo stream, pipelined (one
// goroutine sends b.N messages while another receives them): directly
// with grpc-go's generated client, and through the gateway over a
// WebSocket and over an NDJSON body (HTTP/1.1, full duplex). It reports
// messages per second.
//
//	go test -run '^$' -bench BidiEcho -benchmem ./gateway/
func BenchmarkBidiEcho(b *testing.B) {
	addr := startPeople(b, true)
	const msg = `{"id":"9007199254740993","name":"Ada Lovelace","email":"ada@example.com"}`

	b.Run("direct", func(b *testing.B) {
		cc, err := gogrpc.NewClient(addr, gogrpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		st, err := demov1.NewPeopleServiceClient(cc).Chat(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		p := &demov1.Person{Id: 9007199254740993, Name: "Ada Lovelace", Email: "ada@example.com"}
		b.ResetTimer()
		start := time.Now()
		go func() {
			for i := 0; i < b.N; i++ {
				if err := st.Send(p); err != nil {
					return
				}
			}
			st.CloseSend()
		}()
		for i := 0; i < b.N; i++ {
			if _, err := st.Recv(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		if _, err := st.Recv(); err != io.EOF {
			b.Fatalf("end of stream: got %v, want EOF", err)
		}
	})

	g := newEnvB(b, `
server: {streams: {idle_timeout: 1m}}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{addr}}"}]
`, map[string]string{"addr": addr})
	srv := httptest.NewServer(g)
	defer srv.Close()

	b.Run("gateway-websocket", func(b *testing.B) {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/people/Chat", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ResetTimer()
		start := time.Now()
		go func() {
			for i := 0; i < b.N; i++ {
				if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					return
				}
			}
		}()
		for i := 0; i < b.N; i++ {
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			b.Fatalf("end of stream: got %v, want close 1000", err)
		}
	})

	b.Run("gateway-ndjson", func(b *testing.B) {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", srv.URL+"/people/Chat", pr)
		req.Header.Set("Content-Type", "application/x-ndjson")
		line := []byte(msg + "\n")
		b.ResetTimer()
		start := time.Now()
		go func() {
			for i := 0; i < b.N; i++ {
				if _, err := pw.Write(line); err != nil {
					return
				}
			}
			pw.Close()
		}()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for i := 0; i < b.N; i++ {
			if _, err := br.ReadSlice('\n'); err != nil {
				b.Fatalf("message %d: %v", i, err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}
