// Command rpcload measures the gateway against each protocol's own client
// on the same backend, the way grpcload does for gRPC: the sample backend
// runs in this process, rpcbridge runs as separate processes (one per
// configuration compared, so that each one's CPU can be read from /proc),
// and rounds alternate between the direct client (Go, conc goroutines)
// and HTTP/JSON through each gateway (wrk, conc connections).
//
//	go run ./bench/rpcload -gateway bin/rpcbridge -protocol dubbo,thrift,tars -rounds 3 -d 5s
//
// Dubbo compares dubbo-go's typed client with rpcbridge (and with
// dubbo-go-pixiu, given -pixiu); Thrift, Tars and gRPC compare their
// native clients with rpcbridge.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/bench/internal/loadgen"
)

func main() {
	bin := flag.String("gateway", "bin/rpcbridge", "rpcbridge binary (make build)")
	protocols := flag.String("protocol", "dubbo", "comma-separated protocols to measure: dubbo, thrift, tars, grpc (or all)")
	conc := flag.Int("c", 32, "concurrent requests")
	rounds := flag.Int("rounds", 3, "alternating rounds of each")
	dur := flag.Duration("d", 5*time.Second, "length of one round (whole seconds with wrk)")
	warm := flag.Duration("warmup", time.Second, "an uncounted round of each before the first")
	useWrk := flag.Bool("wrk", true, "drive the gateway rounds with wrk when it is on PATH (a cheaper load generator than Go's HTTP client)")
	base := flag.String("base", "", "a second rpcbridge binary (an older build, say): each gateway configuration runs from it too, as NAME@base, in the same alternating rounds")
	only := flag.String("variants", "", "comma-separated gateway configurations to run (e.g. rpcbridge); all when empty")
	pixiu := flag.String("pixiu", "", "a dubbo-go-pixiu binary: Dubbo rounds then run it too on the same provider, as pixiu (its Dubbo proxy, finding the provider in ZooKeeper) and pixiu-direct (its direct HTTP to Dubbo filter)")
	pixiuLog := flag.String("pixiu-log", "", "with -pixiu, the file prefix pixiu's output goes to, NAME.log per pixiu (default: temporary files, removed)")
	zk := flag.String("zk", "", "with -pixiu, a ZooKeeper (host:port) the Dubbo provider registers in for pixiu (default: start one from the Debian zookeeper package's jar)")
	flag.Parse()
	wrkPath := ""
	if *useWrk {
		if p, err := exec.LookPath("wrk"); err == nil {
			wrkPath = p
		}
	}
	list := strings.Split(*protocols, ",")
	if *protocols == "all" {
		list = []string{"dubbo", "thrift", "tars", "grpc"}
	}
	o := options{bin: *bin, base: *base, pixiu: *pixiu, pixiuLog: *pixiuLog, zk: *zk, wrkPath: wrkPath, conc: *conc, rounds: *rounds, dur: *dur, warm: *warm, extra: flag.Args()}
	if *only != "" {
		o.only = strings.Split(*only, ",")
	}
	var atExit []func()
	o.atExit = &atExit
	exit := func(code int) {
		for i := len(atExit) - 1; i >= 0; i-- {
			atExit[i]()
		}
		os.Exit(code)
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
		case "grpc":
			s, err = grpcSetup(o)
		default:
			err = fmt.Errorf("-protocol: %q is not one of dubbo, thrift, tars, grpc", p)
		}
		if err == nil {
			err = measure(o, s)
			s.close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rpcload:", p+":", err)
			exit(1)
		}
	}
	exit(0)
}

type options struct {
	bin, wrkPath string
	base         string   // a second binary, run beside bin
	pixiu        string   // a pixiu binary, for setups that have a pixiu configuration
	pixiuLog     string   // where pixiu's output goes, or "" for a temporary file
	zk           string   // a ZooKeeper for pixiu's registry, or "" to start one
	only         []string // the variants to run, all when empty
	conc, rounds int
	dur, warm    time.Duration
	extra        []string // flags for rpcbridge serve
	// atExit is what to stop when the command ends (last first): things
	// that must outlive their protocol's rounds.
	atExit *[]func()
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
	// pixius are the configurations of pixiu serving the same call, run
	// with -pixiu.
	pixius []pixiuSetup
	close  func()
}

// pixiuSetup is one pixiu configuration: its name in the report, and its
// YAML and request for a pixiu listening on listen (files it needs go
// to dir).
type pixiuSetup struct {
	name   string
	config func(listen, dir string) (pixiuCall, error)
}

// pixiuCall is a pixiu configuration and the request it answers.
type pixiuCall struct {
	config, path, body string
	header             []string // name, value pairs
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
	body   string
	header []string
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
			cs = append(cs, &contender{name: name, gw: g, url: "http://" + g.Listen + s.path, body: s.body})
		}
	}
	for _, ps := range s.pixius {
		if o.pixiu == "" {
			break
		}
		listen, err := loadgen.FreeAddr()
		if err != nil {
			return err
		}
		pc, err := ps.config(listen, dir)
		if err != nil {
			return err
		}
		conf := filepath.Join(dir, ps.name+".yaml")
		if err := os.WriteFile(conf, []byte(pc.config), 0o644); err != nil {
			return err
		}
		// pixiu's dubbo-go logs reconnections at warn whatever its level:
		// its output goes to a file, kept when -pixiu-log is set.
		logPath := filepath.Join(dir, ps.name+".log")
		if o.pixiuLog != "" {
			logPath = o.pixiuLog + ps.name + ".log"
		}
		g, err := loadgen.StartCommand(o.pixiu, []string{"gateway", "start", "-c", conf}, listen, logPath)
		if err != nil {
			return err
		}
		defer g.Stop()
		cs = append(cs, &contender{name: ps.name, gw: g, url: "http://" + listen + pc.path, body: pc.body, header: pc.header})
	}
	for _, c := range cs[1:] {
		if err := loadgen.WaitOK(loadgen.HTTPPoster(c.url, c.body, 1, c.header...), 20*time.Second); err != nil {
			return fmt.Errorf("%s at %s does not answer POST %s %s: %w", c.name, c.gw.Listen, c.url, c.body, err)
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
			return loadgen.Wrk(o.wrkPath, c.url, c.body, o.conc, d, c.gw.Pid(), dir, c.header...)
		}
		post := loadgen.HTTPPoster(c.url, c.body, o.conc, c.header...)
		return loadgen.Load(o.conc, d, c.gw.Pid(), func(int) error { return post() }), nil
	}
	for _, c := range cs[1:] {
		if c.gw.Admin == "" {
			fmt.Printf("%s: pid %d, %s\n", c.name, c.gw.Pid(), c.url)
			continue
		}
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
