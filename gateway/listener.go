package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rpcbridge/rpcbridge/generic"
)

// connListener wraps the data-plane listener. It caps the number of open
// connections (beyond server.max_connections a new connection is closed at
// once and counted), rewrites the plain-text errors Go's HTTP server writes
// itself into JSON errors, and watches each HTTP/1 connection's request
// framing for messages that carry both Content-Length and
// Transfer-Encoding.
//
// With a TLS configuration it terminates TLS itself, under the watch: the
// HTTP server sees the decrypted stream (HTTP/1.1, or HTTP/2 when ALPN
// chose h2, served as HTTP/2 with prior knowledge), so the same framing
// checks and JSON errors hold on HTTPS.
type connListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	metrics *metrics
	tls     *tls.Config
}

// newConnListener wraps l; max <= 0 means no cap, a nil m counts nothing,
// a nil tc serves in clear.
func newConnListener(l net.Listener, max int, m *metrics, tc *tls.Config) *connListener {
	return &connListener{Listener: l, max: int64(max), metrics: m, tls: tc}
}

// Accept returns the next connection under the cap.
func (l *connListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := l.open.Add(1); l.max > 0 && n > l.max {
			l.open.Add(-1)
			if l.metrics != nil {
				l.metrics.connRejected.Inc()
			}
			c.Close()
			continue
		}
		if l.metrics != nil {
			l.metrics.connOpen.Inc()
		}
		if l.tls != nil {
			tc := tls.Server(c, l.tls)
			return &conn{Conn: tc, l: l, tls: tc}, nil
		}
		return &conn{Conn: c, l: l}, nil
	}
}

// conn is one data-plane connection.
type conn struct {
	net.Conn
	l      *connListener
	closed atomic.Bool
	tls    *tls.Conn // nil in clear
	// streams counts the client- and bidirectional-streaming calls open
	// on the connection (server.streams.max_per_connection).
	streams atomic.Int32

	mu    sync.Mutex // guards scan: Go's server reads from two goroutines
	scan  framing
	flags []bool // per HTTP/1 header block seen: did it carry both framings
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
		if c.l.metrics != nil {
			c.l.metrics.connOpen.Dec()
		}
	}
	return c.Conn.Close()
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.scan.feed(b[:n], &c.flags)
		c.mu.Unlock()
	}
	return n, err
}

// nextAmbiguous reports whether the next request read on the connection
// carried both Content-Length and Transfer-Encoding. Requests are handled
// in the order they were read, one at a time, on an HTTP/1 connection.
func (c *conn) nextAmbiguous() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.flags) == 0 {
		return false
	}
	f := c.flags[0]
	c.flags = c.flags[1:]
	return f
}

// goErrorHeaders is what Go's server writes after the status line of the
// errors it answers itself, before any handler runs.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *conn) Write(b []byte) (int, error) {
	if len(b) < 512 && bytes.HasPrefix(b, []byte("HTTP/1.1 ")) && bytes.Contains(b, []byte(goErrorHeaders)) {
		if out := jsonServerError(b); out != nil {
			if _, err := c.Conn.Write(out); err != nil {
				return 0, err
			}
			return len(b), nil
		}
	}
	return c.Conn.Write(b)
}

// jsonServerError turns one of Go's own plain-text error replies into the
// same reply with a JSON error body.
func jsonServerError(b []byte) []byte {
	status, err := strconv.Atoi(string(b[9:12]))
	if err != nil {
		return nil
	}
	head := string(b[9:bytes.Index(b, []byte(goErrorHeaders))])
	detail := ""
	if _, d, ok := strings.Cut(head, ": "); ok {
		detail = d
	}
	var e *generic.Error
	switch status {
	case http.StatusBadRequest:
		msg := "malformed HTTP request"
		if detail != "" {
			msg += ": " + detail
		}
		e = errorf(generic.CodeInvalidArgument, "%s", msg)
	case http.StatusRequestHeaderFieldsTooLarge:
		e = errorf(generic.CodeHeadersTooLarge, "request header section is larger than the %d bytes allowed", http.DefaultMaxHeaderBytes)
	case http.StatusNotImplemented:
		e = errorf(generic.CodeUnimplemented, "unsupported Transfer-Encoding: only a single \"chunked\" is accepted")
	case http.StatusHTTPVersionNotSupported:
		e = &generic.Error{Code: generic.CodeUnimplemented, Status: status, Message: "unsupported HTTP version: want HTTP/1.0, HTTP/1.1 or HTTP/2"}
	default:
		e = &generic.Error{Code: generic.CodeInvalidArgument, Status: status, Message: "malformed HTTP request"}
	}
	body := e.MarshalBody()
	out := make([]byte, 0, 160+len(body))
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(status)...)
	out = append(out, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\nConnection: close\r\n\r\n"...)
	return append(out, body...)
}

