package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/mapping"
)

// certCheckInterval is how often, at most, a TLS listener looks at its
// certificate files: a rotated certificate reaches new connections within
// this (plus the handshake that notices it).
const certCheckInterval = time.Second

// certSource serves a listener's TLS configuration and re-reads the
// certificate, key and client CA files when they change. Open connections
// keep the certificate they were made with; a file that does not load
// leaves the previous configuration in force (and is logged).
type certSource struct {
	c   mapping.ServerTLS
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamps  [3]fileStamp
	cfg     *tls.Config
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// newServerTLS builds the listener configuration of a tls: block; it fails
// when the files do not load now.
func newServerTLS(c *mapping.ServerTLS, log *slog.Logger) (*tls.Config, error) {
	s := &certSource{c: *c, log: log, now: time.Now}
	cfg, stamps, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cfg, s.stamps, s.checked = cfg, stamps, s.now()
	return &tls.Config{GetConfigForClient: s.config, NextProtos: []string{"h2", "http/1.1"}, MinVersion: cfg.MinVersion}, nil
}

func (s *certSource) config(*tls.ClientHelloInfo) (*tls.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.checked) >= certCheckInterval {
		s.checked = now
		if stamps := s.stampFiles(); stamps != s.stamps {
			cfg, stamps, err := s.load()
			if err != nil {
				s.log.Warn("TLS files changed but do not load; the previous certificate stays in force", "err", err)
				s.stamps = s.stampFiles() // warn once per change
			} else {
				s.cfg, s.stamps = cfg, stamps
				s.log.Info("TLS certificate reloaded", "cert", s.c.Cert)
			}
		}
	}
	return s.cfg, nil
}

func (s *certSource) stampFiles() [3]fileStamp {
	var out [3]fileStamp
	for i, p := range []string{s.c.Cert, s.c.Key, s.c.ClientCA} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			out[i] = fileStamp{fi.ModTime(), fi.Size()}
		}
	}
	return out
}

func (s *certSource) load() (*tls.Config, [3]fileStamp, error) {
	stamps := s.stampFiles()
	pair, err := tls.LoadX509KeyPair(s.c.Cert, s.c.Key)
	if err != nil {
		return nil, stamps, fmt.Errorf("cert and key: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
	if s.c.MinVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	switch s.c.ClientAuth {
	case "request":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if s.c.ClientCA != "" {
		pool, err := mapping.LoadCertPool(s.c.ClientCA)
		if err != nil {
			return nil, stamps, fmt.Errorf("client_ca: %w", err)
		}
		cfg.ClientCAs = pool
	}
	return cfg, stamps, nil
}

// clientSubject is the subject of the request's verified client
// certificate ("" without one).
func clientSubject(r *http.Request) string {
	c, _ := r.Context().Value(connKey{}).(*conn)
	if c == nil || c.tls == nil {
		return ""
	}
	cs := c.tls.ConnectionState()
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return subjectOf(cs.VerifiedChains[0][0])
}

func subjectOf(c *x509.Certificate) string { return c.Subject.String() }

// CheckEdge loads what the edge keys name (TLS certificates and keys, the
// client CA, JWT keys and key sets) the way Serve and New would, so that
// `rpcbridge validate` reports a file that does not load.
func CheckEdge(cfg *mapping.Config) []string {
	var out []string
	discard := slog.New(slog.DiscardHandler)
	for _, t := range []struct {
		key string
		t   *mapping.ServerTLS
	}{{"server.tls", cfg.Server.TLS}, {"server.admin_tls", cfg.Server.AdminTLS}} {
		if t.t != nil {
			if _, err := newServerTLS(t.t, discard); err != nil {
				out = append(out, fmt.Sprintf("%s: %v", t.key, err))
			}
		}
	}
	if a := cfg.Server.Auth; a != nil && a.JWT != nil {
		if _, err := newJWTScheme(a.JWT); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}
