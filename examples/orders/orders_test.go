package orders_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/thrift"
)

func call(t *testing.T, c generic.Client, method, body string) (*generic.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Invoke(ctx, &generic.Call{Method: method, Body: []byte(body)})
}

func same(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s", want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestOrderServiceThroughTheThriftAdapter(t *testing.T) {
	for _, tc := range []struct {
		name                string
		protocol, transport string
		mux                 bool
	}{
		{"default framed binary", "", "", false},
		{"buffered compact", "compact", "buffered", false},
		{"multiplexed", "binary", "framed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []orders.Option
			if tc.protocol != "" {
				opts = append(opts, orders.WithProtocol(tc.protocol))
			}
			if tc.transport != "" {
				opts = append(opts, orders.WithTransport(tc.transport))
			}
			mux := ""
			if tc.mux {
				opts = append(opts, orders.WithMultiplexed())
				mux = orders.ServiceName
			}
			s, err := orders.Start("127.0.0.1:0", opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Stop() })
			p, err := thrift.New(thrift.Options{
				IDL: "order.thrift", Service: orders.ServiceName,
				Protocol: tc.protocol, Transport: tc.transport, Multiplexed: mux,
				ExceptionStatus: map[string]int{"OrderNotFound": 404, "InvalidOrder": 400},
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Dial(context.Background(), generic.Target{Address: s.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })

			res, err := call(t, c, "getOrder", `{"id":1}`)
			if err != nil {
				t.Fatal(err)
			}
			same(t, res.Body, `{"id":1,"customer":"ada","items":[{"sku":"book-42","qty":2,"priceCents":1250}],"status":"PAID","totalCents":2500}`)

			res, err = call(t, c, "createOrder", `{"customer":"linus","items":[{"sku":"pen","qty":4,"priceCents":"99"}],"note":"gift"}`)
			if err != nil {
				t.Fatal(err)
			}
			same(t, res.Body, `{"id":1001,"customer":"linus","items":[{"sku":"pen","qty":4,"priceCents":99}],"status":"PENDING","totalCents":396,"note":"gift"}`)

			_, err = call(t, c, "getOrder", `{"id":77}`)
			e := generic.AsError(err)
			if e.Code != generic.CodeBackendException || e.Exception != "OrderNotFound" || e.HTTPStatus() != 404 {
				t.Fatalf("got %v (%s, %d) want OrderNotFound 404", err, e.Exception, e.HTTPStatus())
			}
			same(t, e.Fields, `{"id":77,"message":"order 77 not found"}`)

			_, err = call(t, c, "createOrder", `{"customer":"x","items":[{"sku":"a","qty":0}]}`)
			if e := generic.AsError(err); e.Exception != "InvalidOrder" || e.HTTPStatus() != 400 {
				t.Fatalf("got %v want InvalidOrder 400", err)
			}

			res, err = call(t, c, "listOrders", `{"status":"PENDING","limit":10}`)
			if err != nil {
				t.Fatal(err)
			}
			var list []map[string]any
			if err := json.Unmarshal(res.Body, &list); err != nil || len(list) != 2 {
				t.Fatalf("got %s want the two pending orders", res.Body)
			}

			res, err = call(t, c, "ping", ``)
			if err != nil || string(res.Body) != `{}` {
				t.Fatalf("got %v %v want {}", res, err)
			}

			res, err = call(t, c, "audit", `{"event":"checked"}`)
			if err != nil || !res.NoReply {
				t.Fatalf("got %+v %v want NoReply", res, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(s.AuditEvents()) == 0 && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			if got := s.AuditEvents(); len(got) != 1 || got[0] != "checked" {
				t.Fatalf("audit events: got %v want [checked]", got)
			}
		})
	}
}

func TestStartRejectsUnknownSettings(t *testing.T) {
	if _, err := orders.Start("127.0.0.1:0", orders.WithProtocol("json")); err == nil {
		t.Fatal("got nil want an error for protocol json")
	}
	if _, err := orders.Start("127.0.0.1:0", orders.WithTransport("http")); err == nil {
		t.Fatal("got nil want an error for transport http")
	}
}
