package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/basef"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"
	"github.com/TarsCloud/TarsGo/tars/util/tools"

	"github.com/rpcbridge/rpcbridge/examples/stock"
)

// tarsSetup starts the demo's Tars servant (examples/stock) and compares
// getQuote("600000") from a native client against rpcbridge. There is no
// generated client for the sample (its servant side is written by hand),
// so the client is what tars2go's proxy does for the call, on TarsGo's
// codec and packet types: the arguments and a RequestPacket encoded with
// codec, length-prefixed, on a plain TCP connection per goroutine, and the
// ResponsePacket and the Quote struct decoded back. It skips TarsGo's
// communicator (its endpoint manager, timers and filters), so it is a
// cheaper yardstick than a TarsGo application's client.
func tarsSetup(o options) (*setup, error) {
	srv, err := stock.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	idlDir, err := os.MkdirTemp("", "rpcload-tars")
	if err != nil {
		srv.Stop()
		return nil, err
	}
	closeAll := func() {
		srv.Stop()
		os.RemoveAll(idlDir)
	}
	idl := filepath.Join(idlDir, "Stock.tars")
	if err := os.WriteFile(idl, stock.IDL, 0o644); err != nil {
		closeAll()
		return nil, err
	}
	conns := make([]*tarsConn, o.conc)
	direct := func(w int) error {
		if conns[w] == nil {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				return err
			}
			conns[w] = &tarsConn{c: c, r: bufio.NewReader(c)}
		}
		q, err := conns[w].getQuote("600000")
		if err != nil {
			conns[w].c.Close()
			conns[w] = nil
			return err
		}
		if q.Code != "600000" || q.Name == "" {
			return fmt.Errorf("getQuote gave %+v", q)
		}
		return nil
	}
	return &setup{
		protocol:   "tars (examples/stock getQuote(string), servant in this process)",
		directName: "direct TarsGo",
		direct:     direct,
		path:       "/stock/getQuote",
		body:       `{"code": "600000"}`,
		variants: []variant{{name: "rpcbridge", services: fmt.Sprintf(`services:
  - name: stock
    protocol: tars
    tars: {idl: '%s', servant: %s, interface: Stock}
    instances: [{address: '%s'}]
    timeout: 3s
`, idl, stock.Servant, srv.Addr())}},
		close: func() {
			for _, c := range conns {
				if c != nil {
					c.c.Close()
				}
			}
			closeAll()
		},
	}, nil
}

// tarsConn is one connection of the native client; one call at a time.
type tarsConn struct {
	c    net.Conn
	r    *bufio.Reader
	id   int32
	body []byte
}

func (t *tarsConn) getQuote(code string) (stock.Quote, error) {
	var q stock.Quote
	args := codec.NewBuffer()
	if err := args.WriteString(code, 1); err != nil {
		return q, err
	}
	t.id++
	req := requestf.RequestPacket{
		IVersion:     basef.TARSVERSION,
		CPacketType:  basef.TARSNORMAL,
		IRequestId:   t.id,
		SServantName: stock.Servant,
		SFuncName:    "getQuote",
		SBuffer:      tools.ByteToInt8(args.ToBytes()),
		ITimeout:     3000,
		Context:      map[string]string{},
		Status:       map[string]string{},
	}
	out := codec.NewBuffer()
	_ = out.WriteBytes([]byte{0, 0, 0, 0})
	if err := req.WriteTo(out); err != nil {
		return q, err
	}
	pkt := out.ToBytes()
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)))
	if _, err := t.c.Write(pkt); err != nil {
		return q, err
	}
	var head [4]byte
	if _, err := io.ReadFull(t.r, head[:]); err != nil {
		return q, err
	}
	n := int(binary.BigEndian.Uint32(head[:]))
	if n < 4 || n > 10<<20 {
		return q, fmt.Errorf("bad packet length %d", n)
	}
	if cap(t.body) < n-4 {
		t.body = make([]byte, n-4)
	}
	t.body = t.body[:n-4]
	if _, err := io.ReadFull(t.r, t.body); err != nil {
		return q, err
	}
	var resp requestf.ResponsePacket
	if err := resp.ReadFrom(codec.NewReader(t.body)); err != nil {
		return q, err
	}
	if resp.IRequestId != t.id {
		return q, fmt.Errorf("reply to request %d, want %d", resp.IRequestId, t.id)
	}
	if resp.IRet != 0 {
		return q, fmt.Errorf("tars error %d: %s", resp.IRet, resp.SResultDesc)
	}
	return q, readQuote(codec.NewReader(tools.Int8ToByte(resp.SBuffer)), &q)
}

// readQuote reads the return value, struct Demo::Quote at tag 0, as
// tars2go's generated ReadBlock does.
func readQuote(r *codec.Reader, q *stock.Quote) error {
	if _, err := r.SkipTo(codec.StructBegin, 0, true); err != nil {
		return err
	}
	if err := r.ReadString(&q.Code, 0, true); err != nil {
		return err
	}
	if err := r.ReadString(&q.Name, 1, false); err != nil {
		return err
	}
	if err := r.ReadFloat64(&q.Price, 2, false); err != nil {
		return err
	}
	if err := r.ReadInt64(&q.Volume, 3, false); err != nil {
		return err
	}
	if err := r.ReadInt32(&q.Market, 4, false); err != nil {
		return err
	}
	return r.SkipToStructEnd()
}
