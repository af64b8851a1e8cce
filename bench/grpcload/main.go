// Command grpcload measures the gateway against the direct gRPC client on
// the same backend: it starts the sample gRPC service in-process, runs the
// rpcbridge binary as a separate process (so its CPU can be read from
// /proc), and alternates rounds of direct grpc-go calls and HTTP/JSON calls
// through the gateway at a fixed concurrency. It prints throughput, p50 and
// p99 for both, their ratio, and the gateway's CPU time per request.
//
//	go run ./bench/grpcload -gateway bin/rpcbridge -c 32 -rounds 3 -d 3s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/rpcbridge/rpcbridge/bench/internal/loadgen"
	"github.com/rpcbridge/rpcbridge/examples/people"
	demov1 "github.com/rpcbridge/rpcbridge/examples/people/demov1"
)

func main() {
	bin := flag.String("gateway", "bin/rpcbridge", "rpcbridge binary (make build)")
	conc := flag.Int("c", 32, "concurrent requests")
	rounds := flag.Int("rounds", 3, "alternating rounds of each")
	dur := flag.Duration("d", 3*time.Second, "length of one round")
	useWrk := flag.Bool("wrk", true, "drive the gateway rounds with wrk when it is on PATH (a cheaper load generator than Go's HTTP client)")
	baseline := flag.Bool("proxy-baseline", true, "also measure a tuned httputil.ReverseProxy on a plain HTTP->HTTP hop (needs wrk), for scale")
	asProxy := flag.String("as-proxy", "", "internal: run as the baseline reverse proxy, LISTEN=TARGET")
	asMinimal := flag.String("as-minimal", "", "internal: run as the minimal translator, LISTEN=GRPC_TARGET")
	minimal := flag.Bool("minimal-baseline", true, "also measure a minimal HTTP/JSON->gRPC translator (net/http, one ClientConn, protojson + dynamicpb, descriptors cached), for scale")
	flag.Parse()
	if *asProxy != "" {
		runProxy(*asProxy)
		return
	}
	if *asMinimal != "" {
		runMinimal(*asMinimal)
		return
	}
	wrkPath := ""
	if *useWrk {
		if p, err := exec.LookPath("wrk"); err == nil {
			wrkPath = p
		}
	}
	if err := run(*bin, wrkPath, *minimal, *conc, *rounds, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
	if *baseline && wrkPath != "" {
		if err := proxyBaseline(wrkPath, *conc, *rounds, *dur); err != nil {
			fmt.Fprintln(os.Stderr, "grpcload: proxy baseline:", err)
			os.Exit(1)
		}
	}
}

// run measures the direct client and the gateway (and, with minimal, the
// minimal translator). wrkPath is the wrk binary for HTTP rounds, or "".
func run(bin, wrkPath string, minimal bool, conc, rounds int, dur time.Duration) error {
	backend, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		return err
	}
	defer backend.Stop()
	dir, err := os.MkdirTemp("", "grpcload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	services := fmt.Sprintf(`services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: '%s'}]
`, backend.Addr())
	g, err := loadgen.StartGateway(bin, dir, "gateway", services, append([]string{"-pprof"}, flag.Args()...))
	if err != nil {
		return err
	}
	defer g.Stop()
	url := "http://" + g.Listen + "/people/Get"
	body := `{"id": "1"}`
	gw := loadgen.HTTPPoster(url, body, conc)
	// Wait for the gateway (and warm its schema cache).
	if err := loadgen.WaitOK(gw, 20*time.Second); err != nil {
		return fmt.Errorf("gateway at %s did not answer: %w", g.Listen, err)
	}
	cc, err := grpc.NewClient(backend.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	pc := demov1.NewPeopleServiceClient(cc)
	direct := func(int) error {
		_, err := pc.Get(context.Background(), &demov1.GetPersonRequest{Id: 1})
		return err
	}
	pid := g.Pid()
	var d, gr []loadgen.Result
	for i := 0; i < rounds; i++ {
		d = append(d, loadgen.Load(conc, dur, 0, direct))
		if wrkPath != "" {
			r, err := loadgen.Wrk(wrkPath, url, body, conc, dur, pid, dir)
			if err != nil {
				return err
			}
			gr = append(gr, r)
			continue
		}
		gr = append(gr, loadgen.Load(conc, dur, pid, func(int) error { return gw() }))
	}
	if minimal && wrkPath != "" {
		if err := measureMinimal(wrkPath, backend.Addr(), conc, rounds, dur, dir); err != nil {
			return err
		}
	}
	loadgen.Report("direct grpc-go", d, false)
	name := "via rpcbridge"
	if wrkPath != "" {
		name = "via rpcbridge*"
		defer fmt.Println("* gateway rounds driven by wrk; its p50/p99 come from wrk's latency distribution")
	}
	loadgen.Report(name, gr, true)
	var dn, gn float64
	for i := range d {
		dn += d[i].RPS()
		gn += gr[i].RPS()
	}
	fmt.Printf("throughput ratio gateway/direct: %.2f (concurrency %d, %d rounds of %s, GOMAXPROCS of this host: %d cores)\n", gn/dn, conc, rounds, dur, loadgen.NumCPU())
	return nil
}

// runProxy serves a reverse proxy tuned as a careful operator would:
// keep-alive connections to the target, enough idle connections for the
// load, no logging.
func runProxy(spec string) {
	listen, target, _ := strings.Cut(spec, "=")
	u, err := neturl.Parse("http://" + target)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	debug.SetGCPercent(400)
	if err := http.ListenAndServe(listen, rp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// proxyBaseline measures the CPU a tuned httputil.ReverseProxy spends per
// request on a plain HTTP->HTTP hop with the same reply body.
func proxyBaseline(wrkPath string, conc, rounds int, dur time.Duration) error {
	reply := []byte(`{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_ADMIN","address":{"street":"12 St James's Square","city":"London","geo":{"lat":51.5074,"lng":-0.1345}},"tags":["math","engines"],"createdAt":"2024-01-02T03:04:05Z"}`)
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply)
	})}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go backend.Serve(bl)
	defer backend.Close()
	listen, err := loadgen.FreeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(os.Args[0], "-as-proxy", listen+"="+bl.Addr().String())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proxy did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir, err := os.MkdirTemp("", "proxybase")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var rs []loadgen.Result
	for i := 0; i < rounds; i++ {
		r, err := loadgen.Wrk(wrkPath, "http://"+listen+"/people/Get", `{"id": "1"}`, conc, dur, cmd.Process.Pid, dir)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	loadgen.Report("ReverseProxy*", rs, true)
	return nil
}

