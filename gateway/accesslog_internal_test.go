package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpcbridge/rpcbridge/mapping"
)

// taggedLine is accessLine as encoding/json writes it: the reference the
// hand-written append is held to.
type taggedLine struct {
	Time       string  `json:"time"`
	TraceID    string  `json:"trace_id,omitempty"`
	SpanID     string  `json:"span_id,omitempty"`
	ClientIP   string  `json:"client_ip"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Route      string  `json:"route,omitempty"`
	Service    string  `json:"service,omitempty"`
	Protocol   string  `json:"protocol,omitempty"`
	RPCMethod  string  `json:"rpc_method,omitempty"`
	Instance   string  `json:"instance,omitempty"`
	Status     int     `json:"status"`
	ErrorCode  string  `json:"error_code,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int     `json:"bytes_out"`
	Retries    int     `json:"retries"`
	Split      string  `json:"split,omitempty"`
	Fallback   string  `json:"fallback,omitempty"`
	RequestID  string  `json:"request_id,omitempty"`
}

func (l *accessLine) tagged() taggedLine {
	t := taggedLine{Time: l.Time, ClientIP: l.ClientIP, Method: l.Method, Path: l.Path, Route: l.Route,
		Service: l.Service, Protocol: l.Protocol, RPCMethod: l.RPCMethod, Instance: l.Instance, Status: l.Status,
		ErrorCode: l.ErrorCode, DurationMS: l.DurationMS, BytesIn: l.BytesIn, BytesOut: l.BytesOut,
		Retries: l.Retries, Split: l.Split, Fallback: l.Fallback, RequestID: l.RequestID}
	if l.traceID.IsValid() {
		t.TraceID, t.SpanID = l.traceID.String(), l.spanID.String()
	}
	return t
}

// The access line is byte for byte what encoding/json writes for the same
// fields, for strings without the HTML characters encoding/json escapes
// (<, >, &); with them, it decodes to the same values.
func TestAccessLineIsWhatEncodingJSONWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"", "a", "/v1/people/1", "é", "日本", "\x00", "\n", "\t", "\"", "\\", "\u2028", "\xff", "\x7f", "<", ">", "&", " ", "ROLE_ADMIN"}
	randString := func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	lines := []accessLine{
		{Time: "2026-11-29T10:00:00.123456789Z", ClientIP: "127.0.0.1", Method: "GET", Path: "/"},
		{Time: "t", traceID: trace.TraceID{1, 2, 3, 0xff}, spanID: trace.SpanID{0xab, 0xcd}, Status: 502, DurationMS: 1234.567,
			BytesIn: 9007199254740993, BytesOut: 12, Retries: 2, Service: "users", ErrorCode: "BACKEND_EXCEPTION"},
		{Time: "t", DurationMS: 0.001},
		{Time: "t", DurationMS: 1e-7},
	}
	for range 2000 {
		l := accessLine{Time: randString(), ClientIP: randString(), Method: randString(), Path: randString(),
			Route: randString(), Service: randString(), Protocol: randString(), RPCMethod: randString(),
			Instance: randString(), Status: rng.IntN(600), ErrorCode: randString(), DurationMS: float64(rng.IntN(1e7)) / 1000,
			BytesIn: rng.Int64(), BytesOut: rng.Int(), Retries: rng.IntN(5), Split: randString(), Fallback: randString(),
			RequestID: randString()}
		if rng.IntN(2) == 0 {
			l.traceID, l.spanID = trace.TraceID{byte(rng.Uint32()), 1}, trace.SpanID{byte(rng.Uint32()), 2}
		}
		lines = append(lines, l)
	}
	for _, l := range lines {
		got := l.append(nil)
		want, err := json.Marshal(l.tagged())
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if !strings.ContainsAny(l.Time+l.ClientIP+l.Method+l.Path+l.Route+l.Service+l.Protocol+l.RPCMethod+l.Instance+l.ErrorCode+l.Split+l.Fallback+l.RequestID, "<>&") {
			if !bytes.Equal(got, want) {
				t.Fatalf("line:\ngot  %s\nwant %s", got, want)
			}
			continue
		}
		var g, w map[string]any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("line %s: %v", got, err)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("decoded line:\ngot  %v\nwant %v", g, w)
		}
	}
}

// benchLine is a typical traced request's line.
func benchLine() accessLine {
	return accessLine{Time: "2026-11-29T10:00:00.123456789Z", traceID: trace.TraceID{1}, spanID: trace.SpanID{1}, ClientIP: "127.0.0.1",
		Method: "POST", Path: "/people/Get", Route: "path", Service: "people", Protocol: "grpc", RPCMethod: "Get",
		Instance: "127.0.0.1:50051", Status: 200, DurationMS: 0.512, BytesIn: 11, BytesOut: 230}
}

func BenchmarkAccessLine(b *testing.B) {
	l := benchLine()
	b.ReportAllocs()
	for b.Loop() {
		l.append(make([]byte, 0, 512))
	}
}

func BenchmarkAccessLineEncodingJSON(b *testing.B) {
	l := benchLine()
	b.ReportAllocs()
	for b.Loop() {
		t := l.tagged()
		json.Marshal(t)
	}
}

// countingWriter counts the writes it takes and the lines in them.
type countingWriter struct {
	mu            sync.Mutex
	writes, lines int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	c.lines += bytes.Count(b, []byte("\n"))
	return len(b), nil
}

func (c *countingWriter) counts() (writes, lines int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.lines
}

// TestAccessLogGathersLinesIntoFewWrites: the lines of a burst are
// written together, within flush; 64 KiB waiting are written without
// waiting for flush; close writes what is left at once.
func TestAccessLogGathersLinesIntoFewWrites(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	line := benchLine()
	// With a 200 ms flush, a line waits for the lines that follow it:
	// it is written no sooner than the flush, with the others in one write.
	w := &countingWriter{}
	a, err := newAccessLog(mapping.AccessLog{Enabled: true, Buffer: 10000, Flush: 200 * time.Millisecond}, w, m)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 50 {
		a.add(&line)
	}
	for _, lines := w.counts(); lines < 50; _, lines = w.counts() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("got %d lines written after 5s, want 50", lines)
		}
		time.Sleep(time.Millisecond)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("the lines were written after %v, want them to wait for the 200ms flush", took)
	}
	if writes, _ := w.counts(); writes != 1 {
		t.Errorf("got %d writes for 50 lines added at once, want 1", writes)
	}
	a.close()

	// With a 10 s flush, 64 KiB of lines are written long before it.
	w = &countingWriter{}
	a, err = newAccessLog(mapping.AccessLog{Enabled: true, Buffer: 10000, Flush: 10 * time.Second}, w, m)
	if err != nil {
		t.Fatal(err)
	}
	n := accessLogChunk/len(line.append(nil)) + 1
	start = time.Now()
	for range n {
		a.add(&line)
	}
	for _, lines := w.counts(); lines < n; _, lines = w.counts() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("got %d of %d lines (64 KiB) written after 5s with a 10s flush, want them written at once", lines, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A line added now waits for the flush, but close writes it at once.
	a.add(&line)
	start = time.Now()
	a.close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("close took %v, want it to write what waits at once", took)
	}
	if _, lines := w.counts(); lines != n+1 {
		t.Errorf("got %d lines after close, want %d", lines, n+1)
	}
}
