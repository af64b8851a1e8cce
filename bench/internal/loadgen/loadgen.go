// Package loadgen holds what the bench commands share: closed-loop load
// from Go at a fixed concurrency, HTTP rounds driven by wrk, a process's
// CPU time read from /proc, the gateway started as its own process, and
// the report lines.
package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is one or more rounds of load.
type Result struct {
	N        int
	Errs     int
	Elapsed  time.Duration
	Lat      []time.Duration
	CPUTicks int64 // utime+stime of the process under test, 1/100 s
}

// RPS is the throughput, requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// Pct is the latency at quantile p (0..1); it sorts r.Lat.
func (r Result) Pct(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	sort.Slice(r.Lat, func(i, j int) bool { return r.Lat[i] < r.Lat[j] })
	return r.Lat[int(float64(len(r.Lat)-1)*p)]
}

// CPUPerReq is the measured process's CPU time per request in µs.
func (r Result) CPUPerReq() float64 {
	if r.N == 0 {
		return 0
	}
	return float64(r.CPUTicks) * 10000 / float64(r.N)
}

// Merge adds rounds up into one Result.
func Merge(rs []Result) Result {
	var all Result
	for _, r := range rs {
		all.N += r.N
		all.Errs += r.Errs
		all.Elapsed += r.Elapsed
		all.Lat = append(all.Lat, r.Lat...)
		all.CPUTicks += r.CPUTicks
	}
	return all
}

// Line is a report line for r: throughput, p50, p99, errors and, with cpu,
// the measured process's CPU time per request.
func Line(name string, r Result, cpu bool) string {
	line := fmt.Sprintf("%-15s %9.0f req/s  p50 %8s  p99 %8s  errors %d", name, r.RPS(), r.Pct(0.5).Round(time.Microsecond), r.Pct(0.99).Round(time.Microsecond), r.Errs)
	if cpu && r.N > 0 {
		line += fmt.Sprintf("  gateway CPU %.1f us/req", r.CPUPerReq())
	}
	return line
}

// Report prints the line of rounds rs merged.
func Report(name string, rs []Result, cpu bool) {
	fmt.Println(Line(name, Merge(rs), cpu))
}

// Load calls call from conc goroutines for dur, each as fast as its calls
// return; worker is the goroutine's number (0..conc-1), for clients that
// are not safe for concurrent use. With pid > 0 the result has that
// process's CPU ticks over the round.
func Load(conc int, dur time.Duration, pid int, call func(worker int) error) Result {
	before := CPUTicks(pid)
	var mu sync.Mutex
	var res Result
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
				if err := call(w); err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t))
				n++
			}
			mu.Lock()
			res.N += n
			res.Errs += errs
			res.Lat = append(res.Lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if pid > 0 {
		res.CPUTicks = CPUTicks(pid) - before
	}
	return res
}

// CPUTicks reads utime+stime of a process from /proc/<pid>/stat; 0 for
// pid 0 or when it cannot be read.
func CPUTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	f := statFields(pid)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// statFields are the fields of /proc/<pid>/stat after the command name:
// [0] is the state, [1] the parent's pid, [11] and [12] utime and stime,
// [13] and [14] those of the children the process has waited for.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

// Others is the CPU time of every process but this one and its children
// (a gateway, wrk), by pid, including what each has collected from its
// own children when they ended (cutime, cstime): see OthersSince.
type Others map[int]int64

// OthersNow reads Others from /proc.
func OthersNow() Others {
	self := os.Getpid()
	out := Others{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		f := statFields(pid)
		if len(f) < 15 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self {
			continue
		}
		var t int64
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			t += n
		}
		out[pid] = t
	}
	return out
}

// Since is the CPU time (1/100 s) other processes spent between before
// and o: the growth of those in both, all of those that are new. It is an
// estimate: a process that ended in between is missing until its parent
// collects it, and then counts whole, as a compiler run under `go build`
// does.
func (o Others) Since(before Others) int64 {
	var t int64
	for pid, n := range o {
		if b, ok := before[pid]; ok && b <= n {
			t += n - b
		} else if !ok {
			t += n
		}
	}
	return t
}

