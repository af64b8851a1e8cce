package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/rpcbridge/rpcbridge/examples/people"
)

// BenchmarkServeGRPCGetTracing: HTTP/JSON -> `rpcbridge serve` -> the
// sample gRPC service, over real connections, with tracing off and on
// (every request sampled, spans exported over OTLP/gRPC to a live
// receiver). gw_cpu_µs/op is the gateway process's CPU time per request,
// steadier than throughput on a busy machine. Run the two alternately to
// compare, e.g.:
//
//	go test -c -o /tmp/rb.test ./cmd/rpcbridge
//	for i in 1 2 3; do for m in off on; do
//	  /tmp/rb.test -test.run '^$' -test.bench "ServeGRPCGetTracing/$m" -test.benchtime 5s
//	done; done
//
// "all" adds the JSON access log (to a file) to the traced run: the
// issue's every-observability-feature-on case (metrics are always on).
// Throughput is 1e9 / ns/op.
func BenchmarkServeGRPCGetTracing(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchServeGRPCGet(b, false, false) })
	b.Run("on", func(b *testing.B) { benchServeGRPCGet(b, true, false) })
	b.Run("all", func(b *testing.B) { benchServeGRPCGet(b, true, true) })
}

func benchServeGRPCGet(b *testing.B, tracing, accessLog bool) {
	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ps.Stop)
	y := fmt.Sprintf(`
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: %q}]
`, ps.Addr())
	var recv *countingReceiver
	if tracing {
		recv = startCountingReceiver(b)
		y += fmt.Sprintf(`
telemetry:
  traces:
    sample_ratio: 1
    otlp: {endpoint: %q, protocol: grpc, insecure: true}
`, recv.addr)
	}
	dir := b.TempDir()
	if accessLog {
		y += fmt.Sprintf(`
server:
  access_log: {format: json, path: %q}
`, filepath.Join(dir, "access.log"))
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	// The gateway runs in a process of its own (this test binary as
	// rpcbridge, see TestMain), so that its CPU time can be read apart
	// from the load generator's, the backend's and the receiver's.
	args := []string{"serve", "-c", cfg, "-listen", listen, "-log-level", "error", "-watch", "0"}
	// RPCBRIDGE_BENCH_SERVE_ARGS adds flags to the gateway's command line,
	// for example "-pprof -admin 127.0.0.1:9901" to profile it under load.
	args = append(args, strings.Fields(os.Getenv("RPCBRIDGE_BENCH_SERVE_ARGS"))...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), commandEnv+"=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	url := "http://" + listen + "/people/Get"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	call := func() error {
		resp, err := hc.Post(url, "application/json", strings.NewReader(`{"id": "1"}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("got %d", resp.StatusCode)
		}
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for call() != nil {
		if time.Now().After(deadline) {
			b.Fatal("gateway or backend not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.SetParallelism(16)
	cpu0, self0 := processCPU(b, cmd.Process.Pid), processCPU(b, os.Getpid())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b, cmd.Process.Pid)-cpu0).Microseconds())/float64(b.N), "gw_cpu_µs/op")
	// This process's: the load generator's, the backend's and the
	// receiver's, which share the machine with the gateway.
	b.ReportMetric(float64((processCPU(b, os.Getpid())-self0).Microseconds())/float64(b.N), "bench_cpu_µs/op")
	if recv != nil {
		// Every span of the run reached the receiver, or was counted as
		// dropped.
		b.ReportMetric(float64(recv.received.Load())/float64(b.N), "spans_received/op")
	}
}

// countingReceiver is an OTLP/gRPC collector that counts the spans of
// each export without decoding them, so that the benchmark's collector
// takes as little as it can of the CPU the gateway shares with it.
type countingReceiver struct {
	addr     string
	received atomic.Int64
}

func startCountingReceiver(b *testing.B) *countingReceiver {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	r := &countingReceiver{addr: l.Addr().String()}
	const export = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
	s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		if m, _ := grpc.MethodFromServerStream(st); m != export {
			return fmt.Errorf("unexpected method %s", m)
		}
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		n, err := countSpans(in)
		if err != nil {
			return err
		}
		r.received.Add(int64(n))
		out := []byte{} // an empty ExportTraceServiceResponse
		return st.SendMsg(&out)
	}))
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	b.Cleanup(func() { s.Stop(); <-done })
	return r
}

// countSpans counts the spans of an ExportTraceServiceRequest: field 1
// (resource_spans), then 2 (scope_spans), then 2 (spans).
func countSpans(b []byte) (int, error) {
	n := 0
	var walk func(b []byte, depth int) error
	walk = func(b []byte, depth int) error {
		for len(b) > 0 {
			num, typ, l := protowire.ConsumeTag(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			b = b[l:]
			l = protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			want := protowire.Number(2)
			if depth == 0 {
				want = 1
			}
			if num == want && typ == protowire.BytesType {
				if depth == 2 {
					n++
				} else {
					v, _ := protowire.ConsumeBytes(b)
					if err := walk(v, depth+1); err != nil {
						return err
					}
				}
			}
			b = b[l:]
		}
		return nil
	}
	err := walk(b, 0)
	return n, err
}

// TestCountSpansCountsEverySpanOfARequest checks the benchmark's counting
// collector against the decoded message.
func TestCountSpansCountsEverySpanOfARequest(t *testing.T) {
	span := &tracepb.Span{Name: "x", Attributes: nil}
	req := &collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span, span}}, {Spans: []*tracepb.Span{span}}}, SchemaUrl: "s"},
		{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{span, span, span}}}},
	}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := countSpans(b); n != 6 || err != nil {
		t.Fatalf("got %d, %v; want 6 spans", n, err)
	}
	if _, err := countSpans(b[:len(b)-1]); err == nil {
		t.Fatal("got no error for a cut request")
	}
}

// rawCodec passes message bytes as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append((*v.(*[]byte))[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// processCPU is the user and system CPU time process pid has used.
func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 14th and 15th of the line.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	// Clock ticks of 1/100 s (USER_HZ on Linux).
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
