package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// parseStored decodes and validates a config taken from ZooKeeper. Its
// relative paths resolve against the replica's working directory.
func parseStored(sc *zookeeper.StoredConfig) (*mapping.Config, error) {
	cfg, err := mapping.Decode([]byte(sc.YAML), plugins())
	if err != nil {
		return nil, err
	}
	cfg.ResolvePaths(".")
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// zkAuthFlags are the flags that make a command authenticate to
// ZooKeeper and, for the commands that write, the ACL of the nodes they
// create. They mirror registries[].zookeeper.auth and acl.
type zkAuthFlags struct {
	user, passwordEnv string
	acl               []string // -zk-acl values, each a comma-separated list
}

// addZKAuthFlags defines -zk-user and -zk-password-env on fs, and -zk-acl
// (repeatable) when withACL.
func addZKAuthFlags(fs *flag.FlagSet, withACL bool) *zkAuthFlags {
	f := &zkAuthFlags{}
	fs.StringVar(&f.user, "zk-user", "", "ZooKeeper digest user to authenticate as (with -zk-password-env)")
	fs.StringVar(&f.passwordEnv, "zk-password-env", "", "environment variable holding -zk-user's password")
	if withACL {
		fs.Func("zk-acl", "ACL of the nodes this command creates: comma-separated entries `digest:USER:PERMS[:PASSWORD_ENV]` or world:PERMS, PERMS all or read,write,create,delete,admin (PASSWORD_ENV, the variable holding USER's password, is needed unless USER is -zk-user); repeatable; default the open ACL world:anyone:all", func(v string) error {
			f.acl = append(f.acl, v)
			return nil
		})
	}
	return f
}

// security reads the passwords the flags name and returns the registry's
// Auth and ACL.
func (f *zkAuthFlags) security() (*zookeeper.Auth, []zookeeper.ACL, error) {
	var auth *zookeeper.Auth
	switch {
	case f.user == "" && f.passwordEnv != "":
		return nil, nil, errors.New("-zk-password-env: want -zk-user too")
	case f.user != "" && f.passwordEnv == "":
		return nil, nil, errors.New("-zk-user: want -zk-password-env too, naming the environment variable that holds the password")
	case f.user != "":
		pw := os.Getenv(f.passwordEnv)
		if pw == "" {
			return nil, nil, fmt.Errorf("-zk-password-env: environment variable %s is empty", f.passwordEnv)
		}
		auth = &zookeeper.Auth{User: f.user, Password: pw}
	}
	var acl []zookeeper.ACL
	for _, v := range f.acl {
		entries, err := parseACLFlag(v)
		if err != nil {
			return nil, nil, fmt.Errorf("-zk-acl %q: %w", v, err)
		}
		acl = append(acl, entries...)
	}
	return auth, acl, nil
}

// parseACLFlag reads one -zk-acl value: entries digest:USER:PERMS,
// digest:USER:PERMS:PASSWORD_ENV and world:PERMS joined by commas. PERMS
// may itself be a comma list (read,create): a piece that does not start
// with "digest:" or "world:" continues the entry before it. Passwords are
// read from the environment here.
func parseACLFlag(v string) ([]zookeeper.ACL, error) {
	var raw []string
	for piece := range strings.SplitSeq(v, ",") {
		piece = strings.TrimSpace(piece)
		if strings.HasPrefix(piece, "digest:") || strings.HasPrefix(piece, "world:") || len(raw) == 0 {
			raw = append(raw, piece)
		} else {
			raw[len(raw)-1] += "," + piece
		}
	}
	var out []zookeeper.ACL
	for _, e := range raw {
		f := strings.Split(e, ":")
		switch {
		case f[0] == "world" && len(f) == 2:
			out = append(out, zookeeper.ACL{Scheme: "world", Perms: f[1]})
		case f[0] == "digest" && (len(f) == 3 || len(f) == 4):
			a := zookeeper.ACL{Scheme: "digest", User: f[1], Perms: f[2]}
			if len(f) == 4 {
				if a.Password = os.Getenv(f[3]); a.Password == "" {
					return nil, fmt.Errorf("%s: environment variable %s is empty", e, f[3])
				}
			}
			out = append(out, a)
		default:
			return nil, fmt.Errorf("entry %q: want digest:USER:PERMS[:PASSWORD_ENV] or world:PERMS", e)
		}
		if _, err := zookeeper.ParsePerms(out[len(out)-1].Perms); err != nil {
			return nil, fmt.Errorf("entry %q: perms: %w", e, err)
		}
	}
	return out, nil
}

// serveFromZooKeeper runs the gateway on the config stored for group and
// applies every new version pushed there; a version that does not validate
// or build is logged and the one in force stays. zf authenticates the
// session that reads the config. Spans go where the first config's
// telemetry block and traceFile (-trace-file) say, until the process ends.
func serveFromZooKeeper(ctx context.Context, log *slog.Logger, opts gateway.Options, servers []string, root, group, node string, zf *zkAuthFlags, override func(*mapping.Config), pprof bool, traceFile string) error {
	auth, _, err := zf.security()
	if err != nil {
		return err
	}
	reg, err := zookeeper.New(zookeeper.Options{Servers: servers, Root: root, Auth: auth, Logger: log})
	if err != nil {
		return err
	}
	defer reg.Close()
	sel := &configSelector{group: group, node: node, reg: reg}
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	sc, err := reg.GetConfig(gctx, group)
	if err == nil {
		sel.groupCfg = sc
		if st, serr := reg.GetConfig(gctx, zookeeper.StagedGroup(group, node)); serr == nil {
			sel.staged = st
		}
	}
	cancel()
	if err != nil {
		return fmt.Errorf("-config-zk %s: %w", strings.Join(servers, ","), err)
	}
	sc, why := sel.want()
	cfg, err := parseStored(sc)
	if err != nil {
		return fmt.Errorf("stored config %s: %w", sc.Version, err)
	}
	override(cfg)
	opts.Source = why
	// Built once from the first config: telemetry changes need a restart.
	tp, closeTracer, err := newTracer(cfg.Telemetry, traceFile, opts.Metrics, log)
	if err != nil {
		return err
	}
	defer closeTracer()
	opts.TracerProvider = tp
	g, err := gateway.New(cfg, []byte(sc.YAML), opts)
	if err != nil {
		return err
	}
	defer g.Close()
	log.Info("config from zookeeper", "source", why)
	apply := func(sc *zookeeper.StoredConfig, why string) error {
		cfg, err := parseStored(sc)
		if err != nil {
			return err
		}
		override(cfg)
		if err := g.Reload(cfg, []byte(sc.YAML)); err != nil {
			return err
		}
		g.SetSource(why)
		return nil
	}
	// The group's config and the one staged for this node, both watched;
	// each change applies the one that wins.
	sel.inForce = sc.Version
	sel.apply = func(sc *zookeeper.StoredConfig, why string) {
		if err := apply(sc, why); err != nil {
			log.Error("stored config refused; the old one stays in force", "version", sc.Version, "err", err)
			return
		}
		log.Info("config applied", "source", why)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	var watches sync.WaitGroup
	defer func() {
		stopWatch()
		watches.Wait()
	}()
	watches.Add(2)
	go func() { defer watches.Done(); reg.WatchConfig(wctx, group, sel.groupChanged) }()
	go func() { defer watches.Done(); reg.WatchStaged(wctx, group, node, sel.stagedChanged) }()
	reload := func() error {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		sc, err := reg.GetConfig(rctx, group)
		if err != nil {
			return err
		}
		st, serr := reg.GetConfig(rctx, zookeeper.StagedGroup(group, node))
		if serr != nil {
			st = nil
		}
		sc, why := sel.reset(sc, st)
		return apply(sc, why)
	}
	return serve(ctx, g, g.Config(), log, gateway.AdminOptions{Reload: reload, Pprof: pprof})
}

// configSelector picks, for one gateway node, between its group's config
// and a version staged for the node: the staged one while there is one.
type configSelector struct {
	group, node string
	reg         *zookeeper.Registry
	apply       func(sc *zookeeper.StoredConfig, why string)

	mu       sync.Mutex
	groupCfg *zookeeper.StoredConfig
	staged   *zookeeper.StoredConfig // nil or an empty YAML: follow the group
	inForce  string
}

func (s *configSelector) groupChanged(sc *zookeeper.StoredConfig)  { s.set(&s.groupCfg, sc) }
func (s *configSelector) stagedChanged(sc *zookeeper.StoredConfig) { s.set(&s.staged, sc) }

func (s *configSelector) set(slot **zookeeper.StoredConfig, sc *zookeeper.StoredConfig) {
	s.mu.Lock()
	*slot = sc
	want, why := s.wantLocked()
	if want == nil || want.Version == s.inForce {
		s.mu.Unlock()
		return
	}
	s.inForce = want.Version
	s.mu.Unlock()
	s.apply(want, why)
}

// reset takes both configs as read now (the control plane's reload).
func (s *configSelector) reset(groupCfg, staged *zookeeper.StoredConfig) (*zookeeper.StoredConfig, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groupCfg, s.staged = groupCfg, staged
	want, why := s.wantLocked()
	s.inForce = want.Version
	return want, why
}

// want is the config the node runs, and why (for /admin/config).
func (s *configSelector) want() (*zookeeper.StoredConfig, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wantLocked()
}

func (s *configSelector) wantLocked() (*zookeeper.StoredConfig, string) {
	if s.staged != nil && s.staged.YAML != "" {
		return s.staged, fmt.Sprintf("zookeeper:%s version %s, staged for node %s", s.reg.ConfigPath(zookeeper.StagedGroup(s.group, s.node)), s.staged.Version, s.node)
	}
	if s.groupCfg == nil {
		return nil, ""
	}
	return s.groupCfg, fmt.Sprintf("zookeeper:%s version %s, the group's (node %s)", s.reg.ConfigPath(s.group), s.groupCfg.Version, s.node)
}

func cmdConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	writes := map[string]bool{"push": true, "promote": true, "rollback": true}
	if len(args) == 0 || !writes[args[0]] && args[0] != "get" && args[0] != "history" {
		return fmt.Errorf("config: want push, get, promote, history or rollback\n\n%s", usage)
	}
	fs := flag.NewFlagSet("config "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file to push")
	servers := fs.String("zk", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	root := fs.String("zk-root", "/rpcbridge", "ZooKeeper root")
	group := fs.String("group", "default", "config group")
	nodes := fs.String("nodes", "", "push: stage the config for these gateway nodes only (comma-separated serve -node names)")
	to := fs.String("to", "", "rollback: the version to go back to (default the one before the version in force)")
	zf := addZKAuthFlags(fs, writes[args[0]])
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	auth, acl, err := zf.security()
	if err != nil {
		return err
	}
	if writes[args[0]] && len(acl) == 0 {
		fmt.Fprintln(stderr, "rpcbridge: no -zk-acl: the nodes this command creates get ZooKeeper's open ACL (world:anyone, all permissions)")
	}
	reg, err := zookeeper.New(zookeeper.Options{Servers: strings.Split(*servers, ","), Root: *root, Auth: auth, ACL: acl, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer reg.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	switch args[0] {
	case "promote":
		v, err := reg.PromoteConfig(ctx, *group)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "promoted version %s to every node of %s\n", v, *group)
		return nil
	case "rollback":
		v, err := reg.RollbackConfig(ctx, *group, *to)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled %s back to version %s on every node\n", *group, v)
		return nil
	case "history":
		hist, err := reg.ConfigHistory(ctx, *group)
		if err != nil {
			return err
		}
		for _, h := range hist {
			line := fmt.Sprintf("%s  %-12s  %s", h.PushedAt, h.Version, h.Action)
			if len(h.Nodes) > 0 {
				line += " " + strings.Join(h.Nodes, ",")
			}
			fmt.Fprintln(stdout, line)
		}
		return nil
	}
	if args[0] == "get" {
		sc, err := reg.GetConfig(ctx, *group)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# version %s pushed %s to %s\n%s", sc.Version, sc.PushedAt, reg.ConfigPath(*group), sc.YAML)
		return nil
	}
	raw, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	// The same checks `validate` makes, before anything is stored.
	if _, err := parseStored(&zookeeper.StoredConfig{YAML: string(raw)}); err != nil {
		return fmt.Errorf("%s: not pushed: %w", *path, err)
	}
	var v string
	if *nodes != "" {
		v, err = reg.StageConfig(ctx, *group, strings.Split(*nodes, ","), raw)
	} else {
		v, err = reg.PushConfig(ctx, *group, raw)
	}
	if generic.CodeOf(err) == generic.CodePermissionDenied {
		hint := "authenticate as a principal that ACL lets write, with -zk-user and -zk-password-env"
		if auth != nil {
			hint = "check -zk-user and its password, and that ACL"
		}
		return fmt.Errorf("%s: not pushed: %w (%s)", *path, err, hint)
	}
	if err != nil {
		return err
	}
	if *nodes != "" {
		fmt.Fprintf(stdout, "staged %s as version %s for nodes %s of %s\n", *path, v, *nodes, *group)
		return nil
	}
	fmt.Fprintf(stdout, "pushed %s as version %s to %s\n", *path, v, reg.ConfigPath(*group))
	return nil
}

// hostname is the default node name of serve -node.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	return h
}