// NumCPU is the number of processors /proc/cpuinfo lists.
func NumCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// FreeAddr is a 127.0.0.1 address whose port is free now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Wrk runs one round of POSTs of body to url with wrk (one thread, conc
// connections), with header's name and value pairs added to each, and
// reads its summary. The script goes into dir. With
// pid > 0 the result has that process's CPU ticks over the round. Its
// latencies are stand-ins that make Pct read wrk's p50 and p99.
func Wrk(wrkPath, url, body string, conc int, dur time.Duration, pid int, dir string, header ...string) (Result, error) {
	script := filepath.Join(dir, "post.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", body)
	for i := 0; i+1 < len(header); i += 2 {
		lua += fmt.Sprintf("wrk.headers[%q] = %q\n", header[i], header[i+1])
	}
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return Result{}, err
	}
	before := CPUTicks(pid)
	start := time.Now()
	out, err := exec.Command(wrkPath, "-t1", fmt.Sprintf("-c%d", conc), fmt.Sprintf("-d%ds", int(dur.Seconds())), "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r := Result{Elapsed: time.Since(start), CPUTicks: CPUTicks(pid) - before}
	var p50, p99 time.Duration
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "50%":
			p50 = wrkDuration(f[1])
		case len(f) >= 2 && f[0] == "99%":
			p99 = wrkDuration(f[1])
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			r.N, _ = strconv.Atoi(f[0])
		case strings.HasPrefix(line, "  Non-2xx"):
			r.Errs, _ = strconv.Atoi(f[len(f)-1])
		}
	}
	for i := 0; i < 98; i++ {
		r.Lat = append(r.Lat, p50)
	}
	r.Lat = append(r.Lat, p99, p99)
	return r, nil
}

func wrkDuration(s string) time.Duration {
	d, err := time.ParseDuration(strings.Replace(s, "us", "µs", 1))
	if err != nil {
		return 0
	}
	return d
}

// HTTPPoster returns a function that POSTs body to url with Go's client
// (keep-alive, enough idle connections for conc), with header's name and
// value pairs, and wants a 200.
func HTTPPoster(url, body string, conc int, header ...string) func() error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxIdleConns: conc * 2}}
	b := []byte(body)
	return func() error {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := hc.Do(req)
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
}

// WaitOK calls call until it succeeds or timeout passes.
func WaitOK(call func() error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := call()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Gateway is an rpcbridge process serving one config.
type Gateway struct {
	Listen string // host:port of its data plane
	Admin  string // host:port of its control plane
	cmd    *exec.Cmd
}

// Pid is the gateway process's id.
func (g *Gateway) Pid() int { return g.cmd.Process.Pid }

// Stop kills the gateway and waits for it.
func (g *Gateway) Stop() {
	g.cmd.Process.Kill()
	g.cmd.Wait()
}

// StartCommand runs another gateway (pixiu, say) as bin with args,
// serving its data plane at listen, its output going to the file logPath.
// It returns once the process has started; see WaitOK.
func StartCommand(bin string, args []string, listen, logPath string) (*Gateway, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return &Gateway{Listen: listen, cmd: cmd}, nil
}

// StartGateway writes services (the YAML of a config's services: and
// later keys) under a server: section with free addresses into
// dir/<name>.yaml and runs `bin serve` on it, with extra flags after its
// own. It returns once the process has started; see WaitOK.
func StartGateway(bin, dir, name, services string, extra []string) (*Gateway, error) {
	listen, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("server: {listen: '%s', admin: '%s'}\n%s", listen, admin, services)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve", "-c", path, "-log-level", "warn", "-watch", "0"}, extra...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w (run make build first)", bin, err)
	}
	return &Gateway{Listen: listen, Admin: admin, cmd: cmd}, nil
}
