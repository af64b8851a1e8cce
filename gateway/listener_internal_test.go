package gateway

import (
	"fmt"
	"testing"
)

// The framing follower must find every header block whatever the read
// sizes, and flag exactly the ones with both framings.
func TestFramingFollowsPipelinedRequestsInAnyReadSizes(t *testing.T) {
	stream := "\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n" +
		"POST /c HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: x\r\nX-Long: " + fmt.Sprintf("%0200d", 0) + "\r\n\r\n"
	want := "[false false true false]"
	for _, size := range []int{1, 2, 3, 7, 64, len(stream)} {
		var f framing
		var flags []bool
		for i := 0; i < len(stream); i += size {
			f.feed([]byte(stream[i:min(i+size, len(stream))]), &flags)
		}
		if got := fmt.Sprint(flags); got != want {
			t.Errorf("reads of %d bytes: got %s, want %s", size, got, want)
		}
		if f.state != stHeaders {
			t.Errorf("reads of %d bytes: got state %d at the end, want %d (between requests)", size, f.state, stHeaders)
		}
	}
}

func TestFramingStopsAtHTTP2Preface(t *testing.T) {
	var f framing
	var flags []bool
	f.feed([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), &flags)
	if f.state != stOff || len(flags) != 0 {
		t.Fatalf("got state %d flags %v, want stOff and none", f.state, flags)
	}
}