// runMinimal serves the smallest careful HTTP/JSON -> gRPC translator for
// PeopleService.Get: one ClientConn, protojson and dynamicpb, the method's
// descriptors resolved once.
func runMinimal(spec string) {
	listen, target, _ := strings.Cut(spec, "=")
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	md := demov1.File_people_proto.Services().ByName("PeopleService").Methods().ByName("Get")
	in, out := dynamicpb.NewMessageType(md.Input()), dynamicpb.NewMessageType(md.Output())
	debug.SetGCPercent(400)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := in.New().Interface()
		if err := protojson.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp := out.New().Interface()
		if err := cc.Invoke(r.Context(), "/demo.v1.PeopleService/Get", req, resp); err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		b, _ := protojson.Marshal(resp)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	if err := http.ListenAndServe(listen, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// measureMinimal runs the minimal translator as its own process against
// the same backend and measures it like the gateway.
func measureMinimal(wrkPath, backend string, conc, rounds int, dur time.Duration, dir string) error {
	listen, err := loadgen.FreeAddr()
	if err != nil {
		return err
	}
	cmd := exec.Command(os.Args[0], "-as-minimal", listen+"="+backend)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Post("http://"+listen+"/", "application/json", strings.NewReader(`{"id": "1"}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minimal translator did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rs []loadgen.Result
	for i := 0; i < rounds; i++ {
		r, err := loadgen.Wrk(wrkPath, "http://"+listen+"/", `{"id": "1"}`, conc, dur, cmd.Process.Pid, dir)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	loadgen.Report("minimal*", rs, true)
	return nil
}