// framing follows HTTP/1 request framing on the bytes a connection reads:
// header blocks, then bodies by Content-Length or chunked coding. It only
// needs the header names and the framing values, so it keeps at most a
// short prefix of each line. When it meets something it does not follow
// (HTTP/2's preface, an upgrade, a framing value it cannot parse) it stops
// watching that connection; Go's own parser decides those.
type framing struct {
	state   int
	line    [64]byte
	lineLen int
	started bool // the request line of the current block was seen
	cl, te  bool
	clValue int64
	upgrade bool
	remain  int64
}

const (
	stHeaders = iota
	stBody
	stChunkSize
	stChunkData
	stTrailers
	stOff
)

func (f *framing) feed(b []byte, flags *[]bool) {
	for len(b) > 0 {
		switch f.state {
		case stOff:
			return
		case stBody, stChunkData:
			n := int64(len(b))
			if n > f.remain {
				n = f.remain
			}
			f.remain -= n
			b = b[n:]
			if f.remain == 0 {
				if f.state == stBody {
					f.state = stHeaders
				} else {
					f.state = stChunkSize
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			seg := b
			if i >= 0 {
				seg = b[:i]
			}
			if f.lineLen < len(f.line) {
				copy(f.line[f.lineLen:], seg)
			}
			f.lineLen += len(seg)
			if i < 0 {
				return
			}
			b = b[i+1:]
			n := min(f.lineLen, len(f.line))
			line := bytes.TrimSuffix(f.line[:n], []byte("\r"))
			full := f.lineLen <= len(f.line)
			f.lineLen = 0
			f.endLine(line, full, flags)
		}
	}
}

func (f *framing) endLine(line []byte, full bool, flags *[]bool) {
	switch f.state {
	case stHeaders:
		if !f.started {
			if len(line) == 0 {
				return // blank lines before a request line are ignored
			}
			if bytes.HasPrefix(line, []byte("PRI * HTTP/2")) {
				f.state = stOff
				return
			}
			f.started = true
			return
		}
		if len(line) > 0 {
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return
			}
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				f.cl = true
				v, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
				if err != nil || !full || v < 0 {
					f.state = stOff
					return
				}
				f.clValue = v
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				f.te = true
			case bytes.EqualFold(name, []byte("Upgrade")):
				f.upgrade = true
			}
			return
		}
		// End of the header block.
		*flags = append(*flags, f.cl && f.te)
		te, cl, upgrade := f.te, f.clValue, f.upgrade
		f.started, f.cl, f.te, f.clValue, f.upgrade = false, false, false, 0, false
		switch {
		case upgrade:
			f.state = stOff
		case te:
			f.state = stChunkSize
		case cl > 0:
			f.state, f.remain = stBody, cl
		}
	case stChunkSize:
		if len(line) == 0 {
			return // the CRLF after a chunk's data
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		v, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || !full || v < 0 {
			f.state = stOff
			return
		}
		if v == 0 {
			f.state = stTrailers
			return
		}
		f.state, f.remain = stChunkData, v
	case stTrailers:
		if len(line) == 0 {
			f.state = stHeaders
		}
	}
}

// connKey finds the data-plane connection of a request.
type connKey struct{}

func withConn(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, cc)
	}
	return ctx
}

// ambiguousFraming reports whether r came with both Content-Length and
// Transfer-Encoding (RFC 9112 §6.3: such a request must be refused and the
// connection closed).
func ambiguousFraming(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	c, _ := r.Context().Value(connKey{}).(*conn)
	return c != nil && c.nextAmbiguous()
}
