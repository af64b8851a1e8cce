// Package stock is a small sample Tars servant, Demo.StockServer.StockObj,
// implementing interface Demo.Stock of examples/stock/Stock.tars on
// TarsGo's server transport. `rpcbridge demo` starts it; its dispatch is
// written by hand the way tars2go would generate it.
package stock

import (
	"context"
	"fmt"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/basef"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"
)

// Servant is the servant name the sample registers under.
const Servant = "Demo.StockServer.StockObj"

// Market values of enum Demo::Market.
const (
	MarketSH int32 = 0
	MarketSZ int32 = 1
	MarketHK int32 = 10
)

// Quote is struct Demo::Quote.
type Quote struct {
	Code   string
	Name   string
	Price  float64
	Volume int64
	Market int32
}

// WriteBlock writes q as a struct at tag.
func (q *Quote) WriteBlock(b *codec.Buffer, tag byte) error {
	_ = b.WriteHead(codec.StructBegin, tag)
	_ = b.WriteString(q.Code, 0)
	_ = b.WriteString(q.Name, 1)
	_ = b.WriteFloat64(q.Price, 2)
	_ = b.WriteInt64(q.Volume, 3)
	_ = b.WriteInt32(q.Market, 4)
	return b.WriteHead(codec.StructEnd, 0)
}

// lookup returns the sample quote for code.
func lookup(code string) (Quote, bool) {
	switch code {
	case "600000":
		return Quote{Code: code, Name: "Pudong Development Bank", Price: 7.31, Volume: 41230000, Market: MarketSH}, true
	case "000001":
		return Quote{Code: code, Name: "Ping An Bank", Price: 11.02, Volume: 95120000, Market: MarketSZ}, true
	case "00700":
		return Quote{Code: code, Name: "Tencent", Price: 318.4, Volume: 18800000, Market: MarketHK}, true
	}
	return Quote{Code: code}, false
}

// Start starts the sample servant on addr ("127.0.0.1:0" picks a port).
func Start(addr string) (*Server, error) {
	return Serve(addr, dispatcher{})
}

type dispatcher struct{}

func (dispatcher) Dispatch(ctx context.Context, req *requestf.RequestPacket, resp *requestf.ResponsePacket) error {
	if req.SServantName != Servant {
		return &Error{Code: basef.TARSSERVERNOSERVANTERR, Msg: "no servant " + req.SServantName}
	}
	args, err := NewArgs(req)
	if err != nil {
		return err
	}
	reply := NewReply(req)
	switch req.SFuncName {
	case "getQuote":
		var code string
		r, tag := args.Arg("code", 1)
		if err := r.ReadString(&code, tag, true); err != nil {
			return &Error{Code: basef.TARSSERVERDECODEERR, Msg: err.Error()}
		}
		q, _ := lookup(code)
		_ = reply.Put("", 0, q.WriteBlock)
	case "listQuotes":
		r, tag := args.Arg("codes", 1)
		codes, err := readStrings(r, tag)
		if err != nil {
			return &Error{Code: basef.TARSSERVERDECODEERR, Msg: err.Error()}
		}
		var found []Quote
		for _, c := range codes {
			if q, ok := lookup(c); ok {
				found = append(found, q)
			}
		}
		_ = reply.Put("", 0, func(b *codec.Buffer, tag byte) error { return b.WriteInt32(int32(len(found)), tag) })
		_ = reply.Put("quotes", 2, func(b *codec.Buffer, tag byte) error {
			_ = b.WriteHead(codec.LIST, tag)
			_ = b.WriteInt32(int32(len(found)), 0)
			for i := range found {
				_ = found[i].WriteBlock(b, 0)
			}
			return nil
		})
	default:
		return &Error{Code: basef.TARSSERVERNOFUNCERR, Msg: fmt.Sprintf("no function %s", req.SFuncName)}
	}
	return reply.Finish(resp)
}

func readStrings(r *codec.Reader, tag byte) ([]string, error) {
	if _, err := r.SkipTo(codec.LIST, tag, true); err != nil {
		return nil, err
	}
	var n int32
	if err := r.ReadInt32(&n, 0, true); err != nil {
		return nil, err
	}
	if n < 0 || n > 10000 {
		return nil, fmt.Errorf("bad list length %d", n)
	}
	out := make([]string, n)
	for i := range out {
		if err := r.ReadString(&out[i], 0, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}
