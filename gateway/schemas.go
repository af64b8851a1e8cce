package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Schemas are fetched off the request path: when a cluster starts, when
// its instance set changes, and every schemaRefresh after a success
// (schemaRetry after a failure). Routing reads only what is cached; before
// the first fetch has ended it waits at most firstSchemaWait for it.
const (
	schemaRefresh   = 30 * time.Second
	schemaRetry     = 5 * time.Second
	schemaFetch     = 5 * time.Second
	firstSchemaWait = 2 * time.Second
)

// schemaCache holds one cluster's schema and the goroutine that keeps it.
type schemaCache struct {
	cur       atomic.Pointer[generic.ServiceSchema]
	first     chan struct{} // closed when the first fetch has ended
	firstOnce sync.Once
	kick      chan struct{} // a pending "fetch now"
	stop      context.CancelFunc
	done      chan struct{}
}

func newSchemaCache() *schemaCache {
	return &schemaCache{first: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// startSchemas starts keeping the cluster's schema until ctx ends or the
// cluster closes.
func (c *cluster) startSchemas(ctx context.Context) {
	sc := c.schemas
	ctx, sc.stop = context.WithCancel(ctx)
	sc.done = make(chan struct{})
	go func() {
		defer close(sc.done)
		for {
			fctx, cancel := context.WithTimeout(ctx, schemaFetch)
			s, err := c.fetchSchema(fctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			wait := schemaRefresh
			if err == nil {
				sc.cur.Store(s)
			} else {
				wait = schemaRetry
			}
			sc.firstOnce.Do(func() { close(sc.first) })
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-sc.kick:
				t.Stop()
			case <-t.C:
			}
		}
	}()
}

// stopSchemas stops the goroutine and waits for it.
func (c *cluster) stopSchemas() {
	if sc := c.schemas; sc.stop != nil {
		sc.stop()
		<-sc.done
	}
}

// refreshSchema asks for a fetch soon (an instance appeared or left).
func (c *cluster) refreshSchema() {
	select {
	case c.schemas.kick <- struct{}{}:
	default:
	}
}

// cachedSchema is the schema routing uses: what is cached, after waiting
// at most firstSchemaWait for a first fetch still under way; nil when none
// is known.
func (c *cluster) cachedSchema(ctx context.Context) *generic.ServiceSchema {
	sc := c.schemas
	if s := sc.cur.Load(); s != nil || sc.stop == nil {
		return s
	}
	t := time.NewTimer(firstSchemaWait)
	defer t.Stop()
	select {
	case <-sc.first:
	case <-t.C:
	case <-ctx.Done():
	}
	return sc.cur.Load()
}

// describe returns the schema for the control plane and `rpcbridge
// describe`: the cached one, or one fetched now when none is cached.
func (c *cluster) describe(ctx context.Context) (*generic.ServiceSchema, error) {
	if s := c.schemas.cur.Load(); s != nil {
		return s, nil
	}
	s, err := c.fetchSchema(ctx)
	if err == nil {
		c.schemas.cur.Store(s)
	}
	return s, err
}

// fetchSchema asks the instances, in turn, for the service's schema.
func (c *cluster) fetchSchema(ctx context.Context) (*generic.ServiceSchema, error) {
	s := c.snap.Load()
	var lastErr error = generic.Errorf(generic.CodeUnavailable, "no instance of %s is available", c.name)
	for _, in := range s.all {
		m := s.byAddr[in.Address]
		if m == nil {
			continue
		}
		sc, err := m.client.Describe(ctx)
		if err != nil {
			lastErr = err
			continue
		}
		c.schemaOK.Add(1)
		return sc, nil
	}
	c.schemaErr.Add(1)
	return nil, lastErr
}
