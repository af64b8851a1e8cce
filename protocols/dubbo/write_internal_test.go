package dubbo

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// testFrame is a request frame whose body is the request id's 8 bytes.
func testFrame(id int64) []byte {
	f := []byte{frameMagicHi, frameMagicLo, flagRequest | flagTwoWay | serialHessian2, 0}
	f = binary.BigEndian.AppendUint64(f, uint64(id))
	f = binary.BigEndian.AppendUint32(f, 8)
	return binary.BigEndian.AppendUint64(f, uint64(id))
}

// Concurrent requests on one connection, written in batches, reach the
// provider whole and in one piece each, and each caller gets the reply
// to its own request, whatever the order of the replies.
func TestConcurrentRequestsAreWrittenWholeAndMatched(t *testing.T) {
	ours, theirs := net.Pipe()
	defer theirs.Close()
	c := newDconn(ours, time.Hour)
	defer c.fail(errors.New("test over"))
	const n = 64
	// The provider reads all the requests, then answers them last first.
	go func() {
		r := bufio.NewReader(theirs)
		var ids []int64
		for len(ids) < n {
			f, err := readFrame(r)
			if err != nil {
				return
			}
			id := int64(binary.BigEndian.Uint64(f[4:12]))
			if int64(binary.BigEndian.Uint64(f[frameHeaderLen:])) != id {
				t.Errorf("request %d carries body % x", id, f[frameHeaderLen:])
			}
			ids = append(ids, id)
		}
		for i := len(ids) - 1; i >= 0; i-- {
			reply := []byte{frameMagicHi, frameMagicLo, serialHessian2, statusOK}
			reply = binary.BigEndian.AppendUint64(reply, uint64(ids[i]))
			reply = binary.BigEndian.AppendUint32(reply, 8)
			reply = binary.BigEndian.AppendUint64(reply, uint64(ids[i]))
			if _, err := theirs.Write(reply); err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			id := c.nextID.Add(1)
			reply, err := c.roundTrip(ctx, id, testFrame(id), 5*time.Second)
			if err != nil {
				t.Errorf("request %d: %v", id, err)
				return
			}
			if got := int64(binary.BigEndian.Uint64(reply[frameHeaderLen:])); got != id {
				t.Errorf("request %d got the reply to %d", id, got)
			}
		}()
	}
	wg.Wait()
}

// A provider that stops reading leaves the write blocked: the write
// gives up by the deadline of its requests (and a little), failing the
// connection and so every request on it, and the connection is not
// used again.
func TestBlockedWriteFailsTheConnection(t *testing.T) {
	ours, theirs := net.Pipe() // a write blocks until it is read: none is
	defer theirs.Close()
	c := newDconn(ours, time.Hour)
	defer c.fail(errors.New("test over"))
	const timeout = 200 * time.Millisecond
	errs := make(chan error, 3)
	start := time.Now()
	for range 3 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			id := c.nextID.Add(1)
			_, err := c.roundTrip(ctx, id, testFrame(id), timeout)
			errs <- err
		}()
	}
	for range 3 {
		err := <-errs
		if err == nil {
			t.Error("got a reply, want DEADLINE_EXCEEDED or UNAVAILABLE")
		} else if code := generic.AsError(err).Code; code != generic.CodeDeadlineExceeded && code != generic.CodeUnavailable {
			t.Errorf("got %v, want DEADLINE_EXCEEDED or UNAVAILABLE", err)
		}
	}
	if took := time.Since(start); took > timeout+deadlineSlack+time.Second {
		t.Errorf("the calls took %v, want about %v", took, timeout+deadlineSlack)
	}
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		t.Fatal("the connection is still up after its write was blocked past the deadline")
	}
}
