// Package wiretap is a test helper: a TCP proxy that counts the bytes
// clients send through it, to prove that nothing of a refused request
// reached a backend.
package wiretap

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// CountingProxy forwards connections to addr and counts the bytes clients
// send through it. It returns its own address and the count; everything
// closes when the test ends.
func CountingProxy(t testing.TB, addr string) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	var n atomic.Int64
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go func() { _, _ = io.Copy(out, countingReader{in, &n}) }()
			go func() { _, _ = io.Copy(in, out) }()
		}
	}()
	return l.Addr().String(), &n
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n.Add(int64(k))
	return k, err
}
