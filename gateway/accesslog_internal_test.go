package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
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
