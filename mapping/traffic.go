package mapping

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Split sends a share of a service's requests to the instances carrying a
// tag; the rest go to untagged instances.
type Split struct {
	Tag     string  `yaml:"tag"`
	Percent float64 `yaml:"percent"`
}

// Mirror copies a share of requests to another service, fire-and-forget.
type Mirror struct {
	Service string  `yaml:"service"`
	Percent float64 `yaml:"percent"`
	// Queue bounds the copies waiting; beyond it they are dropped and
	// counted. Default 1000.
	Queue int `yaml:"queue"`
	// Workers send the copies. Default 4.
	Workers int `yaml:"workers"`
}

// CircuitBreaker stops calling a failing service for a while.
type CircuitBreaker struct {
	// ErrorPercent opens the breaker when errors reach this share of the
	// calls in the window. Default 50.
	ErrorPercent float64 `yaml:"error_percent"`
	// MinRequests in the window before the breaker may open. Default 20.
	MinRequests int `yaml:"min_requests"`
	// Window is the sliding window of calls counted. Default 10s.
	Window time.Duration `yaml:"window"`
	// OpenFor is how long the breaker stays open. Default 5s.
	OpenFor time.Duration `yaml:"open_for"`
	// HalfOpenRequests are let through after OpenFor to probe. Default 3.
	HalfOpenRequests int `yaml:"half_open_requests"`
}

// Retry configures retries beyond the plain retries key.
type Retry struct {
	// Attempts is the number of tries, the first included. Default:
	// retries + 1.
	Attempts int `yaml:"attempts"`
	// PerTryTimeout bounds each try within the overall timeout. Default:
	// none (each try may use what is left).
	PerTryTimeout time.Duration `yaml:"per_try_timeout"`
	// Backoff before the first retry, doubling up to MaxBackoff, with
	// jitter. Default 0 (retry at once).
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// BudgetPercent caps retries at this share of the service's requests
	// over the last 10 s. Default 20; 100 turns the budget off.
	BudgetPercent float64 `yaml:"budget_percent"`
}

// Fallback answers when a call fails with 502, 503 or 504 (the breaker
// open, the service overloaded, no instance, a backend error).
type Fallback struct {
	// StaleFor serves the last good reply to the same method and bound
	// request, when younger than this.
	StaleFor time.Duration `yaml:"stale_for"`
	// Reply is the fixed answer otherwise.
	Reply *FallbackReply `yaml:"reply"`
	// MaxEntries and MaxBytes bound the stale replies kept for the
	// service (least recently used go first). Defaults 10000 and 64 MiB.
	MaxEntries int   `yaml:"max_entries"`
	MaxBytes   int64 `yaml:"max_bytes"`
}

// FallbackReply is a fixed answer.
type FallbackReply struct {
	// Status default 200.
	Status int `yaml:"status"`
	// Body is any YAML value, sent as JSON.
	Body yaml.Node `yaml:"body"`
	// JSON is Body encoded, filled in by ApplyDefaults.
	JSON []byte `yaml:"-"`
}

// Defaults of the traffic keys.
const (
	DefaultMirrorQueue        = 1000
	DefaultMirrorWorkers      = 4
	DefaultBreakerErrorPct    = 50
	DefaultBreakerMinRequests = 20
	DefaultBreakerWindow      = 10 * time.Second
	DefaultBreakerOpenFor     = 5 * time.Second
	DefaultBreakerHalfOpen    = 3
	DefaultRetryBudgetPercent = 20
	DefaultFallbackEntries    = 10000
	DefaultFallbackBytes      = 64 << 20
)

func (c *Config) applyTrafficDefaults() {
	for i := range c.Services {
		s := &c.Services[i]
		if m := s.Mirror; m != nil {
			if m.Queue == 0 {
				m.Queue = DefaultMirrorQueue
			}
			if m.Workers == 0 {
				m.Workers = DefaultMirrorWorkers
			}
		}
		if b := s.CircuitBreaker; b != nil {
			if b.ErrorPercent == 0 {
				b.ErrorPercent = DefaultBreakerErrorPct
			}
			if b.MinRequests == 0 {
				b.MinRequests = DefaultBreakerMinRequests
			}
			if b.Window == 0 {
				b.Window = DefaultBreakerWindow
			}
			if b.OpenFor == 0 {
				b.OpenFor = DefaultBreakerOpenFor
			}
			if b.HalfOpenRequests == 0 {
				b.HalfOpenRequests = DefaultBreakerHalfOpen
			}
		}
		if r := s.Retry; r != nil {
			if r.Attempts == 0 && s.Retries != nil {
				r.Attempts = *s.Retries + 1
			}
			if r.BudgetPercent == 0 {
				r.BudgetPercent = DefaultRetryBudgetPercent
			}
			if r.MaxBackoff == 0 {
				r.MaxBackoff = 10 * r.Backoff
			}
		}
		if f := s.Fallback; f != nil {
			if f.MaxEntries == 0 {
				f.MaxEntries = DefaultFallbackEntries
			}
			if f.MaxBytes == 0 {
				f.MaxBytes = DefaultFallbackBytes
			}
			if r := f.Reply; r != nil {
				if r.Status == 0 {
					r.Status = 200
				}
				if r.JSON == nil {
					r.JSON = nodeJSON(&r.Body)
					// The node (with its line numbers) is not kept: an
					// unchanged service compares equal wherever it sits.
					r.Body = yaml.Node{}
				}
			}
		}
	}
}

