// Package http is rpcbridge's adapter for plain HTTP/JSON backends: a call
// to method M becomes POST http://<instance><prefix>/M (https:// with
// Options.TLS) with the JSON body, forwarded headers, and path/query
// parameters as the query string. Backends are spoken to in HTTP/1.1.
package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// Options configure an HTTP backend service.
type Options struct {
	// PathPrefix is put before /<method> on the backend. Default "".
	PathPrefix string
	// MaxIdleConns is the idle keep-alive connections kept per instance.
	// Default 256.
	MaxIdleConns int
	// MaxReplyBytes caps a backend reply. Default 16 MiB.
	MaxReplyBytes int64
	// TLS, when set, is the client TLS configuration: instances are called
	// over https:// and their certificates checked with it (ServerName
	// defaults to the instance's host). Nil dials in clear.
	TLS *tls.Config
	// Proxy makes clients forward whole HTTP requests (generic.HTTPProxy)
	// rather than JSON calls.
	Proxy bool
}

// Protocol creates clients for one HTTP backend service.
type Protocol struct {
	o Options
}

// New returns the protocol for one service.
func New(o Options) (*Protocol, error) {
	o.PathPrefix = "/" + strings.Trim(o.PathPrefix, "/")
	if o.PathPrefix == "/" {
		o.PathPrefix = ""
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = 256
	}
	if o.MaxReplyBytes <= 0 {
		o.MaxReplyBytes = 16 << 20
	}
	return &Protocol{o: o}, nil
}

// Name implements generic.Protocol.
func (p *Protocol) Name() string { return "http" }

// Dial implements generic.Protocol. Connections are made on first use and
// kept alive for reuse.
func (p *Protocol) Dial(ctx context.Context, t generic.Target) (generic.Client, error) {
	if _, _, err := net.SplitHostPort(t.Address); err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "address: want host:port, got %q", t.Address)
	}
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        p.o.MaxIdleConns,
		MaxIdleConnsPerHost: p.o.MaxIdleConns,
		IdleConnTimeout:     90 * time.Second,
	}
	scheme := "http://"
	if p.o.TLS != nil {
		scheme = "https://"
		cfg := backendtls.ForAddress(p.o.TLS, t.Address)
		tr.TLSClientConfig = cfg
		// The connection and its handshake within the dial timeout, with
		// TLS failures told apart from an unreachable backend. Without
		// ForceAttemptHTTP2 the transport stays on HTTP/1.1, as in clear.
		tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return backendtls.Dial(ctx, d, network, addr, cfg)
		}
	}
	c := &client{p: p, base: scheme + t.Address + p.o.PathPrefix + "/", hc: &http.Client{Transport: tr}, tr: tr}
	if p.o.Proxy {
		u, err := url.Parse(scheme + t.Address)
		if err != nil {
			return nil, generic.Errorf(generic.CodeInvalidArgument, "address: %v", err)
		}
		c.rp = c.newReverseProxy(u)
	}
	return c, nil
}

type client struct {
	p    *Protocol
	base string
	hc   *http.Client
	tr   *http.Transport
	rp   *httputil.ReverseProxy // proxy mode
}

func (c *client) Invoke(ctx context.Context, call *generic.Call) (*generic.Result, error) {
	u := c.base + url.PathEscape(call.Method)
	if len(call.Params) > 0 {
		q := url.Values{}
		for _, p := range call.Params {
			q.Add(p.Name, p.Value)
		}
		u += "?" + q.Encode()
	}
	body := call.Body
	if len(body) == 0 {
		body = []byte("{}")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "method %q makes no valid URL", call.Method)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range call.Meta {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "backend did not answer in time", Err: err}
		case errors.Is(err, context.Canceled):
			return nil, &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: err}
		}
		if reason, ok := backendtls.Reason(err); ok && c.p.o.TLS != nil {
			return nil, &generic.Error{Code: generic.CodeBackendError, Message: backendtls.Message(reason), Err: err}
		}
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "backend is unreachable", Err: err}
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, c.p.o.MaxReplyBytes+1))
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeBackendError, Message: "reading the backend's reply failed", Err: err}
	}
	if int64(len(reply)) > c.p.o.MaxReplyBytes {
		return nil, generic.Errorf(generic.CodeBackendError, "backend reply is larger than %d bytes", c.p.o.MaxReplyBytes)
	}
	if resp.StatusCode >= 300 {
		e := &generic.Error{Code: codeOf(resp.StatusCode), Message: fmt.Sprintf("backend answered %d", resp.StatusCode), BackendCode: resp.StatusCode}
		if json.Valid(reply) && len(bytes.TrimSpace(reply)) > 0 {
			e.Details = []json.RawMessage{reply}
		}
		return nil, e
	}
	if len(bytes.TrimSpace(reply)) == 0 {
		reply = []byte("{}")
	} else if !json.Valid(reply) {
		return nil, generic.Errorf(generic.CodeBackendError, "backend reply is not JSON (Content-Type %q)", resp.Header.Get("Content-Type"))
	}
	return &generic.Result{Body: reply}, nil
}

// codeOf maps a backend's HTTP status to an error code.
func codeOf(status int) generic.Code {
	switch status {
	case 400:
		return generic.CodeInvalidArgument
	case 401:
		return generic.CodeUnauthenticated
	case 403:
		return generic.CodePermissionDenied
	case 404:
		return generic.CodeNotFound
	case 409:
		return generic.CodeAlreadyExists
	case 429:
		return generic.CodeResourceExhausted
	case 501:
		return generic.CodeUnimplemented
	case 503:
		return generic.CodeUnavailable
	case 504:
		return generic.CodeDeadlineExceeded
	}
	return generic.CodeBackendError
}

func (c *client) Describe(ctx context.Context) (*generic.ServiceSchema, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "plain HTTP backends publish no schema")
}

func (c *client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}
