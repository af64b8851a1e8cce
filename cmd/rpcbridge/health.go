package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rpcbridge/rpcbridge/mapping"
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
	ca := fs.String("ca", "", "with server.admin_tls: the PEM file of the authority that signed the control plane's certificate (HTTPS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	scheme, client := "http://", http.DefaultClient
	if *ca != "" {
		pool, err := mapping.LoadCertPool(*ca)
		if err != nil {
			return fmt.Errorf("health: -ca: %w", err)
		}
		scheme = "https://"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		defer client.CloseIdleConnections()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+*admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
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
