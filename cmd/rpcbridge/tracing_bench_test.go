package main

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
// steadier than throughput on a busy machine. "all" adds the JSON access
// log (to a file) to the traced run: every observability feature on
// (metrics are always on). Throughput is 1e9 / ns/op.
//
// "alternate" compares everything off with everything on in one run of
// short alternating rounds, and "pair" their CPU per request on one load:
// on a machine whose speed drifts, these compare more steadily than
// separate runs of "off" and "all". RPCBRIDGE_BENCH_SAMPLE_RATIO sets
// the traced gateways' telemetry.traces.sample_ratio (default 1), to see
// what a lower ratio saves.
//
//	go test -c -o /tmp/rb.test ./cmd/rpcbridge && cd cmd/rpcbridge
//	/tmp/rb.test -test.run '^$' -test.bench 'ServeGRPCGetTracing/alternate$' -test.benchtime 20x
//	/tmp/rb.test -test.run '^$' -test.bench 'ServeGRPCGetTracing/pair$' -test.benchtime 4s
//	RPCBRIDGE_BENCH_SAMPLE_RATIO=0.1 /tmp/rb.test -test.run '^$' -test.bench 'ServeGRPCGetTracing/alternate$' -test.benchtime 20x
func BenchmarkServeGRPCGetTracing(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchServeGRPCGet(b, false, false) })
	b.Run("on", func(b *testing.B) { benchServeGRPCGet(b, true, false) })
	b.Run("all", func(b *testing.B) { benchServeGRPCGet(b, true, true) })
	b.Run("pair", benchServeGRPCGetPair)
	b.Run("alternate", benchServeGRPCGetAlternate)
}

func benchServeGRPCGet(b *testing.B, tracing, accessLog bool) {
	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ps.Stop)
	g := startBenchGateway(b, ps.Addr(), tracing, accessLog, os.Getenv("RPCBRIDGE_BENCH_SERVE_ARGS"))
	b.SetParallelism(16)
	cpu0, self0 := processCPU(b, g.pid), processCPU(b, os.Getpid())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := g.call(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b, g.pid)-cpu0).Microseconds())/float64(b.N), "gw_cpu_µs/op")
	// This process's: the load generator's, the backend's and the
	// receiver's, which share the machine with the gateway.
	b.ReportMetric(float64((processCPU(b, os.Getpid())-self0).Microseconds())/float64(b.N), "bench_cpu_µs/op")
	if g.recv != nil {
		// Every span of the run reached the receiver, or was counted as
		// dropped.
		b.ReportMetric(float64(g.recv.received.Load())/float64(b.N), "spans_received/op")
	}
}

// benchServeGRPCGetPair runs an everything-off gateway and an
// everything-on one (as "all") side by side on one backend and sends them
// the requests in turn, so that both see the same load and the same
// moments of a busy machine: their CPU per request compares more steadily
// than in rounds of their own. RPCBRIDGE_BENCH_PAIR_ARGS adds flags to
// the everything-on gateway, RPCBRIDGE_BENCH_OFF_ARGS to the
// everything-off one. Both served the same number of requests, so
// profiles of the two taken over the same seconds compare directly:
//
//	RPCBRIDGE_BENCH_OFF_ARGS="-pprof -admin 127.0.0.1:9902" \
//	RPCBRIDGE_BENCH_PAIR_ARGS="-pprof -admin 127.0.0.1:9901" \
//	  /tmp/rb.test -test.run '^$' -test.bench 'ServeGRPCGetTracing/pair$' -test.benchtime 30s &
//	sleep 8
//	curl -so all.prof 'http://127.0.0.1:9901/debug/pprof/profile?seconds=15' &
//	curl -so off.prof 'http://127.0.0.1:9902/debug/pprof/profile?seconds=15'
//	go tool pprof -top -cum -diff_base=off.prof all.prof
func benchServeGRPCGetPair(b *testing.B) {
	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ps.Stop)
	off := startBenchGateway(b, ps.Addr(), false, false, os.Getenv("RPCBRIDGE_BENCH_OFF_ARGS"))
	all := startBenchGateway(b, ps.Addr(), true, true, os.Getenv("RPCBRIDGE_BENCH_PAIR_ARGS"))
	b.SetParallelism(16)
	offCPU, allCPU := processCPU(b, off.pid), processCPU(b, all.pid)
	var turn atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g := off
			if turn.Add(1)%2 == 0 {
				g = all
			}
			if err := g.call(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	// Each gateway served half of b.N.
	offUS := float64((processCPU(b, off.pid) - offCPU).Microseconds()) / float64(b.N/2)
	allUS := float64((processCPU(b, all.pid) - allCPU).Microseconds()) / float64(b.N-b.N/2)
	b.ReportMetric(offUS, "off_gw_cpu_µs/op")
	b.ReportMetric(allUS, "all_gw_cpu_µs/op")
	if offUS > 0 {
		b.ReportMetric(allUS/offUS, "all/off_cpu")
	}
}

