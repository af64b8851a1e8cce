package stock

import (
	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/basef"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"
	"github.com/TarsCloud/TarsGo/tars/protocol/tup"
	"github.com/TarsCloud/TarsGo/tars/util/tools"
)

// Args reads a request's arguments the way generated dispatch code does:
// by position (tag = position, from 1) in the Tars protocol, by name (at
// tag 0) in TUP.
type Args struct {
	tupVersion bool
	buf        []byte
	attr       *tup.UniAttribute
}

// NewArgs prepares the arguments of req.
func NewArgs(req *requestf.RequestPacket) (*Args, error) {
	a := &Args{buf: tools.Int8ToByte(req.SBuffer)}
	if req.IVersion == basef.TUPVERSION {
		a.tupVersion = true
		a.attr = tup.NewUniAttribute()
		if err := a.attr.Decode(codec.NewReader(a.buf)); err != nil {
			return nil, &Error{Code: basef.TARSSERVERDECODEERR, Msg: "bad TUP buffer: " + err.Error()}
		}
	}
	return a, nil
}

// Arg returns a reader and the tag at which the argument named name (at
// position pos, counting from 1) is found.
func (a *Args) Arg(name string, pos byte) (*codec.Reader, byte) {
	if !a.tupVersion {
		return codec.NewReader(a.buf), pos
	}
	var b []byte
	_ = a.attr.GetBuffer(name, &b)
	return codec.NewReader(b), 0
}

// Reply collects a method's return value and out parameters.
type Reply struct {
	tupVersion bool
	main       *codec.Buffer
	attr       *tup.UniAttribute
}

// NewReply starts the reply to req.
func NewReply(req *requestf.RequestPacket) *Reply {
	r := &Reply{main: codec.NewBuffer()}
	if req.IVersion == basef.TUPVERSION {
		r.tupVersion = true
		r.attr = tup.NewUniAttribute()
	}
	return r
}

// Put writes one value: the return value (name "", pos 0) or an out
// parameter (its name and position). write gets the buffer and tag.
func (r *Reply) Put(name string, pos byte, write func(b *codec.Buffer, tag byte) error) error {
	if !r.tupVersion {
		return write(r.main, pos)
	}
	b := codec.NewBuffer()
	if err := write(b, 0); err != nil {
		return err
	}
	r.attr.PutBuffer(name, b.ToBytes())
	if name == "" {
		r.attr.PutBuffer("tars_ret", b.ToBytes())
	}
	return nil
}

// Finish stores the reply in resp.
func (r *Reply) Finish(resp *requestf.ResponsePacket) error {
	if r.tupVersion {
		if err := r.attr.Encode(r.main); err != nil {
			return err
		}
	}
	resp.SBuffer = tools.ByteToInt8(r.main.ToBytes())
	return nil
}
