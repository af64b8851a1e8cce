//go:build linux || darwin || freebsd || netbsd || openbsd

package thrift

import (
	"errors"
	"net"
	"syscall"
)

// peeker looks at an idle socket without blocking. It is built once per
// connection so that the check allocates nothing.
type peeker struct {
	rc     syscall.RawConn
	fn     func(fd uintptr) bool
	closed bool
	b      [1]byte
}

// newPeeker makes nc's peeker. Over TLS it looks at the TCP socket under
// the TLS connection: an idle connection's socket has nothing to read
// either (the backend's session tickets came before its first reply, and
// were read with it), and a backend that closes it sends its close_notify
// alert or EOF there.
func newPeeker(nc net.Conn) *peeker {
	for {
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		nc = u.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &peeker{rc: rc}
	p.fn = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, the connection is idle and open. Data
		// (unsolicited), EOF (n == 0, no error) or any other error: unusable.
		p.closed = !(errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR))
		return true
	}
	return p
}

// peerClosed reports whether the peer closed the connection or sent bytes
// nobody asked for.
func (p *peeker) peerClosed() bool {
	if p == nil {
		return false
	}
	if err := p.rc.Read(p.fn); err != nil {
		return true
	}
	return p.closed
}
