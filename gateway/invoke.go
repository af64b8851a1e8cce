package gateway

// Picking an instance and calling it, with retries on another instance.

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// balancerFor returns the balancer over the instances a request with tag
// may use, building it once per snapshot and tag.
func (c *cluster) balancerFor(s *snapshot, tag string) (registry.Balancer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.balancer[tag]; ok {
		return b, nil
	}
	insts := registry.Route(s.all, registry.RouteRequest{Tag: tag, TagFallback: *c.svc.TagFallback, Zone: c.zone})
	var b registry.Balancer
	if len(insts) > 0 {
		var err error
		b, err = registry.NewBalancer(c.svc.Balancer, insts)
		if err != nil {
			return nil, err
		}
	}
	s.balancer[tag] = b
	return b, nil
}

// pickRequest carries what instance choice needs from the HTTP request.
type pickRequest struct {
	tag     string
	hashKey string
	retries int
	// idempotent allows a retry after the request may have reached a backend.
	idempotent bool
	// started reports whether a streaming reply already sent messages; no
	// retry after that.
	started func() bool
	// perTry bounds each attempt within ctx (0: none); backoff waits
	// before the first retry, doubling up to maxBackoff, with jitter.
	perTry, backoff, maxBackoff time.Duration
	// info, when set, learns the last instance tried and the tries.
	info *attemptInfo
	// forward, when set, is the attempt instead of the client's Invoke:
	// a whole HTTP request forwarded to the member (proxy mode).
	forward func(ctx context.Context, m *member) error
}

// attemptInfo is what the access log tells of a call's attempts.
type attemptInfo struct {
	instance string
	tries    int
}

// invoke runs the call with retries on other instances.
func (c *cluster) invoke(ctx context.Context, call *generic.Call, pr pickRequest) (*generic.Result, error) {
	s := c.snap.Load()
	b, err := c.balancerFor(s, pr.tag)
	if err != nil {
		return nil, generic.Errorf(generic.CodeInternal, "balancer: %w", err)
	}
	if b == nil {
		if pr.tag != "" && len(s.all) > 0 {
			return nil, generic.Errorf(generic.CodeUnavailable, "no instance of %s carries tag %q", c.name, pr.tag)
		}
		return nil, generic.Errorf(generic.CodeUnavailable, "no instance of %s is available", c.name)
	}
	var tried []*registry.Instance
	now := c.now().UnixNano()
	info := registry.PickInfo{
		HashKey: pr.hashKey,
		Exclude: func(in *registry.Instance) bool {
			for _, t := range tried {
				if t == in {
					return true
				}
			}
			m := s.byAddr[in.Address]
			return m == nil || m.ejectedUntil.Load() > now || m.unhealthy.Load()
		},
		Load: func(in *registry.Instance) int64 {
			if m := s.byAddr[in.Address]; m != nil {
				return m.inflight.Load()
			}
			return 0
		},
	}
	c.budget.request(now)
	var lastErr error
	for attempt := 0; attempt <= pr.retries; attempt++ {
		if attempt > 0 {
			if !c.budget.take(c.now().UnixNano()) {
				c.overBudget.Inc()
				break
			}
			c.retried.Inc()
			if !sleepBackoff(ctx, pr.backoff, pr.maxBackoff, attempt) {
				break
			}
		}
		in := b.Pick(info)
		if in == nil {
			if attempt == 0 {
				// Every instance is ejected: try the least recently
				// ejected rather than fail outright.
				in = c.leastEjected(s, tried)
			}
			if in == nil {
				break
			}
		}
		tried = append(tried, in)
		if pr.info != nil {
			pr.info.instance, pr.info.tries = in.Address, pr.info.tries+1
		}
		m := s.byAddr[in.Address]
		m.inflight.Add(1)
		actx, span := c.tracing.attemptSpan(ctx, c, m, call, in.Address)
		cancel := func() {}
		if pr.perTry > 0 {
			actx, cancel = context.WithTimeout(actx, pr.perTry)
		}
		began := time.Now()
		var res *generic.Result
		var err error
		if pr.forward != nil {
			err = pr.forward(actx, m)
		} else {
			res, err = m.client.Invoke(actx, call)
		}
		cancel()
		if c.backendDur != nil {
			c.backendDur.Observe(time.Since(began).Seconds())
		}
		if err == nil {
			m.calledOK.Add(1)
		} else {
			m.calledErr.Add(1)
		}
		endSpan(span, err)
		m.inflight.Add(-1)
		if err == nil {
			m.fails.Store(0)
			return res, nil
		}
		lastErr = err
		code := generic.CodeOf(err)
		if code == generic.CodeCanceled && ctx.Err() == nil {
			// The client, not the caller, gave up (a connection closing):
			// a connection failure.
			code = generic.CodeUnavailable
			e := *generic.AsError(err)
			e.Code = code
			lastErr = &e
		}
		if failureCounts(code) {
			c.recordFailure(s, m)
		} else {
			m.fails.Store(0)
		}
		if ctx.Err() != nil || !retryable(code, pr.idempotent) || pr.started != nil && pr.started() {
			break
		}
	}
	if lastErr == nil {
		return nil, generic.Errorf(generic.CodeUnavailable, "no healthy instance of %s", c.name)
	}
	return nil, lastErr
}

// sleepBackoff waits before retry number attempt (1, 2, ...): a random
// time up to backoff * 2^(attempt-1), capped at maxBackoff ("full
// jitter"). It reports false when ctx ended first.
func sleepBackoff(ctx context.Context, backoff, maxBackoff time.Duration, attempt int) bool {
	if backoff <= 0 {
		return true
	}
	d := backoff << (attempt - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryable: a connection failure (UNAVAILABLE) never reached the backend
// and may be retried; anything else only when the route is idempotent.
func retryable(code generic.Code, idempotent bool) bool {
	switch code {
	case generic.CodeUnavailable:
		return true
	case generic.CodeDeadlineExceeded, generic.CodeBackendError, generic.CodeInternal, generic.CodeUnknown, generic.CodeAborted:
		return idempotent
	}
	return false
}
