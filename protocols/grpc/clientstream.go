package grpc

import (
	"context"
	"fmt"
	"io"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/rpcbridge/rpcbridge/generic"
)

// clientStream runs a client- or bidirectional-streaming call. The request
// messages come from call.NextMessage as they arrive (or, without it, the
// body is a stream of one message); one goroutine sends them while this
// one receives, so a bidirectional backend can answer before the caller
// is done. A client-streaming reply is one message, returned as Body; a
// bidirectional one goes through call.OnMessage.
//
// Whatever ends first ends the call: the caller's half failing (bad JSON,
// a dropped connection) cancels the backend's stream and is the error
// returned; the backend's status ends the sending. The sending goroutine
// has returned when clientStream does.
func (c *client) clientStream(ctx context.Context, s *schema, m *method, call *generic.Call, svcName, mName string) (*generic.Result, error) {
	bidi := m.stream.ServerStreams
	if bidi && call.OnMessage == nil {
		return nil, fill(generic.Errorf(generic.CodeInvalidArgument,
			"method %s is bidirectional streaming and this caller cannot receive a stream", mName), svcName, mName)
	}
	next := call.NextMessage
	if next == nil {
		body, sent := call.Body, false
		next = func(context.Context) ([]byte, error) {
			if sent {
				return nil, io.EOF
			}
			sent = true
			return body, nil
		}
	}
	if len(call.Meta) > 0 {
		md, err := outgoing(call.Meta)
		if err != nil {
			return nil, fill(err, svcName, mName)
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := c.rawReply(s, m)
	st, err := c.newStream(ctx, m, r)
	if err != nil {
		return nil, c.callError(ctx, err, s, svcName, mName)
	}
	var sendErr error
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if err := c.sendMessages(ctx, st, m, call, next); err != nil && ctx.Err() == nil {
			// The caller's half failed: that is the call's error, and
			// the backend's stream is cancelled.
			sendErr = err
			cancel()
		}
	}()
	var res *generic.Result
	if bidi {
		err = c.recvMessages(ctx, st, s, m, r, call, svcName, mName)
		if err == nil {
			res = &generic.Result{Streamed: true}
		}
	} else {
		res, err = c.recvOne(ctx, st, s, m, r, svcName, mName)
	}
	// The backend has answered (or failed): stop waiting for the caller.
	cancel()
	<-sent
	if sendErr != nil {
		return nil, fill(sendErr, svcName, mName)
	}
	if err != nil {
		return nil, err
	}
	var hdr metadata.MD
	if len(c.p.expose) > 0 {
		hdr, _ = st.Header()
	}
	res.Meta = c.meta(hdr, st.Trailer())
	return res, nil
}

// sendMessages sends the caller's messages until it ends its half (then
// closes the sending side) or the backend ends the call.
func (c *client) sendMessages(ctx context.Context, st gogrpc.ClientStream, m *method, call *generic.Call, next func(context.Context) ([]byte, error)) error {
	for n := 1; ; n++ {
		msg, err := next(ctx)
		if err == io.EOF {
			return st.CloseSend()
		}
		if err != nil {
			return err
		}
		if len(call.Params) > 0 {
			if msg, err = generic.BindParams(msg, call.Params, m.inputType()); err != nil {
				return messageError(err, n)
			}
		}
		in, err := c.request(m, msg)
		if err != nil {
			return messageError(err, n)
		}
		if err := st.SendMsg(in); err != nil {
			// io.EOF: the backend ended the call; its status comes
			// with the reply.
			if err == io.EOF {
				return nil
			}
			return &generic.Error{Code: generic.CodeBackendError, Message: "sending a stream message failed", Err: err}
		}
	}
}

// messageError names the stream message (counted from 1) a request error
// is about.
func messageError(err error, n int) error {
	e := generic.AsError(err)
	return &generic.Error{Code: e.Code, Status: e.Status, Err: e,
		Message: fmt.Sprintf("stream message %d: %s", n, e.Message)}
}

// recvOne receives a client-streaming call's one reply message.
func (c *client) recvOne(ctx context.Context, st gogrpc.ClientStream, s *schema, m *method, r *rawReply, svcName, mName string) (*generic.Result, error) {
	if r != nil {
		if err := st.RecvMsg(r); err != nil {
			return nil, c.callError(ctx, err, s, svcName, mName)
		}
		b, ge := s.replyJSON(r, "reply")
		if ge != nil {
			return nil, fill(ge, svcName, mName)
		}
		return &generic.Result{Body: b}, nil
	}
	out := m.out.New().Interface()
	if err := st.RecvMsg(out); err != nil {
		return nil, c.callError(ctx, err, s, svcName, mName)
	}
	b, err := s.marsh.Marshal(out)
	if err != nil {
		return nil, fill(&generic.Error{Code: generic.CodeBackendError,
			Message: "reply could not be written as JSON", Err: err}, svcName, mName)
	}
	return &generic.Result{Body: b}, nil
}
