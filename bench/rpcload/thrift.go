package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/examples/orders"
)

// thriftSetup starts the demo's Thrift service (examples/orders: Apache
// Thrift's Go server, framed binary) and compares getOrder(1) from a
// native client against rpcbridge. The client is Apache Thrift's
// TStandardClient, one framed binary connection per goroutine, with the
// call's argument and result structs written out below the way the
// Thrift compiler writes them: the generated stubs of examples/orders are
// in an internal package this command cannot import.
func thriftSetup(o options) (*setup, error) {
	srv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	idlDir, err := os.MkdirTemp("", "rpcload-thrift")
	if err != nil {
		srv.Stop()
		return nil, err
	}
	clients := make([]*thriftClient, o.conc)
	closeAll := func() {
		for _, c := range clients {
			if c != nil {
				c.tr.Close()
			}
		}
		srv.Stop()
		os.RemoveAll(idlDir)
	}
	idl := filepath.Join(idlDir, "order.thrift")
	if err := os.WriteFile(idl, orders.IDL, 0o644); err != nil {
		closeAll()
		return nil, err
	}
	ctx := context.Background()
	direct := func(w int) error {
		if clients[w] == nil {
			c, err := dialThrift(srv.Addr())
			if err != nil {
				return err
			}
			clients[w] = c
		}
		o, err := clients[w].getOrder(ctx, 1)
		if err != nil {
			clients[w].tr.Close()
			clients[w] = nil
			return err
		}
		if o.ID != 1 || len(o.Items) == 0 {
			return fmt.Errorf("getOrder(1) gave %+v", o)
		}
		return nil
	}
	return &setup{
		protocol:   "thrift (examples/orders getOrder(i64), framed binary, server in this process)",
		directName: "direct thrift-go",
		direct:     direct,
		path:       "/orders/getOrder",
		body:       `{"id": 1}`,
		variants: []variant{{name: "rpcbridge", services: fmt.Sprintf(`services:
  - name: orders
    protocol: thrift
    thrift: {idl: '%s', service: %s}
    instances: [{address: '%s'}]
    timeout: 3s
`, idl, orders.ServiceName, srv.Addr())}},
		close: closeAll,
	}, nil
}

type thriftClient struct {
	tr thrift.TTransport
	c  *thrift.TStandardClient
}

func dialThrift(addr string) (*thriftClient, error) {
	conf := &thrift.TConfiguration{}
	tr := thrift.NewTFramedTransportConf(thrift.NewTSocketConf(addr, conf), conf)
	if err := tr.Open(); err != nil {
		return nil, err
	}
	p := thrift.NewTBinaryProtocolConf(tr, conf)
	return &thriftClient{tr: tr, c: thrift.NewTStandardClient(p, p)}, nil
}

func (c *thriftClient) getOrder(ctx context.Context, id int64) (*thriftOrder, error) {
	var res getOrderResult
	if _, err := c.c.Call(ctx, "getOrder", &getOrderArgs{id: id}, &res); err != nil {
		return nil, err
	}
	switch {
	case res.notFound:
		return nil, fmt.Errorf("order %d not found", id)
	case res.success == nil:
		return nil, errors.New("getOrder: no result")
	}
	return res.success, nil
}

// The structs of order.thrift's getOrder call.

type thriftItem struct {
	Sku        string
	Qty        int32
	PriceCents int64
}

type thriftOrder struct {
	ID         int64
	Customer   string
	Items      []thriftItem
	Status     int32
	TotalCents int64
	Note       *string
}

// getOrderArgs is OrderService_getOrder_args (1: i64 id).
type getOrderArgs struct{ id int64 }

func (a *getOrderArgs) Write(ctx context.Context, p thrift.TProtocol) error {
	if err := p.WriteStructBegin(ctx, "getOrder_args"); err != nil {
		return err
	}
	if err := p.WriteFieldBegin(ctx, "id", thrift.I64, 1); err != nil {
		return err
	}
	if err := p.WriteI64(ctx, a.id); err != nil {
		return err
	}
	if err := p.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := p.WriteFieldStop(ctx); err != nil {
		return err
	}
	return p.WriteStructEnd(ctx)
}

func (a *getOrderArgs) Read(context.Context, thrift.TProtocol) error {
	return errors.New("getOrder_args is only written")
}

// getOrderResult is OrderService_getOrder_result (0: Order success,
// 1: OrderNotFound notFound).
type getOrderResult struct {
	success  *thriftOrder
	notFound bool
}

func (r *getOrderResult) Write(context.Context, thrift.TProtocol) error {
	return errors.New("getOrder_result is only read")
}

func (r *getOrderResult) Read(ctx context.Context, p thrift.TProtocol) error {
	return readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		switch {
		case id == 0 && t == thrift.STRUCT:
			r.success = &thriftOrder{}
			return true, r.success.read(ctx, p)
		case id == 1 && t == thrift.STRUCT:
			r.notFound = true
		}
		return false, nil
	})
}

func (o *thriftOrder) read(ctx context.Context, p thrift.TProtocol) error {
	return readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.I64:
			o.ID, err = p.ReadI64(ctx)
		case id == 2 && t == thrift.STRING:
			o.Customer, err = p.ReadString(ctx)
		case id == 3 && t == thrift.LIST:
			err = o.readItems(ctx, p)
		case id == 4 && t == thrift.I32:
			o.Status, err = p.ReadI32(ctx)
		case id == 5 && t == thrift.I64:
			o.TotalCents, err = p.ReadI64(ctx)
		case id == 6 && t == thrift.STRING:
			var s string
			s, err = p.ReadString(ctx)
			o.Note = &s
		default:
			return false, nil
		}
		return true, err
	})
}

func (o *thriftOrder) readItems(ctx context.Context, p thrift.TProtocol) error {
	_, n, err := p.ReadListBegin(ctx)
	if err != nil {
		return err
	}
	o.Items = make([]thriftItem, n)
	for i := range o.Items {
		it := &o.Items[i]
		err := readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
			var err error
			switch {
			case id == 1 && t == thrift.STRING:
				it.Sku, err = p.ReadString(ctx)
			case id == 2 && t == thrift.I32:
				it.Qty, err = p.ReadI32(ctx)
			case id == 3 && t == thrift.I64:
				it.PriceCents, err = p.ReadI64(ctx)
			default:
				return false, nil
			}
			return true, err
		})
		if err != nil {
			return err
		}
	}
	return p.ReadListEnd(ctx)
}

// readStruct reads a struct's fields, giving each to field, which reports
// whether it read the value; the others are skipped.
func readStruct(ctx context.Context, p thrift.TProtocol, field func(id int16, t thrift.TType) (bool, error)) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			break
		}
		read, err := field(id, t)
		if err != nil {
			return err
		}
		if !read {
			if err := thrift.Skip(ctx, p, t, thrift.DEFAULT_RECURSION_DEPTH); err != nil {
				return err
			}
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return p.ReadStructEnd(ctx)
}
