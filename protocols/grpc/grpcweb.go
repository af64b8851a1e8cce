package grpc

// gRPC-Web calls: the messages a browser sent pass through to the backend
// as they are, over the instance's one connection, and the replies come
// back the same way; no schema, no JSON.

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/rpcbridge/rpcbridge/generic"
)

// webDesc is the one stream shape of every gRPC-Web call: the messages
// the caller sent, then the replies until the status. It serves unary and
// server-streaming methods alike (and client streaming, when a caller
// sends more than one message).
var webDesc = &gogrpc.StreamDesc{StreamName: "grpc-web", ServerStreams: true, ClientStreams: true}

// webCodec passes messages through as bytes. Its Name is empty so that
// the content-type stays "application/grpc" (protobuf).
var webCodec = gogrpc.ForceCodecV2(passCodec{})

type passCodec struct{}

// webMsg is a request message's bytes.
type webMsg []byte

// webReply receives a reply message's bytes; b is reused from message to
// message.
type webReply struct{ b []byte }

func (passCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(webMsg)
	if !ok {
		return nil, fmt.Errorf("grpc-web codec: cannot send a %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m)}, nil
}

func (passCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*webReply)
	if !ok {
		return fmt.Errorf("grpc-web codec: cannot receive into a %T", v)
	}
	n := data.Len()
	if cap(r.b) < n {
		r.b = make([]byte, n)
	}
	r.b = r.b[:n]
	data.CopyTo(r.b)
	return nil
}

func (passCodec) Name() string { return "" }

// GRPCWebPath implements generic.GRPCWebService.
func (c *Config) GRPCWebPath(method string) string {
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		return "/" + strings.TrimPrefix(method, "/")
	}
	if i := strings.LastIndexByte(method, '.'); i > 0 {
		return "/" + method[:i] + "/" + method[i+1:]
	}
	return "/" + c.Service + "/" + method
}

// ProxyGRPCWeb implements generic.GRPCWebProxy.
func (c *client) ProxyGRPCWeb(ctx context.Context, call *generic.GRPCWebCall) error {
	svcName, mName, _ := strings.Cut(strings.TrimPrefix(call.Path, "/"), "/")
	if len(call.Meta) > 0 {
		md, err := outgoing(call.Meta)
		if err != nil {
			return fill(err, svcName, mName)
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.cc.NewStream(ctx, webDesc, call.Path, webCodec)
	if err != nil {
		return c.webError(ctx, err, svcName, mName)
	}
	for {
		msg, err := call.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := st.SendMsg(webMsg(msg)); err != nil {
			if err == io.EOF {
				break // the backend ended the call: RecvMsg has its status
			}
			return c.webError(ctx, err, svcName, mName)
		}
	}
	st.CloseSend()
	var r webReply
	header := false
	sendHeader := func() {
		if !header {
			header = true
			md, _ := st.Header()
			call.OnHeader(wireMD(md))
		}
	}
	for {
		err := st.RecvMsg(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			sendHeader()
			call.Trailer = wireMD(st.Trailer())
			return c.webError(ctx, err, svcName, mName)
		}
		sendHeader()
		if err := call.OnMessage(r.b); err != nil {
			return err
		}
	}
	sendHeader()
	call.Trailer = wireMD(st.Trailer())
	return nil
}

// webError is the error a gRPC-Web call ended with, BackendCode holding
// its gRPC status code. Local transport failures get a message of their
// own so that addresses never reach clients.
func (c *client) webError(ctx context.Context, err error, svc, method string) error {
	st, ok := status.FromError(err)
	if !ok {
		e := generic.AsError(err)
		e.BackendCode = generic.GRPCStatus(e)
		return fill(e, svc, method)
	}
	code := st.Code()
	e := &generic.Error{Code: codeOf(code), Message: st.Message(), Err: err}
	switch {
	case deadlinePassed(ctx, code):
		code, e.Code = codes.DeadlineExceeded, generic.CodeDeadlineExceeded
		e.Message = fmt.Sprintf("backend did not answer %s/%s before the deadline", svc, method)
	case ctx.Err() != nil:
		code, e.Code = codes.Canceled, generic.CodeCanceled
		e.Message = "request canceled"
	case code == codes.Unavailable && c.tlsFailure(st, e, svc):
	case code == codes.Unavailable && isTransportText(st.Message()):
		e.Message = fmt.Sprintf("backend of service %s is unavailable: connection failed", svc)
	}
	e.BackendCode = int(code)
	return fill(e, svc, method)
}

// wireMD is md as gRPC-Web carries it: "-bin" values base64 (unpadded),
// names gRPC keeps for itself left out.
func wireMD(md metadata.MD) map[string][]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string][]string, len(md))
	for k, vs := range md {
		if strings.HasPrefix(k, "grpc-") && k != "grpc-status-details-bin" {
			continue
		}
		if strings.HasSuffix(k, "-bin") {
			enc := make([]string, len(vs))
			for i, v := range vs {
				enc[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			vs = enc
		}
		out[k] = vs
	}
	return out
}

var (
	_ generic.GRPCWebProxy   = (*client)(nil)
	_ generic.GRPCWebService = (*Config)(nil)
)
