package grpc_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// feed yields msgs one by one, then io.EOF; after the messages it can
// instead block until ctx ends (a caller that goes quiet).
type feed struct {
	msgs  []string
	hang  bool
	calls int
	err   error // returned instead of io.EOF when set
}

func (f *feed) next(ctx context.Context) ([]byte, error) {
	f.calls++
	if len(f.msgs) > 0 {
		m := f.msgs[0]
		f.msgs = f.msgs[1:]
		return []byte(m), nil
	}
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return nil, io.EOF
}

// TestClientStreamingSendsEveryMessage: the request messages reach a real
// grpc-go client-streaming method in order, int64 ids exactly, and its
// one reply comes back as the body, over every schema source.
func TestClientStreamingSendsEveryMessage(t *testing.T) {
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			srv := startPeople(t, src.reflection)
			c := dial(t, src.opts, srv.Addr())
			f := &feed{msgs: []string{`{"id":1}`, `{"id":"9007199254740993"}`, `{"id":3}`}}
			res, err := c.Invoke(ctxT(t), &generic.Call{Method: "Count", NextMessage: f.next,
				Meta: map[string]string{"x-request-id": "cs-1"}})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got, want := string(res.Body), `{"count":"3","ids":["1","9007199254740993","3"],"requestId":"cs-1"}`; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
			if got := res.Meta["x-request-id"]; got != "cs-1" {
				t.Fatalf("got x-request-id %q, want cs-1", got)
			}
		})
	}
}

// TestClientStreamingErrors: a backend error mid-stream, a bad message
// (named by its number), a caller that goes away, and a streamed request
// to a method that takes one message.
func TestClientStreamingErrors(t *testing.T) {
	srv := startPeople(t, true)
	c := dial(t, sources()[0].opts, srv.Addr())

	// The backend refuses the second message while the caller would
	// still send more: its status ends the call, the caller is not
	// waited for.
	f := &feed{msgs: []string{`{"id":1}`, `{"id":0}`}, hang: true}
	_, err := c.Invoke(ctxT(t), &generic.Call{Method: "Count", NextMessage: f.next})
	e := generic.AsError(err)
	if e.Code != generic.CodeInvalidArgument || e.BackendCode != 3 || !strings.Contains(e.Message, "got 0 (message 2)") {
		t.Fatalf("backend error: got %v (code %s, backend code %d), want INVALID_ARGUMENT from the backend naming message 2", err, e.Code, e.BackendCode)
	}

	f = &feed{msgs: []string{`{"id":1}`, `{"id":"x"}`}}
	_, err = c.Invoke(ctxT(t), &generic.Call{Method: "Count", NextMessage: f.next})
	if e := generic.AsError(err); e.Code != generic.CodeInvalidArgument || !strings.HasPrefix(e.Message, "stream message 2: ") {
		t.Fatalf("bad message: got %v (code %s), want INVALID_ARGUMENT about stream message 2", err, e.Code)
	}

	gone := errors.New("connection reset")
	f = &feed{msgs: []string{`{"id":1}`}, err: &generic.Error{Code: generic.CodeCanceled, Message: "the caller went away", Err: gone}}
	_, err = c.Invoke(ctxT(t), &generic.Call{Method: "Count", NextMessage: f.next})
	if e := generic.AsError(err); e.Code != generic.CodeCanceled || !errors.Is(err, gone) {
		t.Fatalf("caller gone: got %v (code %s), want CANCELED wrapping the caller's error", err, e.Code)
	}

	f = &feed{msgs: []string{`{"id":1}`}}
	_, err = c.Invoke(ctxT(t), &generic.Call{Method: "Get", NextMessage: f.next})
	if e := generic.AsError(err); e.Code != generic.CodeInvalidArgument || !strings.Contains(e.Message, "takes one request message") {
		t.Fatalf("unary streamed: got %v, want INVALID_ARGUMENT saying Get takes one message", err)
	}
	if f.calls != 0 {
		t.Fatalf("unary streamed: the adapter read %d messages, want 0", f.calls)
	}

	// A caller that goes quiet is bounded by the call's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	f = &feed{msgs: []string{`{"id":1}`}, hang: true}
	_, err = c.Invoke(ctx, &generic.Call{Method: "Count", NextMessage: f.next})
	if e := generic.AsError(err); e.Code != generic.CodeDeadlineExceeded {
		t.Fatalf("quiet caller: got %v (code %s), want DEADLINE_EXCEEDED", err, e.Code)
	}
}

// TestBidiStreamingEchoesAsMessagesArrive: each message is answered before
// the next is sent (the feed waits for the echo), and ABORTED mid-stream
// ends the call with the backend's status after the messages before it.
func TestBidiStreamingEchoesAsMessagesArrive(t *testing.T) {
	srv := startPeople(t, true)
	c := dial(t, sources()[0].opts, srv.Addr())
	got := make(chan string, 4)
	sent := 0
	msgs := []string{`{"id":"1","name":"Ada"}`, `{"id":"9007199254740993","name":"Alan"}`}
	next := func(ctx context.Context) ([]byte, error) {
		if sent > 0 {
			// The previous message must be echoed before the next is sent.
			select {
			case <-got:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if sent == len(msgs) {
			return nil, io.EOF
		}
		sent++
		return []byte(msgs[sent-1]), nil
	}
	var replies []string
	res, err := c.Invoke(ctxT(t), &generic.Call{Method: "Chat", NextMessage: next,
		Meta: map[string]string{"x-request-id": "bidi-1"},
		OnMessage: func(m []byte) error {
			replies = append(replies, string(m))
			got <- string(m)
			return nil
		}})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if !res.Streamed {
		t.Fatalf("got Streamed false, want true")
	}
	want := []string{`{"id":"1","name":"Ada","requestId":"bidi-1"}`, `{"id":"9007199254740993","name":"Alan","requestId":"bidi-1"}`}
	if strings.Join(replies, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got replies\n%s\nwant\n%s", strings.Join(replies, "\n"), strings.Join(want, "\n"))
	}

	f := &feed{msgs: []string{`{"id":1,"name":"Ada"}`, `{"id":2,"name":"abort"}`}, hang: true}
	var n int
	_, err = c.Invoke(ctxT(t), &generic.Call{Method: "Chat", NextMessage: f.next,
		OnMessage: func([]byte) error { n++; return nil }})
	if e := generic.AsError(err); e.Code != generic.CodeAborted || e.BackendCode != 10 || n != 1 {
		t.Fatalf("abort: got %v (code %s, backend code %d) after %d messages, want ABORTED (10) after 1", err, e.Code, e.BackendCode, n)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
