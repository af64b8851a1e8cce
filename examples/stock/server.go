package stock

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/TarsCloud/TarsGo/tars/protocol"
	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/basef"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"
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
	ln    net.Listener
	proto *serverProtocol
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Addr is the address the servant listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop closes the listener and every open connection, and waits for the
// connection goroutines to end.
func (s *Server) Stop() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Serve starts a servant on addr (port 0 picks a free port), dispatching
// every request to d.
//
// Packets are framed with TarsGo's protocol.TarsRequest and decoded and
// encoded with TarsGo's requestf, codec and tup packages; each request runs
// in its own goroutine and replies are written under a per-connection lock,
// as TarsGo's server does. TarsGo's own TCP server (transport.TarsServer)
// is not used because it has data races that `go test -race` reports
// (transport/tcphandler.go reads gtime.CurrUnixTime and connInfo.numInvoke
// without synchronisation) and it never closes its listener on Shutdown.
func Serve(addr string, d Dispatcher) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, proto: &serverProtocol{d: d}, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	var wmu sync.Mutex
	var reqs sync.WaitGroup
	defer func() {
		cancel()
		_ = c.Close()
		reqs.Wait()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 32<<10)
	for {
		n, err := c.Read(chunk)
		if err != nil {
			return
		}
		buf = append(buf, chunk[:n]...)
		for {
			size, status := s.proto.ParsePackage(buf)
			if status == protocol.PackageLess {
				break
			}
			if status == protocol.PackageError {
				return
			}
			pkg := append([]byte(nil), buf[:size]...)
			buf = append(buf[:0], buf[size:]...)
			reqs.Add(1)
			go func() {
				defer reqs.Done()
				rsp := s.proto.Invoke(ctx, pkg)
				if rsp == nil {
					return
				}
				wmu.Lock()
				_, _ = c.Write(rsp)
				wmu.Unlock()
			}()
		}
	}
}

// serverProtocol has the shape of TarsGo's transport.ServerProtocol: it decodes the request
// packet, calls the Dispatcher, and encodes the reply (a ResponsePacket,
// or for TUP a RequestPacket carrying the status map).
type serverProtocol struct {
	d Dispatcher
}

func (s *serverProtocol) Invoke(ctx context.Context, pkg []byte) []byte {
	req := requestf.RequestPacket{}
	resp := requestf.ResponsePacket{}
	if err := readRequest(&req, pkg[4:]); err != nil {
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
	if req.CPacketType == basef.TARSONEWAY {
		// One-way requests get no reply, as with TarsGo's servers.
		return nil
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

// readRequest decodes a request packet; malformed input is an error, not
// a panic.
func readRequest(req *requestf.RequestPacket, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed request packet: %v", r)
		}
	}()
	return req.ReadFrom(codec.NewReader(b))
}
