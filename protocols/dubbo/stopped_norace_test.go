//go:build !race

// dubbo-getty v1.4.10 reads a session's timeouts without synchronisation
// when the session closes (session.go:857) while a call's write stores
// them atomically (session.go:408): a provider dying under a live client
// is a data race inside the library. This test is therefore built only
// without -race; `make test` runs it in a second, race-free pass.

package dubbo_test

import (
	"context"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

func TestStoppedProviderIsUnavailableQuickly(t *testing.T) {
	ch := testprovider.StartChild(t, "dubbo", true)
	// Dial connects. (No call before the stop: dubbo-getty v1.4.10 reads
	// a connection's timeouts without synchronisation when the
	// connection closes, which -race reports after a write on it.)
	c := dial(t, newProtocol(t, nil), ch.Addr)
	ch.Kill()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := c.Invoke(ctx, &generic.Call{Method: "who"})
		cancel()
		took := time.Since(start)
		ge := generic.AsError(err)
		if err == nil || ge.Code != generic.CodeUnavailable || ge.HTTPStatus() != 503 {
			t.Errorf("call %d after stop: got %v, want UNAVAILABLE (503)", i, err)
		}
		if took > 2*time.Second {
			t.Errorf("call %d after stop took %v, want under 2s", i, took)
		}
	}
}
