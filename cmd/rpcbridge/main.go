// Command rpcbridge is the protocol-translation API gateway: HTTP/JSON in,
// gRPC, Dubbo, Thrift, Tars or HTTP out.
//
//	rpcbridge serve -c gateway.yaml     run the gateway
//	rpcbridge validate -c gateway.yaml  check a config; print every problem
//	rpcbridge demo                      run the gateway on built-in sample backends
//	rpcbridge health                    exit 0 when a running gateway is ready
//	rpcbridge version                   print the version
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
)

const usage = `rpcbridge: HTTP/JSON to gRPC, Dubbo, Thrift, Tars and HTTP backends

usage:
  rpcbridge serve -c gateway.yaml      run the gateway
  rpcbridge serve -config-zk HOST:PORT [-group G] [-node NAME] [-zk-user U -zk-password-env VAR]
                                       run the gateway on the config kept in ZooKeeper
                                       (NAME, default the host name, picks up staged versions)
  rpcbridge validate -c gateway.yaml   check a config and print every problem
  rpcbridge describe -c gateway.yaml [SERVICE ...]
  rpcbridge describe URL SERVICE ...   print services' methods and types as JSON
  rpcbridge openapi -c gateway.yaml   print the OpenAPI 3.1 document of the config's services
  rpcbridge call URL SERVICE/METHOD [-d JSON|@FILE|@-] [-H name:value] [-timeout 10s]
  rpcbridge call -c gateway.yaml NAME/METHOD [...]
                                       call a backend method and print the reply JSON; URL is
                                       grpc|triple|dubbo|thrift|tars|http://HOST:PORT?params
  rpcbridge config push -c gateway.yaml -zk HOST:PORT [-group G] [-nodes gw-1,gw-2]
          [-zk-user U -zk-password-env VAR] [-zk-acl digest:U:all,world:read]
                                       validate a config and store it for every replica
                                       (with -nodes: for those gateway nodes only)
  rpcbridge config promote|history -zk HOST:PORT [-group G] [...]
                                       apply the staged version to every node; list versions
  rpcbridge config rollback -zk HOST:PORT [-group G] [-to VERSION] [...]
                                       go back to the previous version (or VERSION) everywhere
  rpcbridge config get -zk HOST:PORT [-group G] [-zk-user U -zk-password-env VAR]
                                       print the stored config and its version
  rpcbridge demo [-listen ADDR] [-admin ADDR] [-dir DIR]
                                       run the gateway on built-in sample backends
  rpcbridge health [-admin ADDR] [-live] [-ca FILE]
                                       exit 0 when a running gateway is ready (/readyz)
  rpcbridge version                    print the version
`

