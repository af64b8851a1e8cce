package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// cmdHealth asks a running gateway's control plane whether it is ready
// (GET /readyz): exit 0 when it is, 1 otherwise. Container health checks
// use it, since a minimal image has no curl.
func cmdHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "127.0.0.1:9901", "the control plane's address")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	live := fs.Bool("live", false, "ask /healthz (the process answers) instead of /readyz (it takes traffic)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return errors.New("health: " + resp.Status + " " + string(body))
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return nil
}