// benchServeGRPCGetAlternate measures the throughput of everything off
// against everything on in short alternating rounds: each iteration is
// one round of alternateRound against an everything-off gateway, then one
// against an everything-on gateway (as "all"), both started once, under
// the same load (32 concurrent requests from this process). Short rounds
// keep a machine whose speed drifts from fair to both. Run it for a
// number of pairs, e.g. -test.benchtime 20x; ns/op is then the time of a
// pair. It reports each side's requests per second over all its rounds,
// their ratio, and each side's CPU per request: the gateway's and this
// process's.
func benchServeGRPCGetAlternate(b *testing.B) {
	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ps.Stop)
	gws := [2]*benchGateway{
		startBenchGateway(b, ps.Addr(), false, false, ""),
		startBenchGateway(b, ps.Addr(), true, true, os.Getenv("RPCBRIDGE_BENCH_PAIR_ARGS")),
	}
	const conc = 32
	var (
		done    [2]int64
		elapsed [2]time.Duration
		cpu     [2]time.Duration
		self    [2]time.Duration
	)
	round := func(i int) {
		g := gws[i]
		cpu0, self0 := processCPU(b, g.pid), processCPU(b, os.Getpid())
		start := time.Now()
		deadline := start.Add(alternateRound)
		var n atomic.Int64
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					if err := g.call(); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		elapsed[i] += time.Since(start)
		done[i] += n.Load()
		cpu[i] += processCPU(b, g.pid) - cpu0
		self[i] += processCPU(b, os.Getpid()) - self0
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round(0)
		round(1)
	}
	b.StopTimer()
	rps := func(i int) float64 { return float64(done[i]) / elapsed[i].Seconds() }
	b.ReportMetric(rps(0), "off_req/s")
	b.ReportMetric(rps(1), "all_req/s")
	b.ReportMetric(rps(1)/rps(0), "all/off_throughput")
	for i, name := range []string{"off", "all"} {
		if done[i] > 0 {
			b.ReportMetric(float64(cpu[i].Microseconds())/float64(done[i]), name+"_gw_cpu_µs/req")
			// This process's: the load generator, the backend and the
			// receiver.
			b.ReportMetric(float64(self[i].Microseconds())/float64(done[i]), name+"_bench_cpu_µs/req")
		}
	}
}

// alternateRound is the length of one round of the alternate benchmark.
const alternateRound = time.Second

// benchGateway is `rpcbridge serve` in a process of its own (this test
// binary as rpcbridge, see TestMain), so that its CPU time can be read
// apart from the load generator's, the backend's and the receiver's.
type benchGateway struct {
	pid  int
	call func() error // POST /people/Get {"id": "1"}
	recv *countingReceiver
}

// startBenchGateway starts a gateway in front of the gRPC backend at
// backend, with tracing (every request sampled unless
// RPCBRIDGE_BENCH_SAMPLE_RATIO says otherwise, exported over OTLP/gRPC to
// a counting receiver) and the JSON access log (to a file) as asked,
// and waits until it answers. extraArgs are more flags for serve, e.g.
// "-pprof -admin 127.0.0.1:9901" to profile it under load.
func startBenchGateway(b *testing.B, backend string, tracing, accessLog bool, extraArgs string) *benchGateway {
	y := fmt.Sprintf(`
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: %q}]
`, backend)
	g := &benchGateway{}
	if tracing {
		g.recv = startCountingReceiver(b)
		y += fmt.Sprintf(`
telemetry:
  traces:
    sample_ratio: %s
    otlp: {endpoint: %q, protocol: grpc, insecure: true}
`, cmp.Or(os.Getenv("RPCBRIDGE_BENCH_SAMPLE_RATIO"), "1"), g.recv.addr)
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
	args := []string{"serve", "-c", cfg, "-listen", listen, "-log-level", "error", "-watch", "0"}
	args = append(args, strings.Fields(extraArgs)...)
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
	g.pid = cmd.Process.Pid
	url := "http://" + listen + "/people/Get"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	g.call = func() error {
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
	for g.call() != nil {
		if time.Now().After(deadline) {
			b.Fatal("gateway or backend not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return g
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
