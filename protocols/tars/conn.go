package tars

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// conn is one TCP connection carrying many requests at once. Requests are
// written under a lock; one reader goroutine routes replies by request id.
// When the connection breaks, every pending request fails with UNAVAILABLE
// (BACKEND_ERROR when TLS failed) and the client dials a new one on the
// next call.
type conn struct {
	nc      net.Conn
	version int
	log     *slog.Logger

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	pending map[int32]chan []byte
	err     error         // set once, when the connection breaks
	done    chan struct{} // closed when err is set
}

// dial connects to addr, over TLS with cfg when it is not nil (the
// handshake within timeout too).
func dial(ctx context.Context, addr string, timeout time.Duration, cfg *tls.Config, version int, log *slog.Logger) (*conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := backendtls.Dial(ctx, &d, "tcp", addr, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, generic.AsError(ctx.Err())
		}
		if e := tlsError(err); e != nil {
			return nil, e
		}
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "tars backend is unreachable", Err: err}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &conn{nc: nc, version: version, log: log, pending: map[int32]chan []byte{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *conn) broken() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// fail marks the connection broken, closes it and wakes every waiter.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	c.mu.Unlock()
	_ = c.nc.Close()
}

// failure is the error that broke the connection, nil while it works.
func (c *conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *conn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 32<<10)
	var lenBuf [4]byte
	for {
		frame, err := readFrame(r, lenBuf[:])
		if err != nil {
			c.log.Debug("tars connection closed", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.fail(err)
			return
		}
		id, err := frameID(frame, c.version)
		if err != nil {
			c.log.Warn("tars reply without request id", "remote", c.nc.RemoteAddr().String(), "err", err)
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- frame // buffered: never blocks
		}
	}
}

// roundTrip sends one request frame and waits for its reply, ctx's
// deadline, or the connection breaking.
func (c *conn) roundTrip(ctx context.Context, id int32, frame []byte) ([]byte, error) {
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		if e := tlsError(c.err); e != nil {
			return nil, e
		}
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "tars connection is broken", Err: c.err}
	}
	c.pending[id] = ch
	c.mu.Unlock()

	if err := c.write(ctx, frame); err != nil {
		c.forget(id)
		return nil, err
	}

	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		c.forget(id)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &generic.Error{Code: generic.CodeDeadlineExceeded, Message: "tars call timed out", Err: ctx.Err()}
		}
		return nil, generic.AsError(ctx.Err())
	case <-c.done:
		select {
		case reply := <-ch:
			return reply, nil
		default:
		}
		c.forget(id)
		if e := tlsError(c.err); e != nil {
			return nil, e
		}
		return nil, &generic.Error{Code: generic.CodeUnavailable, Message: "tars connection broke during the call", Err: c.err}
	}
}

// send sends a one-way request frame: nothing is awaited.
func (c *conn) send(ctx context.Context, frame []byte) error {
	if err := c.failure(); err != nil {
		if e := tlsError(err); e != nil {
			return e
		}
		return &generic.Error{Code: generic.CodeUnavailable, Message: "tars connection is broken", Err: err}
	}
	return c.write(ctx, frame)
}

// write writes one whole frame, bounded by ctx's deadline.
func (c *conn) write(ctx context.Context, frame []byte) error {
	c.wmu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetWriteDeadline(dl)
	} else {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	_, err := c.nc.Write(frame)
	c.wmu.Unlock()
	if err == nil {
		return nil
	}
	// A partial write leaves the stream unusable.
	c.fail(err)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && ctx.Err() != nil {
		return generic.AsError(ctx.Err())
	}
	// The reader may have failed the connection first, with the reason
	// (a TLS alert) the write only sees as a closed connection.
	if e := tlsError(c.failure()); e != nil {
		return e
	}
	return &generic.Error{Code: generic.CodeUnavailable, Message: "sending to tars backend failed", Err: err}
}

// tlsError is the BACKEND_ERROR for err when it is a TLS failure (the
// backend's certificate, or the gateway's, was refused; the backend does
// not speak TLS), else nil.
func tlsError(err error) *generic.Error {
	reason, ok := backendtls.Reason(err)
	if !ok {
		return nil
	}
	return &generic.Error{Code: generic.CodeBackendError, Message: backendtls.Message(reason), Err: err}
}

func (c *conn) forget(id int32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}
