package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/registry"
)

// cmdCall calls one backend method from the shell, without a gateway:
//
//	rpcbridge call URL SERVICE/METHOD [-d JSON|@file|@-] [-H name:value]...
//	rpcbridge call -c gateway.yaml NAME/METHOD [...]
//
// A URL becomes a config of one service (urlConfig) that the protocol
// plug-ins decode and build like any other; -c takes a service from a
// config, with its discovery. The reply goes to stdout (indented on a
// terminal, compact otherwise; one line per message of a server stream),
// a failure to stderr as the gateway's JSON error body. It returns the
// exit code: 0, 1 when the call failed, 2 for a usage error.
func cmdCall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file: call a service it defines (NAME/METHOD), through its discovery")
	data := fs.String("d", "", "request body: JSON, @FILE, or @- for standard input")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of the whole call, waiting for discovered instances included")
	meta := headerFlag{}
	fs.Var(meta, "H", "`name:value` sent as metadata (gRPC metadata, Dubbo attachment, Tars context, HTTP header); repeatable")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: rpcbridge call URL SERVICE/METHOD [flags]\n       rpcbridge call -c gateway.yaml NAME/METHOD [flags]\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rpcbridge call: "+format+"\n", a...)
		return 2
	}
	if *timeout <= 0 {
		return usageErr("-timeout must be positive, got %s", *timeout)
	}
	var cfg *mapping.Config
	var svc *mapping.Service
	var method string
	switch {
	case len(pos) == 2 && isBackendURL(pos[0]):
		if flagSet(fs, "c") {
			return usageErr("give a backend URL or -c, not both")
		}
		t, err := splitCallTarget(pos[0], pos[1])
		if err != nil {
			return usageErr("%v", err)
		}
		cfg, _, err = urlConfig(pos[0], []callTarget{t}, *timeout)
		if err != nil {
			return usageErr("%v", err)
		}
		svc, method = &cfg.Services[0], t.method
	case len(pos) == 1 && !isBackendURL(pos[0]):
		name, m, ok := strings.Cut(pos[0], "/")
		if !ok || name == "" || m == "" {
			return usageErr("want NAME/METHOD of a service in %s, got %q", *path, pos[0])
		}
		cfg, _, err = loadConfig(*path)
		if err != nil {
			fmt.Fprintln(stderr, "rpcbridge:", err)
			return 1
		}
		if svc = configService(cfg, name); svc == nil {
			return usageErr("%s defines no service %q (services: %s)", *path, name, strings.Join(serviceNames(cfg), ", "))
		}
		method = m
	default:
		fs.Usage()
		return 2
	}
	body, err := requestBody(*data, stdin)
	if err != nil {
		return usageErr("-d: %v", err)
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	out := &replyWriter{w: stdout, pretty: isTerminal(stdout)}
	call := &generic.Call{Method: method, Body: body, Meta: meta, OnMessage: out.message}
	res, err := callService(ctx, cfg, svc, call)
	if err != nil {
		e := *generic.AsError(err)
		if e.Protocol == "" {
			e.Protocol = svc.Protocol
		}
		if e.Service == "" {
			e.Service = svc.Name
		}
		if e.Method == "" {
			e.Method = method
		}
		fmt.Fprintf(stderr, "%s\n", e.MarshalBody())
		return 1
	}
	if !res.Streamed && !res.NoReply {
		if err := out.reply(res.Body); err != nil {
			fmt.Fprintln(stderr, "rpcbridge:", err)
			return 1
		}
	}
	return 0
}

// callService calls one instance of svc: its first static instance, else
// the first online instance its discovery finds (waiting for one until
// ctx ends). The adapter is built with what the discovery reports (the
// instances' APIs and published definitions, from which Dubbo takes
// parameter types).
func callService(ctx context.Context, cfg *mapping.Config, svc *mapping.Service, call *generic.Call) (*generic.Result, error) {
	if err := generic.CheckJSON(call.Body, cfg.Server.MaxJSONDepth); err != nil {
		return nil, err
	}
	var found atomic.Pointer[[]*registry.Instance]
	var defs atomic.Pointer[[][]byte]
	env := mapping.ProtocolEnv{
		ReportedAPIs: func(method string) []registry.API {
			var out []registry.API
			if list := found.Load(); list != nil {
				for _, in := range *list {
					for _, a := range in.APIs {
						if a.Name == method {
							out = append(out, a)
						}
					}
				}
			}
			return out
		},
		Definitions: func() [][]byte {
			if d := defs.Load(); d != nil {
				return *d
			}
			return nil
		},
	}
	proto, err := svc.Build(env)
	if err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "%v", err)
	}
	target := generic.Target{}
	if len(svc.Instances) > 0 {
		target = generic.Target{Address: svc.Instances[0].Address, Metadata: svc.Instances[0].Metadata}
	} else if svc.Discovery != nil {
		in, stop, err := discoverInstance(ctx, cfg, svc, &found, &defs)
		if err != nil {
			return nil, err
		}
		defer stop()
		target = generic.Target{Address: in.Address, Metadata: in.Metadata}
	} else {
		return nil, generic.Errorf(generic.CodeUnavailable, "service %q has no instances and no discovery", svc.Name)
	}
	client, err := proto.Dial(ctx, target)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	return client.Invoke(ctx, call)
}

