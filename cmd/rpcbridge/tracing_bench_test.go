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
	"syscall"
	"testing"
	"time"

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
	var recv *otlpReceiver
	if tracing {
		recv = startOTLPReceiver(b, "grpc", false)
		recv.countOnly = true
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
	cmd := exec.Command(os.Args[0], "serve", "-c", cfg, "-listen", listen, "-log-level", "error", "-watch", "0")
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
	cpu0 := processCPU(b, cmd.Process.Pid)
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
	if recv != nil {
		// Every span of the run reached the receiver, or was counted as
		// dropped.
		b.ReportMetric(float64(recv.received.Load())/float64(b.N), "spans_received/op")
	}
}

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
