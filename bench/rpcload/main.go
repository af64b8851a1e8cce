// Command rpcload measures the gateway against each protocol's own client
// on the same backend, the way grpcload does for gRPC: the sample backend
// runs in this process, rpcbridge runs as separate processes (one per
// configuration compared, so that each one's CPU can be read from /proc),
// and rounds alternate between the direct client (Go, conc goroutines)
// and HTTP/JSON through each gateway (wrk, conc connections).
//
//	go run ./bench/rpcload -gateway bin/rpcbridge -protocol dubbo,thrift,tars -rounds 3 -d 5s
//
// Dubbo compares dubbo-go's typed client with rpcbridge on each of its
// Dubbo engines (dubbo.engine: direct, and dubbo-go); Thrift and Tars
// compare their native clients with rpcbridge.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/bench/internal/loadgen"
)

func main() {
	bin := flag.String("gateway", "bin/rpcbridge", "rpcbridge binary (make build)")
	protocols := flag.String("protocol", "dubbo", "comma-separated protocols to measure: dubbo, thrift, tars (or all)")
	conc := flag.Int("c", 32, "concurrent requests")
	rounds := flag.Int("rounds", 3, "alternating rounds of each")
	dur := flag.Duration("d", 5*time.Second, "length of one round (whole seconds with wrk)")
	warm := flag.Duration("warmup", time.Second, "an uncounted round of each before the first")
	useWrk := flag.Bool("wrk", true, "drive the gateway rounds with wrk when it is on PATH (a cheaper load generator than Go's HTTP client)")
	base := flag.String("base", "", "a second rpcbridge binary (an older build, say): each gateway configuration runs from it too, as NAME@base, in the same alternating rounds")
	only := flag.String("variants", "", "comma-separated gateway configurations to run (e.g. rpcbridge); all when empty")
	flag.Parse()
	wrkPath := ""
	if *useWrk {
		if p, err := exec.LookPath("wrk"); err == nil {
			wrkPath = p
		}
	}
	list := strings.Split(*protocols, ",")
	if *protocols == "all" {
		list = []string{"dubbo", "thrift", "tars"}
	}
	o := options{bin: *bin, base: *base, wrkPath: wrkPath, conc: *conc, rounds: *rounds, dur: *dur, warm: *warm, extra: flag.Args()}
	if *only != "" {
		o.only = strings.Split(*only, ",")
	}
	for _, p := range list {
		var (
			s   *setup
			err error
		)
		switch strings.TrimSpace(p) {
		case "dubbo":
			s, err = dubboSetup(o)
		case "thrift":
			s, err = thriftSetup(o)
		case "tars":
			s, err = tarsSetup(o)
		default:
			err = fmt.Errorf("-protocol: %q is not one of dubbo, thrift, tars", p)
		}
		if err == nil {
			err = measure(o, s)
			s.close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rpcload:", p+":", err)
			os.Exit(1)
		}
	}
}

type options struct {
	bin, wrkPath string
	base         string   // a second binary, run beside bin
	only         []string // the variants to run, all when empty
	conc, rounds int
	dur, warm    time.Duration
	extra        []string // flags for rpcbridge serve
}

// setup is one protocol's comparison: a backend in this process, its
// direct client, and the gateway configurations to measure against it.
type setup struct {
	protocol string
	// direct is the direct client's name in the report and its call;
	// worker (0..conc-1) picks the client of a goroutine for clients
	// that are not safe for concurrent use.
	directName string
	direct     func(worker int) error
	// path and body are the gateway request: POST path, JSON body.
	path, body string
	variants   []variant
	close      func()
}

// variant is one gateway configuration: its services: section.
type variant struct {
	name     string
	services string
}

type contender struct {
	name   string
	gw     *loadgen.Gateway // nil for the direct client
	url    string
	rounds []loadgen.Result
}

// measure starts the gateways of s, warms every contender up, runs the
// alternating rounds, printing each, and then the summary.
func measure(o options, s *setup) error {
	dir, err := os.MkdirTemp("", "rpcload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cs := []*contender{{name: s.directName}}
	for i, v := range s.variants {
		if len(o.only) > 0 && !slices.Contains(o.only, v.name) {
			continue
		}
		bins := []string{o.bin}
		if o.base != "" {
			bins = append(bins, o.base)
		}
		for j, bin := range bins {
			g, err := loadgen.StartGateway(bin, dir, fmt.Sprintf("gateway%d-%d", i, j), v.services, o.extra)
			if err != nil {
				return err
			}
			defer g.Stop()
			name := v.name
			if j > 0 {
				name += "@base"
			}
			cs = append(cs, &contender{name: name, gw: g, url: "http://" + g.Listen + s.path})
		}
	}
	for _, c := range cs[1:] {
		if err := loadgen.WaitOK(loadgen.HTTPPoster(c.url, s.body, 1), 20*time.Second); err != nil {
			return fmt.Errorf("%s at %s does not answer POST %s %s: %w", c.name, c.gw.Listen, s.path, s.body, err)
		}
	}
	if err := s.direct(0); err != nil {
		return fmt.Errorf("%s: %w", s.directName, err)
	}
	round := func(c *contender, d time.Duration) (loadgen.Result, error) {
		if c.gw == nil {
			return loadgen.Load(o.conc, d, 0, s.direct), nil
		}
		if o.wrkPath != "" {
			if d < time.Second {
				d = time.Second
			}
			return loadgen.Wrk(o.wrkPath, c.url, s.body, o.conc, d, c.gw.Pid(), dir)
		}
		post := loadgen.HTTPPoster(c.url, s.body, o.conc)
		return loadgen.Load(o.conc, d, c.gw.Pid(), func(int) error { return post() }), nil
	}
	for _, c := range cs[1:] {
		fmt.Printf("%s: pid %d, %s, control plane %s\n", c.name, c.gw.Pid(), c.url, c.gw.Admin)
	}
	fmt.Printf("== %s: %d rounds of %s at concurrency %d, %d cores\n", s.protocol, o.rounds, o.dur, o.conc, loadgen.NumCPU())
	if o.warm > 0 {
		for _, c := range cs {
			if _, err := round(c, o.warm); err != nil {
				return err
			}
		}
	}
	for i := 0; i < o.rounds; i++ {
		for _, c := range cs {
			before := loadgen.OthersNow()
			r, err := round(c, o.dur)
			if err != nil {
				return err
			}
			c.rounds = append(c.rounds, r)
			line := fmt.Sprintf("round %d  %s", i+1, loadgen.Line(c.name, r, c.gw != nil))
			if c.gw != nil {
				line += fmt.Sprintf("  x%.2f of direct", r.RPS()/cs[0].rounds[i].RPS())
			}
			// Other processes' CPU (another build, say); ticks per
			// second are % of a core.
			fmt.Printf("%s  (others %.0f%% of a core)\n", line, float64(loadgen.OthersNow().Since(before))/r.Elapsed.Seconds())
		}
	}
	fmt.Println("-- all rounds")
	direct := loadgen.Merge(cs[0].rounds)
	for _, c := range cs {
		all := loadgen.Merge(c.rounds)
		line := "         " + loadgen.Line(c.name, all, c.gw != nil)
		if c.gw != nil {
			line += fmt.Sprintf("  throughput x%.2f of direct", all.RPS()/direct.RPS())
		}
		fmt.Println(line)
	}
	if o.wrkPath != "" {
		fmt.Println("gateway rounds driven by wrk (-t1); their p50/p99 are wrk's; the direct client's are measured per call in this process")
	}
	return nil
}