// discoverInstance watches svc in the registry its discovery names until
// an online instance shows up, recording each instance set in found and
// the service's published definitions in defs. stop ends the watches.
func discoverInstance(ctx context.Context, cfg *mapping.Config, svc *mapping.Service, found *atomic.Pointer[[]*registry.Instance], defs *atomic.Pointer[[][]byte]) (in *registry.Instance, stop func(), err error) {
	i := slices.IndexFunc(cfg.Registries, func(r mapping.Registry) bool { return r.Name == svc.Discovery.Registry })
	if i < 0 {
		return nil, nil, generic.Errorf(generic.CodeInvalidArgument, "discovery.registry %q is not defined", svc.Discovery.Registry)
	}
	reg := &cfg.Registries[i]
	disc := newZKDiscovery(slog.New(slog.DiscardHandler))
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
		disc.Close()
	}
	w, err := disc.Watch(wctx, svc, reg)
	if err != nil {
		stop()
		return nil, nil, generic.Errorf(generic.CodeUnavailable, "discovery: %v", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		disc.WatchDefinitions(wctx, svc, reg, func(d [][]byte) { defs.Store(&d) })
	}()
	defer w.Stop()
	for {
		list, err := w.Next(wctx)
		if err != nil {
			stop()
			if ctx.Err() != nil {
				return nil, nil, generic.Errorf(generic.CodeUnavailable, "no online instance of service %q registered in %q before the call's deadline (-timeout)", svc.Name, reg.Name)
			}
			return nil, nil, generic.Errorf(generic.CodeUnavailable, "discovery: %v", err)
		}
		found.Store(&list)
		for _, in := range list {
			if in.Online {
				return in, stop, nil
			}
		}
	}
}

// configService is the service of cfg named name, or whose fully-qualified
// wire name is name; nil when none.
func configService(cfg *mapping.Config, name string) *mapping.Service {
	if s := cfg.Service(name); s != nil {
		return s
	}
	for i := range cfg.Services {
		if q := cfg.Services[i].QualifiedName(); q != "" && q == name {
			return &cfg.Services[i]
		}
	}
	return nil
}

func serviceNames(cfg *mapping.Config) []string {
	out := make([]string, len(cfg.Services))
	for i := range cfg.Services {
		out[i] = cfg.Services[i].Name
	}
	return out
}

// requestBody is the -d value: the JSON itself, @FILE's content, or
// standard input's for @-; nil (the adapter's {}) when that is blank.
func requestBody(d string, stdin io.Reader) ([]byte, error) {
	b, err := []byte(d), error(nil)
	switch {
	case d == "@-":
		b, err = io.ReadAll(stdin)
	case strings.HasPrefix(d, "@"):
		b, err = os.ReadFile(d[1:])
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, err
	}
	return b, err
}

// replyWriter prints replies: a unary reply indented when pretty (and
// compact otherwise), each message of a stream compact on a line of its
// own, as it arrives. JSON is re-indented as text, so 64-bit integers stay
// exact; a reply that is not JSON (an HTTP backend's text) is printed as
// it came.
type replyWriter struct {
	w      io.Writer
	pretty bool
	buf    bytes.Buffer
}

func (r *replyWriter) reply(body []byte) error {
	return r.write(body, r.pretty)
}

func (r *replyWriter) message(msg []byte) error {
	return r.write(msg, false)
}

func (r *replyWriter) write(b []byte, pretty bool) error {
	r.buf.Reset()
	var err error
	b = bytes.TrimSpace(b) // json.Indent keeps trailing space
	if pretty {
		err = json.Indent(&r.buf, b, "", "  ")
	} else {
		err = json.Compact(&r.buf, b)
	}
	if err != nil {
		r.buf.Reset()
		r.buf.Write(b)
	}
	r.buf.WriteByte('\n')
	_, err = r.w.Write(r.buf.Bytes())
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// headerFlag collects -H name:value as call metadata (lower-case names).
type headerFlag map[string]string

func (h headerFlag) String() string { return "" }

func (h headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want name:value, got %q", v)
	}
	h[strings.ToLower(name)] = strings.TrimSpace(value)
	return nil
}