// nodeJSON encodes a YAML value as JSON (null when it does not convert).
func nodeJSON(n *yaml.Node) []byte {
	if n.Kind == 0 {
		return []byte("null")
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return []byte("null")
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return []byte("null")
	}
	return b
}

// jsonable turns YAML's map[string]any / map[any]any into JSON-encodable
// values.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	}
	return v
}

func (c *Config) validateTraffic(s *Service, where string, add func(string, ...any)) {
	total := 0.0
	tags := map[string]bool{}
	for i, sp := range s.Split {
		if sp.Tag == "" {
			add("%s: split[%d].tag is required", where, i)
		} else if tags[sp.Tag] {
			add("%s: split[%d]: tag %q appears twice", where, i, sp.Tag)
		}
		tags[sp.Tag] = true
		if sp.Percent <= 0 || sp.Percent > 100 {
			add("%s: split[%d].percent: want more than 0 and at most 100, got %v", where, i, sp.Percent)
		}
		total += sp.Percent
	}
	if total > 100 {
		add("%s: split: the percents add up to %v, more than 100", where, total)
	}
	if k := s.SplitKey; k != "" {
		if len(s.Split) == 0 {
			add("%s: split_key without split", where)
		}
		kind, name, ok := strings.Cut(k, ":")
		if !ok || name == "" || (kind != "header" && kind != "query" && kind != "cookie") {
			add("%s: split_key: want header:<name>, query:<name> or cookie:<name>, got %q", where, k)
		}
	}
	if m := s.Mirror; m != nil {
		switch {
		case m.Service == "":
			add("%s: mirror.service is required", where)
		case m.Service == s.Name:
			add("%s: mirror.service: a service cannot mirror to itself", where)
		case c.Service(m.Service) == nil:
			add("%s: mirror.service %q is not defined", where, m.Service)
		}
		if m.Percent <= 0 || m.Percent > 100 {
			add("%s: mirror.percent: want more than 0 and at most 100, got %v", where, m.Percent)
		}
		if m.Queue < 0 || m.Workers < 0 {
			add("%s: mirror.queue and mirror.workers must not be negative", where)
		}
	}
	if b := s.CircuitBreaker; b != nil {
		if b.ErrorPercent <= 0 || b.ErrorPercent > 100 {
			add("%s: circuit_breaker.error_percent: want more than 0 and at most 100, got %v", where, b.ErrorPercent)
		}
		if b.MinRequests < 0 || b.HalfOpenRequests < 0 {
			add("%s: circuit_breaker.min_requests and half_open_requests must not be negative", where)
		}
		if b.Window < 0 || b.OpenFor < 0 {
			add("%s: circuit_breaker.window and open_for must not be negative", where)
		}
	}
	if s.MaxConcurrent < 0 {
		add("%s: max_concurrent must not be negative, got %d", where, s.MaxConcurrent)
	}
	if r := s.Retry; r != nil {
		if r.Attempts < 1 {
			add("%s: retry.attempts: want 1 or more (the first try included), got %d", where, r.Attempts)
		}
		if r.PerTryTimeout < 0 || r.Backoff < 0 || r.MaxBackoff < 0 {
			add("%s: retry durations must not be negative", where)
		}
		if r.MaxBackoff < r.Backoff {
			add("%s: retry.max_backoff %s is less than backoff %s", where, r.MaxBackoff, r.Backoff)
		}
		if r.BudgetPercent <= 0 || r.BudgetPercent > 100 {
			add("%s: retry.budget_percent: want more than 0 and at most 100, got %v", where, r.BudgetPercent)
		}
	}
	if f := s.Fallback; f != nil {
		if f.StaleFor <= 0 && f.Reply == nil {
			add("%s: fallback needs stale_for or reply", where)
		}
		if f.StaleFor < 0 {
			add("%s: fallback.stale_for must not be negative", where)
		}
		if r := f.Reply; r != nil && (r.Status < 200 || r.Status > 599) {
			add("%s: fallback.reply.status: want 200 to 599, got %d", where, r.Status)
		}
		if f.MaxEntries < 0 || f.MaxBytes < 0 {
			add("%s: fallback.max_entries and max_bytes must not be negative", where)
		}
	}
}
