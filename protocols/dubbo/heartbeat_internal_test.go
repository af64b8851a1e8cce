package dubbo

import (
	"bufio"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// A connection answers the provider's heartbeat, sends its own, and
// closes itself when the provider stops answering.
func TestHeartbeatsAreAnsweredAndSent(t *testing.T) {
	ours, theirs := net.Pipe()
	defer theirs.Close()
	const interval = 20 * time.Millisecond
	c := newDconn(ours, interval)
	defer c.fail(nil)
	_ = theirs.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(theirs)

	// The provider's heartbeat is answered with a heartbeat reply of the
	// same id.
	if _, err := theirs.Write(eventFrame(nil, 77, true)); err != nil {
		t.Fatal(err)
	}
	sawReply, sawRequest := false, false
	for !sawReply || !sawRequest {
		f, err := readFrame(r)
		if err != nil {
			t.Fatalf("got %v, want frames from the connection", err)
		}
		id := int64(binary.BigEndian.Uint64(f[4:12]))
		switch {
		case f[2] == flagEvent|serialHessian2 && f[3] == statusOK && id == 77:
			sawReply = true
		case f[2] == flagRequest|flagTwoWay|flagEvent|serialHessian2:
			sawRequest = true // and left unanswered
		default:
			t.Fatalf("got frame % x, want a heartbeat or the reply to ours", f[:16])
		}
	}
	// Nothing comes from the provider any more: the connection gives up
	// after three intervals.
	go func() {
		for {
			if _, err := readFrame(r); err != nil {
				return
			}
		}
	}()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("got a live connection after 5s of silence, want it closed after three heartbeat intervals")
	}
	if err := c.failure(); err == nil {
		t.Error("got no failure, want the heartbeat timeout")
	}
}