// parseInterspersed parses flags that come before, between or after the
// positional arguments, and returns those arguments. Everything after
// "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// isBackendURL reports whether s names a backend by URL (scheme://...).
func isBackendURL(s string) bool { return strings.Contains(s, "://") }

// callTarget is a service (and, for call, a method) named beside a URL.
type callTarget struct {
	service, method string
}

// splitCallTarget splits the SERVICE/METHOD argument of a call to the
// backend at rawURL: a gRPC method may also be written
// package.Service.Method; an HTTP one is [PATH/]METHOD, PATH going after
// the URL's prefix.
func splitCallTarget(rawURL, arg string) (callTarget, error) {
	scheme, _, _ := strings.Cut(rawURL, "://")
	if scheme == "http" {
		if arg = strings.Trim(arg, "/"); arg == "" {
			return callTarget{}, errors.New("want [PATH/]METHOD, got nothing")
		}
		i := strings.LastIndex(arg, "/")
		return callTarget{service: arg[:max(i, 0)], method: arg[i+1:]}, nil
	}
	i := strings.LastIndex(arg, "/")
	if i < 0 && scheme == "grpc" {
		i = strings.LastIndex(arg, ".")
	}
	if i <= 0 || i == len(arg)-1 {
		return callTarget{}, fmt.Errorf("want SERVICE/METHOD, got %q", arg)
	}
	return callTarget{service: arg[:i], method: arg[i+1:]}, nil
}

// urlParams are the query parameters a URL with scheme takes for its
// protocol section; ok is false for a scheme that names no protocol.
func urlParams(scheme string) (params []string, ok bool) {
	switch scheme {
	case "grpc":
		return []string{"proto", "import", "protoset"}, true
	case "dubbo", "triple":
		return []string{"types", "group", "version"}, true
	case "thrift":
		return []string{"idl", "include", "protocol", "transport", "multiplexed"}, true
	case "tars":
		return []string{"idl", "include", "servant", "version"}, true
	case "http":
		return []string{"prefix"}, true
	}
	return nil, false
}

// tlsParams are the query parameters of the tls: key, which every
// protocol takes.
func tlsParams() []string { return []string{"tls", "ca", "cert", "key", "server_name", "insecure"} }

// urlConfig turns a backend URL into a config holding one service per
// target at the URL's host:port, its protocol section made from the
// query parameters, and decodes it with the protocol plug-ins:
//
//	grpc://H:P                   reflection; proto=a.proto,b.proto&import=dir or protoset=x.pb
//	dubbo://H:P?types=T1,T2      the method's Java parameter types (arg0, arg1, ...;
//	                             name:T names one); group=, version=
//	triple://H:P                 as dubbo
//	thrift://H:P?idl=F           protocol=, transport=, multiplexed=, include=
//	tars://H:P?idl=F&servant=S   version=, include=
//	http://H:P                   prefix=
//
// and on any of them tls=true, ca=, cert=, key=, server_name=,
// insecure=true for TLS. Each target's service is the gRPC service, Dubbo
// interface, Thrift service or Tars interface. timeout is the services'
// timeout.
func urlConfig(rawURL string, targets []callTarget, timeout time.Duration) (*mapping.Config, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	own, ok := urlParams(u.Scheme)
	if !ok {
		return nil, nil, fmt.Errorf("%s: want a scheme of grpc, triple, dubbo, thrift, tars or http, got %q", rawURL, u.Scheme)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil || u.Port() == "" {
		return nil, nil, fmt.Errorf("%s: want %s://host:port, got host %q", rawURL, u.Scheme, u.Host)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, nil, fmt.Errorf("%s: the URL takes no path (got %q): name the method in the next argument", rawURL, u.Path)
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(own, k) && !slices.Contains(tlsParams(), k) {
			return nil, nil, fmt.Errorf("%s: unknown parameter %q: %s URLs take %s", rawURL, k, u.Scheme, strings.Join(append(own, tlsParams()...), ", "))
		}
	}
	tls, err := tlsSection(q)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	var services []map[string]any
	for _, t := range targets {
		s := map[string]any{
			"name":      serviceName(u.Scheme, t.service),
			"protocol":  u.Scheme,
			"instances": []map[string]string{{"address": u.Host}},
			"timeout":   timeout.String(),
		}
		key, section, err := protocolSection(u.Scheme, t, q)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", rawURL, err)
		}
		s[key] = section
		if tls != nil {
			s["tls"] = tls
		}
		services = append(services, s)
	}
	raw, err := yaml.Marshal(map[string]any{"services": services})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := mapping.Parse(raw, plugins())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	return cfg, raw, nil
}