func main() {
	dubbo.QuietLibraryLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "config":
		err = cmdConfig(ctx, args[1:], stdout, stderr)
	case "describe":
		err = cmdDescribe(ctx, args[1:], stdout, stderr)
	case "openapi":
		err = cmdOpenAPI(ctx, args[1:], stdout, stderr)
	case "call":
		return cmdCall(ctx, args[1:], os.Stdin, stdout, stderr)
	case "health":
		err = cmdHealth(ctx, args[1:], stdout, stderr)
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, versionLine(buildInfo()))
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "rpcbridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "rpcbridge:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: want debug, info, warn or error, got %q", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// loadConfig reads, decodes, resolves relative paths against the file's
// folder, and validates.
func loadConfig(path string) (*mapping.Config, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := mapping.Decode(raw, plugins())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.ResolvePaths(filepath.Dir(path))
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, raw, nil
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, _, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Build every adapter once: IDL files and descriptor sets are parsed
	// here, so their errors show too.
	bad := 0
	for i := range cfg.Services {
		if _, err := cfg.Services[i].Build(mapping.ProtocolEnv{}); err != nil {
			fmt.Fprintf(stderr, "%s: services[%d] %q: %v\n", *path, i, cfg.Services[i].Name, err)
			bad++
		}
	}
	for _, problem := range gateway.CheckEdge(cfg) {
		fmt.Fprintf(stderr, "%s: %s\n", *path, problem)
		bad++
	}
	if bad > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d services, %d routes)\n", *path, len(cfg.Services), len(cfg.Routes))
	return 0
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	watch := fs.Duration("watch", time.Second, "how often to check the config file for changes (0 disables)")
	zkServers := fs.String("config-zk", "", "take the config from ZooKeeper (comma-separated host:port) instead of -c")
	zkRoot := fs.String("zk-root", "/rpcbridge", "ZooKeeper root of the stored config")
	group := fs.String("group", "default", "config group this replica pulls")
	node := fs.String("node", hostname(), "this gateway node's name, for versions staged with `config push -nodes`")
	zkAuth := addZKAuthFlags(fs, false)
	listen := fs.String("listen", "", "override server.listen")
	adminAddr := fs.String("admin", "", "override server.admin")
	pprof := fs.Bool("pprof", false, "serve Go's profiler on the control plane under /debug/pprof/")
	traceFile := fs.String("trace-file", "", "write OpenTelemetry spans (one per request, one per backend attempt) as JSON to this file")
	gogc := fs.Int("gogc", 400, "garbage collector target percentage (GOGC); a gateway's heap is small, so collecting less often saves CPU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(*gogc)
	}
	override := func(cfg *mapping.Config) {
		if *listen != "" {
			cfg.Server.Listen = *listen
		}
		if *adminAddr != "" {
			cfg.Server.Admin = *adminAddr
		}
	}
	// The discovery is closed after the gateway (defers run in reverse).
	disc := newZKDiscovery(log)
	defer disc.Close()
	opts := gateway.Options{Discovery: disc, Logger: log, Source: *path, Metrics: prometheus.NewRegistry(), Build: buildInfo()}
	if *zkServers != "" {
		return serveFromZooKeeper(ctx, log, opts, strings.Split(*zkServers, ","), *zkRoot, *group, *node, zkAuth, override, *pprof, *traceFile)
	}
	cfg, raw, err := loadConfig(*path)
	if err != nil {
		return err
	}
	override(cfg)
	// Built once from the first config: telemetry changes need a restart.
	tp, closeTracer, err := newTracer(cfg.Telemetry, *traceFile, opts.Metrics, log)
	if err != nil {
		return err
	}
	defer closeTracer()
	opts.TracerProvider = tp
	g, err := gateway.New(cfg, raw, opts)
	if err != nil {
		return err
	}
	defer g.Close()
	reload := func() error {
		cfg, raw, err := loadConfig(*path)
		if err != nil {
			return err
		}
		override(cfg)
		return g.Reload(cfg, raw)
	}
	go watchConfig(ctx, log, *path, raw, *watch, reload)
	return serve(ctx, g, cfg, log, gateway.AdminOptions{Reload: reload, Pprof: *pprof})
}

// serve binds the listeners and runs until ctx ends.
func serve(ctx context.Context, g *gateway.Gateway, cfg *mapping.Config, log *slog.Logger, ao gateway.AdminOptions) error {
	data, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	var admin net.Listener
	if cfg.Server.Admin != "" {
		admin, err = net.Listen("tcp", cfg.Server.Admin)
		if err != nil {
			data.Close()
			return err
		}
		log.Info("control plane listening", "addr", admin.Addr().String())
	}
	log.Info("gateway listening", "addr", data.Addr().String(), "version", buildInfo().Version)
	err = g.Serve(ctx, data, admin, ao)
	log.Info("gateway stopped")
	return err
}

// watchConfig reloads on SIGHUP and when the file changes: its size or
// modification time differ, or, while it was modified in the last two
// seconds (file systems keep coarse times, so two quick same-size writes
// can share one), its content differs from what was last loaded. loaded
// is the text the gateway started with. A refused config is logged; the
// old one stays in force.
func watchConfig(ctx context.Context, log *slog.Logger, path string, loaded []byte, every time.Duration, reload func() error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	stat := func() (string, time.Time) {
		fi, err := os.Stat(path)
		if err != nil {
			return "", time.Time{}
		}
		return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano()), fi.ModTime()
	}
	sum := func() ([32]byte, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return [32]byte{}, false
		}
		return sha256.Sum256(b), true
	}
	last, _ := stat()
	lastSum := sha256.Sum256(loaded)
	do := func(why string) {
		if err := reload(); err != nil {
			log.Error("config refused; the old one stays in force", "why", why, "err", err)
			return
		}
		log.Info("config reloaded", "why", why)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last, _ = stat()
			if h, ok := sum(); ok {
				lastSum = h
			}
			do("SIGHUP")
		case <-tick:
			s, mod := stat()
			if s == "" {
				continue
			}
			if s == last && time.Since(mod) > 2*time.Second {
				continue
			}
			last = s
			if h, ok := sum(); ok && h != lastSum {
				lastSum = h
				do("file changed")
			}
		}
	}
}
