package thrift

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"

	"github.com/apache/thrift/lib/go/thrift"
)

// connTransport is the TTransport under one pooled connection. Writes
// collect the whole message in memory and go out in one write on Flush
// (with the frame header when framed), so a request that fails to encode
// never reaches the socket. Reads come through a bufio.Reader and, when
// framed, stop at frame boundaries.
type connTransport struct {
	nc        net.Conn
	br        *bufio.Reader
	framed    bool
	maxFrame  int
	wbuf      []byte
	frameLeft int // bytes left in the current read frame
	hdr       [4]byte
	peek      *peeker
}

func newConnTransport(nc net.Conn, framed bool, maxFrame int) *connTransport {
	t := &connTransport{nc: nc, br: bufio.NewReaderSize(nc, 4096), framed: framed, maxFrame: maxFrame, peek: newPeeker(nc)}
	t.resetWrite()
	return t
}

func (t *connTransport) resetWrite() {
	if cap(t.wbuf) > 1<<20 {
		t.wbuf = nil // do not pin a huge buffer after one big request
	}
	if t.framed {
		t.wbuf = append(t.wbuf[:0], 0, 0, 0, 0)
	} else {
		t.wbuf = t.wbuf[:0]
	}
}

func (t *connTransport) Write(p []byte) (int, error) {
	t.wbuf = append(t.wbuf, p...)
	return len(p), nil
}

func (t *connTransport) WriteByte(c byte) error {
	t.wbuf = append(t.wbuf, c)
	return nil
}

func (t *connTransport) WriteString(s string) (int, error) {
	t.wbuf = append(t.wbuf, s...)
	return len(s), nil
}

var errFrameTooLarge = errors.New("request frame too large")

// Flush sends the buffered message.
func (t *connTransport) Flush(context.Context) error {
	defer t.resetWrite()
	if t.framed {
		n := len(t.wbuf) - 4
		if n > t.maxFrame {
			return errFrameTooLarge
		}
		binary.BigEndian.PutUint32(t.wbuf, uint32(n))
	}
	_, err := t.nc.Write(t.wbuf)
	return err
}

func (t *connTransport) nextFrame() error {
	if _, err := io.ReadFull(t.br, t.hdr[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(t.hdr[:]))
	if n <= 0 || n > t.maxFrame {
		return thrift.NewTTransportException(thrift.UNKNOWN_TRANSPORT_EXCEPTION, "bad reply frame size")
	}
	t.frameLeft = n
	return nil
}

func (t *connTransport) Read(p []byte) (int, error) {
	if !t.framed {
		return t.br.Read(p)
	}
	if t.frameLeft == 0 {
		if err := t.nextFrame(); err != nil {
			return 0, err
		}
	}
	if len(p) > t.frameLeft {
		p = p[:t.frameLeft]
	}
	n, err := t.br.Read(p)
	t.frameLeft -= n
	return n, err
}

func (t *connTransport) ReadByte() (byte, error) {
	if !t.framed {
		return t.br.ReadByte()
	}
	if t.frameLeft == 0 {
		if err := t.nextFrame(); err != nil {
			return 0, err
		}
	}
	c, err := t.br.ReadByte()
	if err == nil {
		t.frameLeft--
	}
	return c, err
}

var errNotTHeader = errors.New("reply is not a THeader frame")

// expectHeaderFrame checks, before the THeaderTransport reads a reply, that
// the reply is a THeader frame (a frame size, then the THeader magic). The
// library's transport would also accept a framed or unframed binary or
// compact reply, and then write the next requests that way, without
// headers.
func (t *connTransport) expectHeaderFrame() error {
	b, err := t.br.Peek(6)
	if err != nil {
		return err
	}
	if binary.BigEndian.Uint16(b[4:]) != uint16(thrift.THeaderHeaderMagic>>16) {
		return errNotTHeader
	}
	return nil
}

// endReply drops what is left of the reply frame.
func (t *connTransport) endReply() error {
	if t.framed && t.frameLeft > 0 {
		_, err := t.br.Discard(t.frameLeft)
		t.frameLeft = 0
		return err
	}
	return nil
}

func (t *connTransport) RemainingBytes() uint64 {
	if t.framed && t.frameLeft > 0 {
		return uint64(t.frameLeft)
	}
	return thrift.UnknownRemainingBytes
}

func (t *connTransport) Open() error  { return nil }
func (t *connTransport) IsOpen() bool { return true }
func (t *connTransport) Close() error { return t.nc.Close() }

// idleAlive checks a pooled connection before reuse: a Thrift server never
// speaks first, so buffered bytes, readable data or EOF mean the peer closed
// it or the stream is out of step.
func (t *connTransport) idleAlive() bool {
	if t.br.Buffered() > 0 || (t.framed && t.frameLeft > 0) {
		return false
	}
	return !t.peek.peerClosed()
}

var (
	_ thrift.TTransport     = (*connTransport)(nil)
	_ thrift.TRichTransport = (*connTransport)(nil)
)
