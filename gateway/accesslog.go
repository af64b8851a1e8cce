package gateway

import (
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// accessLog writes one JSON line per request from a background writer: a
// request appends its line to a pending buffer and, when the writer is
// idle, wakes it; the writer lets lines gather for cfg.Flush (less when
// accessLogChunk bytes wait) and takes everything pending in one write.
// When cfg.Buffer lines are already pending the line is dropped and
// counted (rpcbridge_access_log_dropped_total), so a slow disk never
// blocks a request.
type accessLog struct {
	cfg     mapping.AccessLog
	wake    chan struct{} // cap 1: the writer has something to take
	full    chan struct{} // cap 1: accessLogChunk bytes wait
	closing chan struct{} // closed by close
	done    chan struct{}
	closer  io.Closer
	m       *metrics

	mu      sync.Mutex
	pending []byte
	lines   int // in pending
	closed  bool
}

// newAccessLog starts the writer for cfg; out, when set, replaces the
// configured path (tests).
func newAccessLog(cfg mapping.AccessLog, out io.Writer, m *metrics) (*accessLog, error) {
	a := &accessLog{cfg: cfg, wake: make(chan struct{}, 1), full: make(chan struct{}, 1), closing: make(chan struct{}),
		done: make(chan struct{}), m: m}
	w := out
	if w == nil {
		switch cfg.Path {
		case "stdout":
			w = os.Stdout
		case "stderr":
			w = os.Stderr
		default:
			f, err := os.OpenFile(cfg.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				return nil, err
			}
			w, a.closer = f, f
		}
	}
	go a.run(w)
	return a, nil
}

// maxKeptAccessBuffer bounds the buffer the writer keeps between writes.
const maxKeptAccessBuffer = 1 << 20

// accessLogChunk is what the writer writes without waiting for more.
const accessLogChunk = 64 << 10

func (a *accessLog) run(w io.Writer) {
	defer close(a.done)
	var buf []byte
	gather := time.NewTimer(a.cfg.Flush)
	gather.Stop()
	for range a.wake {
		if a.cfg.Flush > 0 {
			gather.Reset(a.cfg.Flush)
			select {
			case <-gather.C:
			case <-a.full:
			case <-a.closing:
			}
			gather.Stop()
		}
		a.mu.Lock()
		buf, a.pending = a.pending, buf[:0]
		a.lines = 0
		closed := a.closed
		a.mu.Unlock()
		if len(buf) > 0 {
			w.Write(buf)
		}
		if closed {
			return
		}
		if cap(buf) > maxKeptAccessBuffer {
			buf = nil
		}
	}
}

// close writes what is pending and stops the writer.
func (a *accessLog) close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	close(a.closing)
	a.signal()
	<-a.done
	if a.closer != nil {
		a.closer.Close()
	}
}

// signal wakes the writer unless a wake is already pending.
func (a *accessLog) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// add appends l's line to what is pending, or counts it as dropped.
func (a *accessLog) add(l *accessLine) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	if a.lines >= max(a.cfg.Buffer, 1) {
		a.mu.Unlock()
		a.m.accessDropped.Inc()
		return
	}
	a.pending = l.append(a.pending)
	a.lines++
	full := len(a.pending) >= accessLogChunk
	a.mu.Unlock()
	a.signal()
	if full {
		select {
		case a.full <- struct{}{}:
		default:
		}
	}
}

// accessLine is one request, as logged: append writes it as one JSON
// object (trace_id and span_id, in hex, when the request has a trace).
// The tests hold it to what encoding/json writes for the same fields
// (taggedLine), which also names them.
type accessLine struct {
	Time       string
	traceID    trace.TraceID
	spanID     trace.SpanID
	ClientIP   string
	Method     string
	Path       string
	Route      string
	Service    string
	Protocol   string
	RPCMethod  string
	Instance   string
	Status     int
	ErrorCode  string
	DurationMS float64
	BytesIn    int64
	BytesOut   int
	Retries    int
	Split      string
	Fallback   string
	RequestID  string
}

// logAccess queues the request's line (sampled).
func (g *Gateway) logAccess(a *accessLog, r *http.Request, w *statusWriter, t *target, start time.Time, status int, client string) {
	if a.cfg.Sample < 1 && rand.Float64() >= a.cfg.Sample {
		return
	}
	l := accessLine{
		Time: start.UTC().Format(time.RFC3339Nano), ClientIP: client, Method: generic.Clip(r.Method),
		Path: generic.Clip(r.URL.Path), Status: status, ErrorCode: string(w.code),
		DurationMS: float64(time.Since(start).Microseconds()) / 1000, BytesIn: max(r.ContentLength, 0), BytesOut: w.bytes,
		Fallback: w.Header().Get("X-Rpcbridge-Fallback"), RequestID: generic.Clip(r.Header.Get("X-Request-Id")),
	}
	if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
		l.traceID, l.spanID = sc.TraceID(), sc.SpanID()
	}
	if t != nil {
		l.Service, l.Protocol, l.RPCMethod, l.Split = t.svc.Name, t.svc.Protocol, generic.Clip(t.method), t.split
		l.Route, l.Instance, l.Retries = t.how, t.attempt.instance, max(t.attempt.tries-1, 0)
		if t.route != nil {
			l.Route = t.route.Match.Path + t.route.Match.Prefix
		}
	}
	a.add(&l)
}

// append appends l as one JSON line, the fields in their declared order
// and the omitempty ones left out when empty, as encoding/json would
// write them (without its reflection and its allocations per field).
func (l *accessLine) append(b []byte) []byte {
	key := func(b []byte, key string) []byte {
		b = append(b, ',', '"')
		b = append(b, key...)
		return append(b, '"', ':')
	}
	str := func(b []byte, k, v string, omitEmpty bool) []byte {
		if omitEmpty && v == "" {
			return b
		}
		return generic.AppendString(key(b, k), v)
	}
	num := func(b []byte, k string, v int64) []byte {
		return strconv.AppendInt(key(b, k), v, 10)
	}
	b = append(b, `{"time":`...)
	b = generic.AppendString(b, l.Time)
	if l.traceID.IsValid() {
		b = append(b, `,"trace_id":"`...)
		b = hex.AppendEncode(b, l.traceID[:])
		b = append(b, `","span_id":"`...)
		b = hex.AppendEncode(b, l.spanID[:])
		b = append(b, '"')
	}
	b = str(b, "client_ip", l.ClientIP, false)
	b = str(b, "method", l.Method, false)
	b = str(b, "path", l.Path, false)
	b = str(b, "route", l.Route, true)
	b = str(b, "service", l.Service, true)
	b = str(b, "protocol", l.Protocol, true)
	b = str(b, "rpc_method", l.RPCMethod, true)
	b = str(b, "instance", l.Instance, true)
	b = num(b, "status", int64(l.Status))
	b = str(b, "error_code", l.ErrorCode, true)
	b = generic.AppendFloat(key(b, "duration_ms"), l.DurationMS, 64)
	b = num(b, "bytes_in", l.BytesIn)
	b = num(b, "bytes_out", int64(l.BytesOut))
	b = num(b, "retries", int64(l.Retries))
	b = str(b, "split", l.Split, true)
	b = str(b, "fallback", l.Fallback, true)
	b = str(b, "request_id", l.RequestID, true)
	return append(b, '}', '\n')
}
