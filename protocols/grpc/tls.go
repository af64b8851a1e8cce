package grpc

import (
	"context"
	"crypto/tls"
	"net"

	"google.golang.org/grpc/credentials"

	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// tlsCreds are grpc-go's TLS transport credentials that also tell, when
// the backend asked for a client certificate the gateway has none of, a
// connection it then refuses from one that broke (see
// backendtls.Certless): in TLS 1.3 that refusal comes after the client's
// handshake, as an alert or as a broken pipe.
type tlsCreds struct {
	credentials.TransportCredentials
	cfg *tls.Config
}

func newTLSCreds(cfg *tls.Config) credentials.TransportCredentials {
	return &tlsCreds{TransportCredentials: credentials.NewTLS(cfg), cfg: cfg}
}

func (c *tlsCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg, asked := backendtls.WatchCertificateRequest(c.cfg)
	if cfg == c.cfg {
		return c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	}
	conn, info, err := credentials.NewTLS(cfg).ClientHandshake(ctx, authority, raw)
	if err == nil && asked.Load() {
		conn = backendtls.Certless(conn)
	}
	return conn, info, err
}

func (c *tlsCreds) Clone() credentials.TransportCredentials { return newTLSCreds(c.cfg.Clone()) }
