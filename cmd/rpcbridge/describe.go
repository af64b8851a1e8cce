package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rpcbridge/rpcbridge/gateway"
)

// cmdDescribe prints the methods and types of configured services, as the
// adapters know them (server reflection, descriptor sets, IDL files, Dubbo
// YAML), without starting the gateway's listeners.
func cmdDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("describe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for an instance to answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, raw, err := loadConfig(*path)
	if err != nil {
		return err
	}
	names := fs.Args()
	if len(names) == 0 {
		for _, s := range cfg.Services {
			names = append(names, s.Name)
		}
	}
	log := slog.New(slog.DiscardHandler)
	disc := newZKDiscovery(log)
	defer disc.Close()
	g, err := gateway.New(cfg, raw, gateway.Options{Discovery: disc, Logger: log, Source: *path})
	if err != nil {
		return err
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	failed := 0
	for _, name := range names {
		var sc any
		for {
			s, err := g.Describe(ctx, name)
			if err == nil {
				sc = s
				break
			}
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
				failed++
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		if sc == nil {
			continue
		}
		b, err := json.Marshal(sc)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		json.Indent(&out, b, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out.Bytes())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d services could not be described", failed, len(names))
	}
	return nil
}
