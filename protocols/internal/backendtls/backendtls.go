// Package backendtls is what the protocol adapters share to dial their
// backends over TLS (a service's tls: key) and to tell a TLS failure from
// a backend that is down: a certificate the gateway does not accept, a
// backend that refuses the gateway's (or its lack of one), or a backend
// that does not speak TLS is the configuration's or the backend's fault,
// reported as BACKEND_ERROR with the reason, where an unreachable backend
// is UNAVAILABLE.
//
// Reasons are safe to show to clients: they never carry addresses.
package backendtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// ForAddress returns the configuration to dial addr with: cfg itself when
// it names a server, else a copy naming addr's host (as tls.Dialer does).
// Nil stays nil.
func ForAddress(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil || cfg.ServerName != "" {
		return cfg
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c := cfg.Clone()
	c.ServerName = host
	return c
}

// HandshakeError is a TLS handshake that failed after the TCP connection
// was made.
type HandshakeError struct{ Err error }

func (e *HandshakeError) Error() string { return "tls handshake: " + e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// Dial connects to addr with d and, when cfg is not nil, completes a TLS
// client handshake with cfg, all within d.Timeout (when set) and ctx. A
// connect failure is returned as d returns it; a handshake failure is a
// *HandshakeError, unless it is ctx's end or the timeout (returned as is:
// the backend did not answer in time). cfg should come from ForAddress.
func Dial(ctx context.Context, d *net.Dialer, network, addr string, cfg *tls.Config) (net.Conn, error) {
	if cfg == nil {
		return d.DialContext(ctx, network, addr)
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg, asked := WatchCertificateRequest(cfg)
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, err
		}
		return nil, &HandshakeError{Err: err}
	}
	if asked.Load() {
		return Certless(tc), nil
	}
	return tc, nil
}

// WatchCertificateRequest returns the configuration for one handshake and
// a flag it sets when the backend asks for a client certificate that cfg
// does not have. In TLS 1.3 a backend refuses a client without one after
// the client's side of the handshake is done: its alert, or a broken
// connection when the gateway writes first, comes with the first read or
// write (see Certless).
func WatchCertificateRequest(cfg *tls.Config) (*tls.Config, *atomic.Bool) {
	asked := new(atomic.Bool)
	if len(cfg.Certificates) > 0 || cfg.GetClientCertificate != nil {
		return cfg, asked
	}
	cfg = cfg.Clone()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked.Store(true)
		return &tls.Certificate{}, nil
	}
	return cfg, asked
}

// Certless wraps a connection whose backend asked for a client certificate
// the gateway did not have: until the first read that returns data (the
// backend accepted the connection) an error that ends the connection is
// a *NoClientCertError.
func Certless(c net.Conn) net.Conn { return &certless{Conn: c} }

type certless struct {
	net.Conn
	accepted atomic.Bool
	failed   atomic.Pointer[NoClientCertError] // the first failure
}

func (c *certless) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.accepted.Store(true)
	}
	return n, c.wrap(err)
}

func (c *certless) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	return n, c.wrap(err)
}

// NetConn is the TLS connection under the wrapper.
func (c *certless) NetConn() net.Conn { return c.Conn }

