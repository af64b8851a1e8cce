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
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// cmdDescribe prints the methods and types of configured services, as the
// adapters know them (server reflection, descriptor sets, IDL files, Dubbo
// YAML), without starting the gateway's listeners. Instead of a config it
// takes a backend URL and the services to describe there (see urlConfig):
//
//	rpcbridge describe grpc://127.0.0.1:50051 demo.v1.PeopleService
//	rpcbridge describe 'dubbo://127.0.0.1:20880?types=long' org.example.UserService/getUser
func cmdDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("describe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for an instance to answer")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var cfg *mapping.Config
	var raw []byte
	if len(names) > 0 && isBackendURL(names[0]) {
		if flagSet(fs, "c") {
			return errors.New("describe: give a backend URL or -c, not both")
		}
		cfg, raw, err = describeURL(names[0], names[1:], *timeout)
		names = nil
	} else {
		cfg, raw, err = loadConfig(*path)
	}
	if err != nil {
		return err
	}
	if len(names) == 0 {
		for _, s := range cfg.Services {
			names = append(names, s.Name)
		}
	}
	g, closeGateway, err := offlineGateway(cfg, raw, *path)
	if err != nil {
		return err
	}
	defer closeGateway()
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

// describeURL is the config of the services at a backend URL, each named
// SERVICE (the gRPC service, Dubbo interface, Thrift service or Tars
// interface) or, for a Dubbo method's types=, SERVICE/METHOD. An HTTP URL
// needs none.
func describeURL(rawURL string, services []string, timeout time.Duration) (*mapping.Config, []byte, error) {
	var targets []callTarget
	for _, s := range services {
		service, method, _ := strings.Cut(s, "/")
		targets = append(targets, callTarget{service: service, method: method})
	}
	if len(targets) == 0 {
		if !strings.HasPrefix(rawURL, "http://") {
			return nil, nil, fmt.Errorf("describe %s: name the SERVICE to describe", rawURL)
		}
		targets = []callTarget{{}}
	}
	return urlConfig(rawURL, targets, timeout)
}

// offlineGateway builds a gateway on cfg without listeners, for commands
// that ask its services for their schemas (describe, openapi); close
// closes it and then its discovery.
func offlineGateway(cfg *mapping.Config, raw []byte, source string) (g *gateway.Gateway, close func(), err error) {
	log := slog.New(slog.DiscardHandler)
	disc := newZKDiscovery(log)
	g, err = gateway.New(cfg, raw, gateway.Options{Discovery: disc, Logger: log, Source: source})
	if err != nil {
		disc.Close()
		return nil, nil, err
	}
	return g, func() { g.Close(); disc.Close() }, nil
}
