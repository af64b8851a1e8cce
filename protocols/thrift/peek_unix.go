//go:build linux || darwin || freebsd || netbsd || openbsd

package thrift

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed peeks at the socket without blocking: data or EOF on an idle
// connection means it cannot be reused.
func peerClosed(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK) || errors.Is(rerr, syscall.EINTR):
			// Nothing to read: the connection is idle and open.
		default:
			// n > 0: unsolicited bytes; n == 0: EOF; other errors: broken.
			closed = true
		}
		_ = n
		return true
	})
	return closed || err != nil
}
