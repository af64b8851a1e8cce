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
	"bytes"
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
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/dynamicpb"

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

type result struct {
	n        int
	errs     int
	elapsed  time.Duration
	lat      []time.Duration
	cpuTicks int64
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	return r.lat[int(float64(len(r.lat)-1)*p)]
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// run measures the direct client and the gateway (and, with minimal, the
// minimal translator). wrkPath is the wrk binary for HTTP rounds, or "".
func run(bin, wrkPath string, minimal bool, conc, rounds int, dur time.Duration) error {
	backend, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		return err
	}
	defer backend.Stop()
	listen, err := freeAddr()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "grpcload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf(`server: {listen: %s, admin: 127.0.0.1:9911}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: %s}]
`, listen, backend.Addr())
	cfgPath := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, append([]string{"serve", "-c", cfgPath, "-log-level", "warn", "-watch", "0", "-pprof"}, flag.Args()...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w (run make build first)", bin, err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxIdleConns: conc * 2}}
	url := "http://" + listen + "/people/Get"
	body := []byte(`{"id": "1"}`)
	gw := func() error {
		resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	// Wait for the gateway (and warm its schema cache).
	deadline := time.Now().Add(20 * time.Second)
	for gw() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway at %s did not answer", listen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cc, err := grpc.NewClient(backend.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	pc := demov1.NewPeopleServiceClient(cc)
	direct := func() error {
		_, err := pc.Get(context.Background(), &demov1.GetPersonRequest{Id: 1})
		return err
	}
	pid := cmd.Process.Pid
	var d, g []result
	for i := 0; i < rounds; i++ {
		d = append(d, load(direct, conc, dur, 0))
		if wrkPath != "" {
			r, err := loadWrk(wrkPath, url, string(body), conc, dur, pid, dir)
			if err != nil {
				return err
			}
			g = append(g, r)
			continue
		}
		g = append(g, load(gw, conc, dur, pid))
	}
	if minimal && wrkPath != "" {
		if err := measureMinimal(wrkPath, backend.Addr(), conc, rounds, dur, dir); err != nil {
			return err
		}
	}
	report("direct grpc-go", d, false)
	name := "via rpcbridge"
	if wrkPath != "" {
		name = "via rpcbridge*"
		defer fmt.Println("* gateway rounds driven by wrk; its p50/p99 come from wrk's latency distribution")
	}
	report(name, g, true)
	var dn, gn float64
	for i := range d {
		dn += d[i].rps()
		gn += g[i].rps()
	}
	fmt.Printf("throughput ratio gateway/direct: %.2f (concurrency %d, %d rounds of %s, GOMAXPROCS of this host: %d cores)\n", gn/dn, conc, rounds, dur, numCPU())
	return nil
}

func report(name string, rs []result, cpu bool) {
	var all result
	for _, r := range rs {
		all.n += r.n
		all.errs += r.errs
		all.elapsed += r.elapsed
		all.lat = append(all.lat, r.lat...)
		all.cpuTicks += r.cpuTicks
	}
	line := fmt.Sprintf("%-15s %9.0f req/s  p50 %8s  p99 %8s  errors %d", name, all.rps(), all.pct(0.5).Round(time.Microsecond), all.pct(0.99).Round(time.Microsecond), all.errs)
	if cpu && all.n > 0 {
		// /proc ticks are 1/100 s.
		us := float64(all.cpuTicks) * 10000 / float64(all.n)
		line += fmt.Sprintf("  gateway CPU %.1f us/req", us)
	}
	fmt.Println(line)
}

func load(call func() error, conc int, dur time.Duration, pid int) result {
	before := cpuTicks(pid)
	var mu sync.Mutex
	var res result
	stop := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			n, errs := 0, 0
			for time.Now().Before(stop) {
				t := time.Now()
				if err := call(); err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t))
				n++
			}
			mu.Lock()
			res.n += n
			res.errs += errs
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if pid > 0 {
		res.cpuTicks = cpuTicks(pid) - before
	}
	return res
}

// cpuTicks reads utime+stime of a process from /proc/<pid>/stat.
func cpuTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// loadWrk runs one gateway round with wrk and reads its summary.
func loadWrk(wrkPath, url, body string, conc int, dur time.Duration, pid int, dir string) (result, error) {
	script := filepath.Join(dir, "post.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", body)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return result{}, err
	}
	before := cpuTicks(pid)
	start := time.Now()
	out, err := exec.Command(wrkPath, "-t1", fmt.Sprintf("-c%d", conc), fmt.Sprintf("-d%ds", int(dur.Seconds())), "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r := result{elapsed: time.Since(start), cpuTicks: cpuTicks(pid) - before}
	var p50, p99 time.Duration
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "50%":
			p50 = wrkDuration(f[1])
		case len(f) >= 2 && f[0] == "99%":
			p99 = wrkDuration(f[1])
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			r.n, _ = strconv.Atoi(f[0])
		case strings.HasPrefix(line, "  Non-2xx"):
			r.errs, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	// Stand-in latencies so that report's percentiles read wrk's figures.
	for i := 0; i < 98; i++ {
		r.lat = append(r.lat, p50)
	}
	r.lat = append(r.lat, p99, p99)
	return r, nil
}

func wrkDuration(s string) time.Duration {
	d, err := time.ParseDuration(strings.Replace(s, "us", "µs", 1))
	if err != nil {
		return 0
	}
	return d
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
	listen, err := freeAddr()
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
	var rs []result
	for i := 0; i < rounds; i++ {
		r, err := loadWrk(wrkPath, "http://"+listen+"/people/Get", `{"id": "1"}`, conc, dur, cmd.Process.Pid, dir)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	report("ReverseProxy*", rs, true)
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
	listen, err := freeAddr()
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
	var rs []result
	for i := 0; i < rounds; i++ {
		r, err := loadWrk(wrkPath, "http://"+listen+"/", `{"id": "1"}`, conc, dur, cmd.Process.Pid, dir)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	report("minimal*", rs, true)
	return nil
}
