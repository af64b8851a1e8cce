package stock

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/TarsCloud/TarsGo/tars/protocol"
	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/basef"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"
	"github.com/TarsCloud/TarsGo/tars/transport"
	"github.com/TarsCloud/TarsGo/tars/util/grace"
	"github.com/TarsCloud/TarsGo/tars/util/rogger"
)

// Dispatcher handles one decoded request, as a tars2go-generated dispatch
// function would: it reads tarsReq.SBuffer (Tars protocol or TUP, by
// tarsReq.IVersion) and fills tarsResp.SBuffer. A returned *Error sets the
// reply's iRet; any other error gives iRet -99.
type Dispatcher interface {
	Dispatch(ctx context.Context, tarsReq *requestf.RequestPacket, tarsResp *requestf.ResponsePacket) error
}

// Error is a framework error returned by a Dispatcher.
type Error struct {
	Code int32
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("tars error %d: %s", e.Code, e.Msg) }

// Server is a running Tars servant.
type Server struct {
	ts   *transport.TarsServer
	addr string
	done chan struct{}
}

// Addr is the address the servant listens on (host:port).
func (s *Server) Addr() string { return s.addr }

// Stop stops accepting connections and closes the open ones.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = s.ts.Shutdown(ctx)
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
}

// Serve starts a servant on addr (port 0 picks a free port) with TarsGo's
// TCP transport server, dispatching every request to d.
//
// TarsGo's server takes a listen address, not a listener, so a port-0
// address is first bound here and handed to TarsGo through its
// inherited-listener mechanism (package grace), so that Addr is exact.
// TarsGo's transport logs through its process-wide logger, which logs
// every connection at DEBUG level to stdout; Serve turns it off.
func Serve(addr string, d Dispatcher) (*Server, error) {
	rogger.SetLevel(rogger.OFF)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	actual := ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	_ = ln.Close()
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Dup(int(f.Fd()))
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s_%s_%s", grace.InheritFdPrefix, "tcp", actual)
	_ = os.Setenv(key, strconv.Itoa(fd))
	defer os.Unsetenv(key)

	ts := transport.NewTarsServer(&serverProtocol{d: d}, &transport.TarsServerConf{
		Proto:         "tcp",
		Address:       actual,
		MaxInvoke:     0, // one goroutine per request
		AcceptTimeout: 500 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  5 * time.Second,
		IdleTimeout:   10 * time.Minute,
		TCPNoDelay:    true,
	})
	if err := ts.Listen(); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	s := &Server{ts: ts, addr: actual, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = ts.Serve()
	}()
	return s, nil
}

// serverProtocol is a transport.ServerProtocol: it decodes the request
// packet, calls the Dispatcher, and encodes the reply (a ResponsePacket,
// or for TUP a RequestPacket carrying the status map).
type serverProtocol struct {
	d Dispatcher
}

func (s *serverProtocol) Invoke(ctx context.Context, pkg []byte) []byte {
	req := requestf.RequestPacket{}
	resp := requestf.ResponsePacket{}
	if err := req.ReadFrom(codec.NewReader(pkg[4:])); err != nil {
		resp.IRet = basef.TARSSERVERDECODEERR
		resp.SResultDesc = "cannot decode request packet: " + err.Error()
		return encodeResponse(&resp)
	}
	resp.IVersion, resp.IRequestId, resp.CPacketType = req.IVersion, req.IRequestId, req.CPacketType
	if req.ITimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.ITimeout)*time.Millisecond)
		defer cancel()
	}
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("dispatch panicked: %v", r)
			}
		}()
		return s.d.Dispatch(ctx, &req, &resp)
	}()
	if err != nil {
		resp.IRet = basef.TARSSERVERUNKNOWNERR
		resp.SResultDesc = err.Error()
		if te, ok := err.(*Error); ok {
			resp.IRet, resp.SResultDesc = te.Code, te.Msg
		}
		resp.SBuffer = nil
	}
	if req.IVersion == basef.TUPVERSION {
		// TUP replies are RequestPackets; errors travel in the status map.
		out := requestf.RequestPacket{
			IVersion: req.IVersion, CPacketType: req.CPacketType, IRequestId: req.IRequestId,
			SServantName: req.SServantName, SFuncName: req.SFuncName, SBuffer: resp.SBuffer,
			Context: resp.Context, Status: map[string]string{},
		}
		if resp.IRet != 0 {
			out.Status["STATUS_RESULT_CODE"] = strconv.Itoa(int(resp.IRet))
			out.Status["STATUS_RESULT_DESC"] = resp.SResultDesc
		}
		b := codec.NewBuffer()
		_ = out.WriteTo(b)
		return frame(b.ToBytes())
	}
	return encodeResponse(&resp)
}

func encodeResponse(resp *requestf.ResponsePacket) []byte {
	b := codec.NewBuffer()
	_ = resp.WriteTo(b)
	return frame(b.ToBytes())
}

func frame(body []byte) []byte {
	var out bytes.Buffer
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(body)+4))
	out.Write(l[:])
	out.Write(body)
	return out.Bytes()
}

func (s *serverProtocol) ParsePackage(buff []byte) (int, int) { return protocol.TarsRequest(buff) }

func (s *serverProtocol) InvokeTimeout(pkg []byte) []byte {
	req := requestf.RequestPacket{}
	_ = req.ReadFrom(codec.NewReader(pkg[4:]))
	return encodeResponse(&requestf.ResponsePacket{IVersion: req.IVersion, IRequestId: req.IRequestId,
		IRet: basef.TARSSERVERQUEUETIMEOUT, SResultDesc: "server invoke timeout"})
}

func (s *serverProtocol) GetCloseMsg() []byte {
	return encodeResponse(&requestf.ResponsePacket{IVersion: basef.TARSVERSION, SResultDesc: "_reconnect_"})
}

func (s *serverProtocol) DoClose(ctx context.Context) {}
