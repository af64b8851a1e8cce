package grpc

import (
	"context"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// CheckHealth implements generic.HealthChecker with the gRPC health
// protocol for the configured service. A server without the health
// service (UNIMPLEMENTED) that answers at all counts as healthy.
func (c *client) CheckHealth(ctx context.Context) error {
	resp, err := healthpb.NewHealthClient(c.cc).Check(ctx, &healthpb.HealthCheckRequest{Service: c.p.opts.Service})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil
		}
		msg := "health check failed"
		if reason, ok := backendtls.TextReason(status.Convert(err).Message()); ok && c.p.opts.TLS != nil {
			msg += ": " + backendtls.Message(reason)
		}
		return &generic.Error{Code: generic.CodeUnavailable, Message: msg, Err: err}
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return generic.Errorf(generic.CodeUnavailable, "health: %s", resp.GetStatus())
	}
	return nil
}

var _ generic.HealthChecker = (*client)(nil)
