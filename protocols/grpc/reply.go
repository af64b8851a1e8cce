package grpc

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rpcbridge/rpcbridge/generic"
)

// rawReply is the reply target used with replyCodec. The codec writes
// the reply's JSON into it as the message arrives when the method has a
// transcoding plan and the transcoder succeeds; otherwise it decodes the
// reply into msg for protojson, as gRPC's protobuf codec would.
type rawReply struct {
	plan *msgPlan // nil: always decode into msg
	typ  protoreflect.MessageType
	emit bool
	pool *sync.Pool // of *transcoder

	json []byte        // the reply as JSON, when transcoded
	msg  proto.Message // the decoded reply, when not
}

// set transcodes or decodes b (which the caller may reuse after set
// returns). The error is a decoding error, as from proto.Unmarshal.
func (r *rawReply) set(b []byte) error {
	r.json, r.msg = nil, nil
	if r.plan != nil {
		t, _ := r.pool.Get().(*transcoder)
		if t == nil {
			t = &transcoder{}
		}
		t.reset(r.emit)
		err := transcodeSafely(t, r.plan, b)
		if err == nil {
			r.json = append(make([]byte, 0, len(t.out)), t.out...)
		}
		if cap(t.out) <= 64<<10 && cap(t.recs) <= 4096 {
			r.pool.Put(t)
		}
		if err == nil {
			return nil
		}
	}
	r.msg = r.typ.New().Interface()
	return unmarshalSafely(b, r.msg)
}

// unmarshalSafely is proto.Unmarshal, with a panic (protobuf-go v1.36.12
// panics on some malformed map entries) turned into an error.
func unmarshalSafely(b []byte, m proto.Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("proto: panic while decoding: %v", v)
		}
	}()
	return proto.Unmarshal(b, m)
}

// transcodeSafely runs the transcoder, turning a panic into an error so
// that the protojson path takes over.
func transcodeSafely(t *transcoder, p *msgPlan, b []byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("transcoder panic: %v", v)
		}
	}()
	return t.transcode(p, b)
}

// replyCodec is passed per call with ForceCodecV2. It sends a rawRequest
// as is, marshals other requests with gRPC's protobuf codec, and hands replies aimed at a *rawReply to the
// transcoder without decoding them into a message. Its Name is empty so
// that the content-type stays "application/grpc" (protobuf).
type replyCodec struct {
	proto encoding.CodecV2
}

func (c replyCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(rawRequest); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return c.proto.Marshal(v)
}

func (c replyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*rawReply)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	if len(data) == 1 {
		return r.set(data[0].ReadOnlyData())
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return r.set(buf.ReadOnlyData())
}

func (c replyCodec) Name() string { return "" }

// replyJSON returns the reply's JSON: the transcoded bytes, or the
// decoded message written by protojson.
func (s *schema) replyJSON(r *rawReply, what string) ([]byte, *generic.Error) {
	if r.json != nil {
		return r.json, nil
	}
	b, err := s.marsh.Marshal(r.msg)
	if err != nil {
		return nil, &generic.Error{Code: generic.CodeBackendError, Message: what + " could not be written as JSON", Err: err}
	}
	return b, nil
}
