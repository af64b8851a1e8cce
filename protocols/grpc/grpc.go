// Package grpc is rpcbridge's gRPC adapter: it calls any gRPC service
// generically, converting JSON requests to protobuf and replies back with
// protobuf's JSON mapping. Schemas come from the backend's server
// reflection (v1, falling back to v1alpha), from descriptor set files, or
// from .proto sources compiled at start.
package grpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Options configure one gRPC service.
type Options struct {
	// Service is the default fully-qualified service, for example
	// "demo.v1.PeopleService". Call.Service overrides it.
	Service string

	// Schema source: exactly one of Reflection, Protosets or ProtoFiles.
	// Reflection is the default when none is given.

	// Reflection fetches descriptors from the backend's server reflection.
	Reflection bool
	// Refresh is how long reflected descriptors are trusted before they
	// are fetched again in the background. Default 5m.
	Refresh time.Duration
	// FetchTimeout bounds one reflection fetch. Default 10s.
	FetchTimeout time.Duration
	// Protosets are descriptor set files (protoc -o x.protoset --include_imports).
	Protosets []string
	// ProtoFiles are .proto sources compiled at start, found under
	// ImportPaths (default "."); google/protobuf imports are built in.
	ProtoFiles  []string
	ImportPaths []string

	// ExposeHeaders are response header and trailer names (any case)
	// copied into Result.Meta.
	ExposeHeaders []string
	// EmitDefaults writes zero-valued fields in replies.
	EmitDefaults bool
	// Logger receives warnings (failed background refreshes); nil discards.
	Logger *slog.Logger
	// TLS, when set, is the client TLS configuration the connections to
	// the backend are made with (calls, reflection and health checks all
	// share the instance's one connection); its ServerName defaults to
	// the instance's host. Nil dials in clear (h2c).
	TLS *tls.Config
}

// Protocol is the gRPC adapter for one configured service. It implements
// generic.Protocol and may be used concurrently.
type Protocol struct {
	opts    Options
	static  *schema // protoset / proto files; nil with reflection
	expose  []string
	log     *slog.Logger
	reflect bool
}

// New validates o and, for Protosets and ProtoFiles, parses the schema now.
// Errors name the file or option at fault.
func New(o Options) (*Protocol, error) {
	n := 0
	if o.Reflection {
		n++
	}
	if len(o.Protosets) > 0 {
		n++
	}
	if len(o.ProtoFiles) > 0 {
		n++
	}
	if n > 1 {
		return nil, fmt.Errorf("grpc: give one schema source (reflection, protosets or proto files), got %d", n)
	}
	if len(o.ImportPaths) > 0 && len(o.ProtoFiles) == 0 {
		return nil, fmt.Errorf("grpc: import paths given without proto files")
	}
	if n == 0 {
		o.Reflection = true
	}
	if o.Refresh < 0 || o.FetchTimeout < 0 {
		return nil, fmt.Errorf("grpc: refresh and fetch timeout must not be negative")
	}
	if o.Refresh == 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = 10 * time.Second
	}
	p := &Protocol{opts: o, reflect: o.Reflection, log: o.Logger}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, h := range o.ExposeHeaders {
		p.expose = append(p.expose, strings.ToLower(h))
	}
	if !o.Reflection {
		var (
			fdps []*descriptorpb.FileDescriptorProto
			err  error
			what string
		)
		if len(o.Protosets) > 0 {
			what = "protosets " + strings.Join(o.Protosets, ", ")
			fdps, err = loadProtosets(o.Protosets)
		} else {
			what = "proto files " + strings.Join(o.ProtoFiles, ", ")
			fdps, err = compileProtoFiles(context.Background(), o.ProtoFiles, o.ImportPaths)
		}
		if err != nil {
			return nil, fmt.Errorf("grpc: %w", err)
		}
		s, err := newSchema(fdps, time.Now(), o.EmitDefaults)
		if err != nil {
			return nil, fmt.Errorf("grpc: %s: %w", what, err)
		}
		if o.Service != "" && s.services[o.Service] == nil {
			return nil, fmt.Errorf("grpc: service %s is not defined in %s", o.Service, what)
		}
		p.static = s
	}
	return p, nil
}

// Name implements generic.Protocol.
func (p *Protocol) Name() string { return "grpc" }

// Dial implements generic.Protocol: it creates the instance's one
// connection, which connects lazily. With reflection, descriptors are
// fetched in the background at once.
func (p *Protocol) Dial(ctx context.Context, t generic.Target) (generic.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, generic.AsError(err)
	}
	creds := insecure.NewCredentials()
	if p.opts.TLS != nil {
		creds = newTLSCreds(p.opts.TLS.Clone())
	}
	// Retries are the gateway cluster's job (on another instance); grpc-go's
	// transparent retry would also buffer every call's messages for replay.
	cc, err := gogrpc.NewClient(t.Address, gogrpc.WithTransportCredentials(creds), gogrpc.WithDisableRetry())
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeInvalidArgument, Protocol: "grpc",
			Message: "invalid backend address", Err: err}
	}
	c := newClient(p, cc)
	return c, nil
}

var _ generic.Protocol = (*Protocol)(nil)
