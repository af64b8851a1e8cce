//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package thrift

import "net"

// peerClosed cannot peek without blocking on this platform; a closed
// connection is found by the call that uses it.
func peerClosed(net.Conn) bool { return false }
