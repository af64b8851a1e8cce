package static_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/static"
)

func TestWatchReturnsSetAndWakesOnSet(t *testing.T) {
	d := static.New(map[string][]*registry.Instance{
		"people": {{Address: "127.0.0.1:2", Online: true}, {Address: "127.0.0.1:1", Online: true}},
	})
	w, err := d.Watch(context.Background(), "people")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := w.Next(ctx)
	if err != nil || len(got) != 2 || got[0].Address != "127.0.0.1:1" || got[0].Service != "people" {
		t.Fatalf("first Next: got %v, %v want 2 instances sorted, service people", got, err)
	}
	done := make(chan []*registry.Instance, 1)
	go func() {
		ins, err := w.Next(ctx)
		if err != nil {
			t.Errorf("Next: %v", err)
		}
		done <- ins
	}()
	d.Set("people", []*registry.Instance{{Address: "127.0.0.1:3", Online: true}})
	select {
	case ins := <-done:
		if len(ins) != 1 || ins[0].Address != "127.0.0.1:3" {
			t.Fatalf("after Set: got %v want [127.0.0.1:3]", ins)
		}
	case <-ctx.Done():
		t.Fatalf("Next did not wake on Set")
	}
	// Nothing changed: Next blocks until ctx is done.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := w.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with no change: got %v want deadline exceeded", err)
	}
	_ = w.Stop()
	if _, err := w.Next(context.Background()); !errors.Is(err, registry.ErrWatcherStopped) {
		t.Fatalf("Next after Stop: got %v want ErrWatcherStopped", err)
	}
}

func TestUnknownServiceIsEmptyUntilSet(t *testing.T) {
	d := static.New(nil)
	w, err := d.Watch(context.Background(), "later")
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Stop()
	got, err := w.Next(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("first Next: got %v, %v want empty", got, err)
	}
	d.Set("later", []*registry.Instance{{Address: "a:1"}})
	got, err = w.Next(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("after Set: got %v, %v want one instance", got, err)
	}
	if names := d.Services(); len(names) != 1 || names[0] != "later" {
		t.Fatalf("Services: got %v want [later]", names)
	}
	if _, err := d.Watch(context.Background(), ""); err == nil {
		t.Fatalf("Watch(\"\"): got nil error")
	}
}
