package gateway

// Instance health: active health checks and passive outlier ejection.

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry"
)

// healthLoop runs active health checks every interval until ctx ends: the
// protocol's own check where the client has one (generic.HealthChecker),
// a TCP connect otherwise. A failed check takes the instance out of
// picking until a check passes again.
func (c *cluster) healthLoop(ctx context.Context, hc *mapping.HealthCheck) {
	interval, timeout := hc.Interval, hc.Timeout
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s := c.snap.Load()
		var wg sync.WaitGroup
		for addr, m := range s.byAddr {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				var err error
				if h, ok := m.client.(generic.HealthChecker); ok {
					err = h.CheckHealth(cctx)
				} else {
					var conn net.Conn
					conn, err = (&net.Dialer{}).DialContext(cctx, "tcp", addr)
					if err == nil {
						conn.Close()
					}
				}
				if ctx.Err() != nil {
					return
				}
				if was := m.unhealthy.Swap(err != nil); was != (err != nil) {
					if err != nil {
						c.log.Warn("health check failed; instance out of traffic", "service", c.name, "address", addr, "err", err)
					} else {
						c.log.Info("health check passed; instance back in traffic", "service", c.name, "address", addr)
					}
				}
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *cluster) leastEjected(s *snapshot, tried []*registry.Instance) *registry.Instance {
	var best *member
	for _, in := range s.all {
		m := s.byAddr[in.Address]
		if m == nil || !in.Online {
			continue
		}
		if best == nil || m.ejectedUntil.Load() < best.ejectedUntil.Load() {
			best = m
		}
	}
	if best == nil {
		return nil
	}
	return best.inst
}

// failureCounts: the codes that count toward outlier ejection.
func failureCounts(code generic.Code) bool {
	switch code {
	case generic.CodeUnavailable, generic.CodeBackendError, generic.CodeInternal, generic.CodeUnknown, generic.CodeDeadlineExceeded:
		return true
	}
	return false
}

func (c *cluster) recordFailure(s *snapshot, m *member) {
	if c.maxFailures < 0 {
		return
	}
	if int(m.fails.Add(1)) < c.maxFailures {
		return
	}
	now := c.now()
	ejected := 0
	for _, mm := range s.byAddr {
		if mm.ejectedUntil.Load() > now.UnixNano() {
			ejected++
		}
	}
	if (ejected+1)*100 > c.maxEjectedPct*len(s.byAddr) {
		return
	}
	n := m.ejections.Add(1)
	d := c.baseEjection * time.Duration(n)
	if d > 10*c.baseEjection {
		d = 10 * c.baseEjection
	}
	m.ejectedUntil.Store(now.Add(d).UnixNano())
	m.fails.Store(0)
	c.ejectionsTotal.Add(1)
	c.log.Warn("instance ejected", "service", c.name, "address", m.inst.Address, "for", d.String())
}
