package thrift

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// conn is one pooled connection with its protocol stack and the reusable
// encoder and decoder. A conn serves one call at a time.
type conn struct {
	trans    *connTransport
	proto    thrift.TProtocol
	enc      encoder
	dec      decoder
	seq      int32
	used     time.Time
	deadline bool // a socket deadline is set and must be cleared

	// hdr is the THeaderTransport between proto and trans when the
	// transport is header, else nil.
	hdr *thrift.THeaderTransport
	// hdrSet reports that hdr holds write headers of the last call.
	hdrSet bool
	// headerSeen reports that a THeader reply came on this connection.
	headerSeen bool
}

// setHeaders prepares the THeader frame of the next message: its sequence
// id and, as its headers, meta (only meta: the last call's are cleared).
func (c *conn) setHeaders(meta map[string]string) {
	if c.hdr == nil {
		return
	}
	c.hdr.SequenceID = c.seq
	if c.hdrSet {
		c.hdr.ClearWriteHeaders()
	}
	for k, v := range meta {
		c.hdr.SetWriteHeader(k, v)
	}
	c.hdrSet = len(meta) > 0
}

// pool bounds the connections to one instance. A call holds a slot of sem
// from get to put; a new connection is dialed only when no idle one is
// left, so open connections never exceed PoolSize.
type pool struct {
	addr string
	tls  *tls.Config // nil: in clear
	opts *Options
	// newStack builds a new connection's protocol stack.
	newStack func(*conn)

	sem  chan struct{}
	mu   sync.Mutex
	idle []*conn // most recently used last
	done chan struct{}
	wg   sync.WaitGroup
}

func newPool(addr string, o *Options, newStack func(*conn)) *pool {
	p := &pool{addr: addr, tls: backendtls.ForAddress(o.TLS, addr), opts: o, newStack: newStack, sem: make(chan struct{}, o.PoolSize), done: make(chan struct{})}
	p.wg.Add(1)
	go p.janitor()
	return p
}

var errClosed = errors.New("client closed")

// get returns a connection for one call: an idle one (checked first if it
// sat idle for a while) or a new one.
func (p *pool) get(ctx context.Context) (*conn, error) {
	select {
	case p.sem <- struct{}{}:
	default:
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.done:
			return nil, errClosed
		}
	}
	now := time.Now()
	for {
		p.mu.Lock()
		select {
		case <-p.done:
			p.mu.Unlock()
			<-p.sem
			return nil, errClosed
		default:
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(c.used) > p.opts.IdleTimeout || !c.trans.idleAlive() {
			c.trans.Close()
			continue
		}
		return c, nil
	}
	c, err := p.dial(ctx)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

func (p *pool) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: p.opts.DialTimeout}
	// With TLS the handshake is done here too, within the dial timeout.
	nc, err := backendtls.Dial(ctx, &d, "tcp", p.addr, p.tls)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	// Under THeader the connTransport is unframed: the THeaderTransport
	// above it writes and reads the frames.
	c := &conn{trans: newConnTransport(nc, p.opts.Transport == "framed", p.opts.maxFrame)}
	p.newStack(c)
	if p.opts.Logger != nil {
		p.opts.Logger.Debug("thrift connection opened", "addr", p.addr)
	}
	return c, nil
}

// put ends a call. A connection that saw an error is closed, never reused.
func (p *pool) put(c *conn, healthy bool) {
	defer func() { <-p.sem }()
	if !healthy {
		c.trans.Close()
		return
	}
	c.used = time.Now()
	c.enc.ctx, c.dec.ctx = nil, nil
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		c.trans.Close()
		return
	default:
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// janitor closes connections idle longer than IdleTimeout.
func (p *pool) janitor() {
	defer p.wg.Done()
	every := p.opts.IdleTimeout / 2
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			var old []*conn
			p.mu.Lock()
			keep := p.idle[:0]
			for _, c := range p.idle {
				if now.Sub(c.used) > p.opts.IdleTimeout {
					old = append(old, c)
				} else {
					keep = append(keep, c)
				}
			}
			for i := len(keep); i < len(p.idle); i++ {
				p.idle[i] = nil
			}
			p.idle = keep
			p.mu.Unlock()
			for _, c := range old {
				c.trans.Close()
			}
		}
	}
}

func (p *pool) close() {
	p.mu.Lock()
	select {
	case <-p.done:
		p.mu.Unlock()
		return
	default:
	}
	close(p.done)
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.trans.Close()
	}
	p.wg.Wait()
}
