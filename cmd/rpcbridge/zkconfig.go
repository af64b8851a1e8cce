package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/gateway"
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

// serveFromZooKeeper runs the gateway on the config stored for group and
// applies every new version pushed there; a version that does not validate
// or build is logged and the one in force stays.
func serveFromZooKeeper(ctx context.Context, log *slog.Logger, opts gateway.Options, servers []string, root, group string, override func(*mapping.Config), pprof bool) error {
	reg, err := zookeeper.New(zookeeper.Options{Servers: servers, Root: root, Logger: log})
	if err != nil {
		return err
	}
	defer reg.Close()
	opts.Source = "zookeeper:" + reg.ConfigPath(group)
	gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	sc, err := reg.GetConfig(gctx, group)
	cancel()
	if err != nil {
		return err
	}
	cfg, err := parseStored(sc)
	if err != nil {
		return fmt.Errorf("stored config %s: %w", sc.Version, err)
	}
	override(cfg)
	g, err := gateway.New(cfg, []byte(sc.YAML), opts)
	if err != nil {
		return err
	}
	defer g.Close()
	log.Info("config from zookeeper", "path", reg.ConfigPath(group), "version", sc.Version)
	apply := func(sc *zookeeper.StoredConfig) error {
		cfg, err := parseStored(sc)
		if err != nil {
			return err
		}
		override(cfg)
		return g.Reload(cfg, []byte(sc.YAML))
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go reg.WatchConfig(wctx, group, func(sc *zookeeper.StoredConfig) {
		if err := apply(sc); err != nil {
			log.Error("stored config refused; the old one stays in force", "version", sc.Version, "err", err)
			return
		}
		log.Info("config applied", "version", sc.Version)
	})
	reload := func() error {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		sc, err := reg.GetConfig(rctx, group)
		if err != nil {
			return err
		}
		return apply(sc)
	}
	return serve(ctx, g, g.Config(), log, gateway.AdminOptions{Reload: reload, Pprof: pprof})
}

func cmdConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "push" && args[0] != "get") {
		return fmt.Errorf("config: want push or get\n\n%s", usage)
	}
	fs := flag.NewFlagSet("config "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file to push")
	servers := fs.String("zk", "127.0.0.1:2181", "ZooKeeper servers, comma-separated host:port")
	root := fs.String("zk-root", "/rpcbridge", "ZooKeeper root")
	group := fs.String("group", "default", "config group")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	reg, err := zookeeper.New(zookeeper.Options{Servers: strings.Split(*servers, ","), Root: *root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer reg.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
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
	v, err := reg.PushConfig(ctx, *group, raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %s as version %s to %s\n", *path, v, reg.ConfigPath(*group))
	return nil
}