func (c *certless) wrap(err error) error {
	if err == nil || c.accepted.Load() {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	if errors.Is(err, net.ErrClosed) {
		// Closed after a failure seen by a reader or writer that runs
		// beside this one: that failure is the reason.
		if f := c.failed.Load(); f != nil {
			return f
		}
		return err
	}
	e := &NoClientCertError{Err: err}
	c.failed.CompareAndSwap(nil, e)
	return e
}

// NoClientCertError is a connection that broke before the backend
// answered anything, after the backend asked for a client certificate the
// gateway does not have: most likely the backend refused the connection
// for it.
type NoClientCertError struct{ Err error }

// noClientCertText starts the error's text; TextReason finds it in texts
// that lost the error's type.
const noClientCertText = "tls: the backend asked for a client certificate and the gateway has none (tls.cert and tls.key)"

func (e *NoClientCertError) Error() string { return noClientCertText + ": " + e.Err.Error() }
func (e *NoClientCertError) Unwrap() error { return e.Err }

// Message is the client-facing message of a TLS failure with reason.
func Message(reason string) string {
	return "TLS handshake with the backend failed: " + reason
}

// Reason reports whether err is or wraps a TLS failure, and says what
// failed: a *HandshakeError, a backend certificate the gateway rejected,
// an alert from the backend (it refused the gateway's certificate, or its
// absence) or a backend that does not speak TLS.
func Reason(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return "tls: failed to verify certificate: " + x509Reason(cv.Err), true
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return notTLS, true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if oe, ok := e.(*net.OpError); ok && (oe.Op == "remote error" || oe.Op == "local error") && oe.Err != nil {
			return oe.Op + ": " + oe.Err.Error(), true
		}
	}
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return ae.Error(), true
	}
	var nc *NoClientCertError
	if errors.As(err, &nc) {
		return noClientCertText, true
	}
	var he *HandshakeError
	if !errors.As(err, &he) {
		return "", false
	}
	switch {
	case errors.Is(he.Err, io.EOF), errors.Is(he.Err, io.ErrUnexpectedEOF), errors.Is(he.Err, syscall.ECONNRESET), errors.Is(he.Err, syscall.EPIPE):
		return "the backend closed the connection during the handshake", true
	}
	if s := he.Err.Error(); strings.HasPrefix(s, "tls: ") && !strings.Contains(s, "\n") {
		return Sanitize(s), true
	}
	return "the handshake did not complete", true
}

func x509Reason(err error) string {
	var hn x509.HostnameError
	if errors.As(err, &hn) {
		return hostnameReason
	}
	if err == nil {
		return "unknown reason"
	}
	return err.Error()
}

const notTLS = "tls: the backend does not speak TLS (first record does not look like a TLS handshake)"

const hostnameReason = "x509: the certificate does not name the backend (see tls.server_name)"

// Sanitize drops the host names and addresses from a text that reports a
// certificate issued for other names than the one dialled.
func Sanitize(reason string) string {
	const prefix = "x509: certificate is valid for "
	if i := strings.Index(reason, prefix); i >= 0 {
		return reason[:i] + hostnameReason
	}
	if i := strings.Index(reason, "x509: certificate is not valid for any names"); i >= 0 {
		return reason[:i] + hostnameReason
	}
	return reason
}

// TextReason finds a TLS failure in an error text that lost its types,
// such as a gRPC status message from grpc-go's transport ("connection
// error: desc = \"transport: authentication handshake failed: ...\""),
// and returns its reason.
func TextReason(msg string) (string, bool) {
	// grpc-go quotes the transport's description; read it unquoted.
	if i := strings.Index(msg, `desc = "`); i >= 0 {
		if s, err := strconv.Unquote(msg[i+len("desc = "):]); err == nil {
			msg = s
		}
	}
	if strings.Contains(msg, noClientCertText) {
		return noClientCertText, true
	}
	if strings.Contains(msg, "first record does not look like a TLS handshake") {
		return notTLS, true
	}
	if i := strings.Index(msg, "authentication handshake failed: "); i >= 0 {
		return handshakeText(strings.TrimSpace(msg[i+len("authentication handshake failed: "):]))
	}
	for _, marker := range []string{"remote error: tls: ", "local error: tls: "} {
		if i := strings.Index(msg, marker); i >= 0 {
			return Sanitize(strings.TrimSpace(msg[i:])), true
		}
	}
	return "", false
}

// handshakeText is the reason of a handshake failure reported as text:
// TLS's own words, or what became of the connection (its I/O errors name
// addresses). A handshake that timed out is no TLS failure: the backend
// did not answer.
func handshakeText(rest string) (string, bool) {
	switch {
	case strings.HasPrefix(rest, "tls: "), strings.HasPrefix(rest, "x509: "),
		strings.HasPrefix(rest, "remote error: "), strings.HasPrefix(rest, "local error: "):
		return Sanitize(rest), true
	case strings.Contains(rest, "deadline exceeded"), strings.Contains(rest, "i/o timeout"), strings.Contains(rest, "context canceled"):
		return "", false
	case rest == "EOF", strings.Contains(rest, "unexpected EOF"), strings.Contains(rest, "connection reset"), strings.Contains(rest, "broken pipe"):
		return "the backend closed the connection during the handshake", true
	}
	return "the handshake did not complete", true
}
