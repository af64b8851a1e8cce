package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"
)

// cmdOpenAPI prints the OpenAPI 3.1 document of a config, built from its
// services' schemas as the running gateway would (server reflection,
// descriptor sets, IDL files, Dubbo YAML), without starting listeners.
func cmdOpenAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "config file")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the services' schemas")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, raw, err := loadConfig(*path)
	if err != nil {
		return err
	}
	g, closeGateway, err := offlineGateway(cfg, raw, *path)
	if err != nil {
		return err
	}
	defer closeGateway()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	b, err := g.OpenAPI(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}
