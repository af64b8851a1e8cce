// Package registry holds what the gateway knows about backend instances:
// the Instance type, the Discovery/Watcher/Registrar interfaces that
// registries implement (see the static and zookeeper subpackages), the
// routers that narrow an instance set for one request (online, tag, zone)
// and the balancers that pick one instance from it.
package registry

import (
	"context"
	"errors"
	"slices"
)

// DefaultWeight is the weight of an instance whose Weight is 0.
const DefaultWeight = 100

// Instance is one backend process serving one service. Published instances
// are shared between goroutines: treat them as read-only (Clone to change).
type Instance struct {
	// Service is the service name (the gateway's name, or the Dubbo
	// interface for Dubbo-native providers).
	Service string `json:"service,omitempty"`
	// Address is host:port.
	Address string `json:"address"`
	// Protocol is grpc, dubbo, tri, triple, thrift, tars or http.
	Protocol string `json:"protocol"`
	// Weight is the relative share of traffic; 0 means DefaultWeight (100).
	Weight int `json:"weight"`
	// Zone is the availability zone, for same-zone preference.
	Zone string `json:"zone,omitempty"`
	// Tags select instances for tag (gray/canary) routing.
	Tags []string `json:"tags,omitempty"`
	// Online false removes the instance from traffic without deregistering.
	Online bool `json:"online"`
	// Version is the backend's own version string.
	Version string `json:"version,omitempty"`
	// Metadata is free-form; Dubbo providers carry group, version,
	// timeout and methods here.
	Metadata map[string]string `json:"metadata,omitempty"`
	// APIs are the methods the backend reports.
	APIs []API `json:"apis,omitempty"`
}

// API is one method a backend reports through the SDK (or a Dubbo
// provider's methods list).
type API struct {
	// Name is the method name.
	Name string `json:"name"`
	// Path is an optional HTTP path that should route to the method.
	Path string `json:"path,omitempty"`
	// HTTPMethod goes with Path (GET, POST, ...).
	HTTPMethod string `json:"http_method,omitempty"`
	// ParamNames are the argument names, by position.
	ParamNames []string `json:"param_names,omitempty"`
	// ParamTypes are the argument types by position (Java types for Dubbo).
	ParamTypes []string `json:"param_types,omitempty"`
}

// EffectiveWeight is Weight, or DefaultWeight when Weight is not positive.
func (in *Instance) EffectiveWeight() int {
	if in.Weight <= 0 {
		return DefaultWeight
	}
	return in.Weight
}

// HasTag reports whether the instance carries tag.
func (in *Instance) HasTag(tag string) bool {
	return slices.Contains(in.Tags, tag)
}

// Clone returns a deep copy of in.
func (in *Instance) Clone() *Instance {
	if in == nil {
		return nil
	}
	c := *in
	c.Tags = slices.Clone(in.Tags)
	if in.Metadata != nil {
		c.Metadata = make(map[string]string, len(in.Metadata))
		for k, v := range in.Metadata {
			c.Metadata[k] = v
		}
	}
	if in.APIs != nil {
		c.APIs = make([]API, len(in.APIs))
		for i, a := range in.APIs {
			a.ParamNames = slices.Clone(a.ParamNames)
			a.ParamTypes = slices.Clone(a.ParamTypes)
			c.APIs[i] = a
		}
	}
	return &c
}

// Discovery finds the instances of services.
type Discovery interface {
	// Watch starts watching service. The Watcher must be stopped.
	Watch(ctx context.Context, service string) (Watcher, error)
}

// Watcher follows one service's instance set.
type Watcher interface {
	// Next blocks until the instance set differs from what it last
	// returned (the first call returns the current set at once), ctx is
	// done, or Stop is called. The returned slice and instances are
	// shared: do not modify them. Next may be called from one goroutine
	// at a time.
	Next(ctx context.Context) ([]*Instance, error)
	// Stop ends the watch; a blocked Next returns an error. Stop may be
	// called concurrently with Next and more than once.
	Stop() error
}

// Registrar publishes instances.
type Registrar interface {
	// Register publishes in; registering the same service and address
	// again replaces its data.
	Register(ctx context.Context, in *Instance) error
	// Deregister removes in (by service and address).
	Deregister(ctx context.Context, in *Instance) error
}

// ErrWatcherStopped is the cause (errors.Is) of the error Next returns after
// Stop.
var ErrWatcherStopped = errors.New("registry: watcher stopped")
