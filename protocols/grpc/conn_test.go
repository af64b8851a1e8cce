package grpc_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/generic"
)

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func TestOneConnectionReusedAcrossCalls(t *testing.T) {
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			lis := &countingListener{Listener: inner}
			srv := people.Serve(lis, src.reflection)
			t.Cleanup(srv.Stop)
			c := dial(t, src.opts, srv.Addr())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for i := 0; i < 30; i++ {
				if _, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)}); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got := lis.n.Load(); got != 1 {
				t.Fatalf("got %d connections for 30 calls, want 1", got)
			}
		})
	}
}

func TestStreamReceiverErrorStopsTheStream(t *testing.T) {
	srv := startPeople(t, true)
	c := reflectionClient(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	stop := errors.New("client went away")
	_, err := c.Invoke(ctx, &generic.Call{Method: "List", Body: []byte(`{}`), OnMessage: func([]byte) error {
		n++
		return stop
	}})
	if n != 1 {
		t.Fatalf("got %d messages delivered, want 1 (stream stopped)", n)
	}
	ge := generic.AsError(err)
	if ge.Code != generic.CodeCanceled || !errors.Is(err, stop) {
		t.Fatalf("got %v, want CANCELLED wrapping the receiver's error", err)
	}
}