// protocolSection is the service key and section the query parameters of
// a URL with scheme make for target t.
func protocolSection(scheme string, t callTarget, q url.Values) (string, map[string]any, error) {
	sec := map[string]any{}
	set := func(key, param string) {
		if v := q.Get(param); v != "" {
			sec[key] = v
		}
	}
	switch scheme {
	case "grpc":
		sec["service"] = t.service
		protos, protosets := listParam(q, "proto"), listParam(q, "protoset")
		switch {
		case len(protos) > 0 && len(protosets) > 0:
			return "", nil, errors.New("give proto= or protoset=, not both")
		case len(protos) > 0:
			p := map[string]any{"files": protos}
			if imp := listParam(q, "import"); len(imp) > 0 {
				p["import_paths"] = imp
			}
			sec["schema"] = map[string]any{"proto": p}
		case len(protosets) > 0:
			sec["schema"] = map[string]any{"protoset": protosets}
		case q.Has("import"):
			return "", nil, errors.New("import= goes with proto=")
		}
		return "grpc", sec, nil
	case "dubbo", "triple":
		sec["interface"] = t.service
		set("group", "group")
		set("version", "version")
		if q.Has("types") {
			if t.method == "" {
				return "", nil, errors.New("types= are the parameter types of the method called: name SERVICE/METHOD")
			}
			params, err := javaParams(q.Get("types"))
			if err != nil {
				return "", nil, err
			}
			sec["methods"] = map[string]any{t.method: map[string]any{"params": params}}
		}
		return "dubbo", sec, nil
	case "thrift":
		sec["service"] = t.service
		set("idl", "idl")
		set("protocol", "protocol")
		set("transport", "transport")
		set("multiplexed", "multiplexed")
		if inc := listParam(q, "include"); len(inc) > 0 {
			sec["include_dirs"] = inc
		}
		return "thrift", sec, nil
	case "tars":
		sec["interface"] = t.service
		set("idl", "idl")
		set("servant", "servant")
		if v := q.Get("version"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return "", nil, fmt.Errorf("version: want 1 (Tars) or 3 (TUP), got %q", v)
			}
			sec["version"] = n
		}
		if inc := listParam(q, "include"); len(inc) > 0 {
			sec["include_dirs"] = inc
		}
		return "tars", sec, nil
	default: // http
		prefix := strings.Trim(q.Get("prefix"), "/")
		if t.service != "" {
			prefix = strings.Trim(prefix+"/"+t.service, "/")
		}
		sec["path_prefix"] = "/" + prefix
		return "http", sec, nil
	}
}

// tlsSection is the tls: key the TLS query parameters make (tls=true
// alone: the system's CAs), nil when there are none.
func tlsSection(q url.Values) (map[string]any, error) {
	sec := map[string]any{}
	for _, key := range []string{"ca", "cert", "key", "server_name"} {
		if v := q.Get(key); v != "" {
			sec[key] = v
		}
	}
	on := map[string]bool{}
	for _, param := range []string{"tls", "insecure"} {
		if v := q.Get(param); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: want true or false, got %q", param, v)
			}
			on[param] = b
		}
	}
	if on["insecure"] {
		sec["insecure_skip_verify"] = true
	}
	if len(sec) == 0 && !on["tls"] {
		return nil, nil
	}
	return sec, nil
}

// javaParams reads types=: Java types separated by commas (those inside a
// generic's <...> excepted), each optionally preceded by "name:"; unnamed
// parameters are arg0, arg1, ... An empty list is a method without
// parameters.
func javaParams(s string) ([]map[string]string, error) {
	var parts []string
	if s != "" {
		parts = dubbo.SplitTypeList(s)
	}
	params := make([]map[string]string, 0, len(parts))
	for i, p := range parts {
		name, typ, named := strings.Cut(strings.TrimSpace(p), ":")
		if !named {
			name, typ = fmt.Sprintf("arg%d", i), name
		}
		name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
		if name == "" || typ == "" {
			return nil, fmt.Errorf("types: want TYPE or NAME:TYPE, comma-separated, got %q", p)
		}
		params = append(params, map[string]string{"name": name, "type": typ})
	}
	return params, nil
}

// listParam is a query parameter's values, each split at commas.
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// serviceName is the config name of a URL's service: its own name with
// the characters a service name may not hold replaced by '_', or the
// scheme when it has none.
func serviceName(scheme, service string) string {
	if service == "" {
		return scheme
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, service)
}
