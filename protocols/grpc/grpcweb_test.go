package grpc_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

// webCall is a GRPCWebCall that sends msgs and records what comes back.
func webCall(path string, meta map[string]string, msgs ...[]byte) (*generic.GRPCWebCall, *[][]byte, *map[string][]string) {
	var got [][]byte
	var hdr map[string][]string
	return &generic.GRPCWebCall{Path: path, Meta: meta,
		Next: func(context.Context) ([]byte, error) {
			if len(msgs) == 0 {
				return nil, io.EOF
			}
			m := msgs[0]
			msgs = msgs[1:]
			return m, nil
		},
		OnHeader:  func(md map[string][]string) { hdr = md },
		OnMessage: func(b []byte) error { got = append(got, append([]byte(nil), b...)); return nil },
	}, &got, &hdr
}

func TestProxyGRPCWebPassesMessagesThrough(t *testing.T) {
	srv := startPeople(t, false)
	// No schema is needed: the messages pass as bytes.
	c := dial(t, grpc.Options{Service: service, ProtoFiles: []string{"people.proto"}, ImportPaths: []string{testdata}}, srv.Addr())
	p, ok := c.(generic.GRPCWebProxy)
	if !ok {
		t.Fatalf("client %T does not implement generic.GRPCWebProxy", c)
	}
	req, _ := proto.Marshal(&demov1.GetPersonRequest{Id: 3})
	call, got, hdr := webCall("/demo.v1.PeopleService/Get", map[string]string{"x-request-id": "r1"}, req)
	if err := p.ProxyGRPCWeb(context.Background(), call); err != nil {
		t.Fatalf("Get: got error %v, want none", err)
	}
	if len(*got) != 1 {
		t.Fatalf("Get: got %d messages, want 1", len(*got))
	}
	var pp demov1.Person
	if err := proto.Unmarshal((*got)[0], &pp); err != nil || pp.GetName() != "Grace Hopper" || pp.GetRequestId() != "r1" {
		t.Errorf("Get: got %v (%v), want Grace Hopper with request_id r1", &pp, err)
	}
	if v := (*hdr)["x-request-id"]; len(v) != 1 || v[0] != "r1" {
		t.Errorf("Get: header metadata x-request-id got %q, want [r1]", v)
	}

	// A backend error: its code in BackendCode, its details in the
	// trailer as unpadded base64.
	req, _ = proto.Marshal(&demov1.GetPersonRequest{Id: 9})
	call, _, _ = webCall("/demo.v1.PeopleService/Get", nil, req)
	err := p.ProxyGRPCWeb(context.Background(), call)
	var e *generic.Error
	if !errors.As(err, &e) || e.BackendCode != 5 || e.Code != generic.CodeNotFound || e.Message != "person 9 not found" {
		t.Fatalf("Get 9: got %v, want NOT_FOUND with BackendCode 5 and the backend's message", err)
	}
	if d := call.Trailer["grpc-status-details-bin"]; len(d) != 1 || d[0] == "" || strings.HasSuffix(d[0], "=") {
		t.Errorf("Get 9: trailer grpc-status-details-bin got %q, want one unpadded base64 value", d)
	}

	// A malformed request message is the backend's to refuse.
	call, _, _ = webCall("/demo.v1.PeopleService/Get", nil, []byte{0xff})
	if err := p.ProxyGRPCWeb(context.Background(), call); !errors.As(err, &e) || e.BackendCode != 13 {
		t.Errorf("garbage message: got %v, want the backend's INTERNAL (13)", err)
	}
}

func TestGRPCWebPath(t *testing.T) {
	c := &grpc.Config{Service: "demo.v1.PeopleService"}
	for in, want := range map[string]string{
		"Get":                           "/demo.v1.PeopleService/Get",
		"demo.v1.PeopleService.Get":     "/demo.v1.PeopleService/Get",
		"demo.v1.PeopleService/Get":     "/demo.v1.PeopleService/Get",
		"/other.v1.OtherService/Secret": "/other.v1.OtherService/Secret",
	} {
		if got := c.GRPCWebPath(in); got != want {
			t.Errorf("GRPCWebPath(%q): got %q, want %q", in, got, want)
		}
	}
}
