package mapping

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ClientTLS is a service's tls: key: how the gateway dials its backends.
type ClientTLS struct {
	// CA is a PEM file of the certificate authorities the backend's
	// certificate must chain to; empty: the system's.
	CA string `yaml:"ca" json:"ca,omitempty"`
	// Cert and Key are the gateway's client certificate (mutual TLS),
	// PEM files; both or neither.
	Cert string `yaml:"cert" json:"cert,omitempty"`
	Key  string `yaml:"key" json:"key,omitempty"`
	// ServerName is the name the backend's certificate must carry;
	// empty: the instance's host.
	ServerName string `yaml:"server_name" json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any backend certificate (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify" json:"insecure_skip_verify,omitempty"`
}

// Config reads the files and builds the client TLS configuration
// (TLS 1.2 at least). The client certificate and key are re-read when the
// files change (looked at most once a second, at a handshake), so a
// rotated certificate reaches new connections without a restart; the CA
// file is read once.
func (c *ClientTLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CA != "" {
		pool, err := LoadCertPool(c.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.Cert != "" || c.Key != "" {
		kp := &keyPairFiles{cert: c.Cert, key: c.Key, now: time.Now}
		if err := kp.load(); err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.GetClientCertificate = kp.get
	}
	return cfg, nil
}

// keyPairFiles serves a certificate and key from files, re-read when
// their modification time or size changes; a pair that does not load
// leaves the previous one in use.
type keyPairFiles struct {
	cert, key string
	now       func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamp   [2]fileStamp
	pair    *tls.Certificate
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func (k *keyPairFiles) stamps() [2]fileStamp {
	var out [2]fileStamp
	for i, p := range []string{k.cert, k.key} {
		if fi, err := os.Stat(p); err == nil {
			out[i] = fileStamp{fi.ModTime(), fi.Size()}
		}
	}
	return out
}

func (k *keyPairFiles) load() error {
	stamp := k.stamps()
	pair, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		return err
	}
	k.pair, k.stamp, k.checked = &pair, stamp, k.now()
	return nil
}

func (k *keyPairFiles) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := k.now(); now.Sub(k.checked) >= time.Second {
		k.checked = now
		if k.stamps() != k.stamp {
			old := k.pair
			if k.load() != nil {
				k.pair, k.stamp = old, k.stamps() // keep the one that works; try again on the next change
			}
		}
	}
	return k.pair, nil
}

// LoadCertPool reads a PEM file of certificates into a pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New(path + ": no PEM certificate in it")
	}
	return pool, nil
}

func (c *ClientTLS) resolvePaths(dir string) {
	for _, p := range []*string{&c.CA, &c.Cert, &c.Key} {
		ResolvePath(dir, p)
	}
}

func (c *ClientTLS) validate(where string, add func(string, ...any)) {
	if (c.Cert == "") != (c.Key == "") {
		add("%s: tls: give both cert and key, or neither", where)
	}
	for _, f := range []struct{ key, path string }{{"ca", c.CA}, {"cert", c.Cert}, {"key", c.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			add("%s: tls.%s: %v", where, f.key, err)
		}
	}
}
