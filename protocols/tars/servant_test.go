package tars_test

import (
	"context"
	"fmt"
	"time"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/basef"
	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"

	"github.com/rpcbridge/rpcbridge/examples/stock"
)

// The test servant implements interface Test.Echo of testdata/tars/Test.tars
// with TarsGo's codec, dispatching by hand as tars2go-generated code would
// (tars2go cannot be a dependency). stock.Serve frames, decodes and encodes
// the packets with TarsGo's protocol, requestf and tup packages.
//
// TarsGo's root package is not imported: it parses os.Args for -config
// and would print "flag provided but not defined" for `go test` flags.
// TarsGo's transport.TarsServer is not used either: `go test -race`
// reports data races inside it (see stock.Serve).

const echoServant = "Test.EchoServer.EchoObj"

type point struct {
	X, Y  int64
	Label string
	Color int32
	Limit int32
	onlyX bool // write only x (to test reply-side defaults)
}

func (p *point) readFrom(r *codec.Reader) error {
	p.Y, p.Label, p.Color, p.Limit = 7, "origin", 5, 10 // IDL defaults
	if err := r.ReadInt64(&p.X, 0, true); err != nil {
		return err
	}
	_ = r.ReadInt64(&p.Y, 1, false)
	_ = r.ReadString(&p.Label, 2, false)
	_ = r.ReadInt32(&p.Color, 3, false)
	return r.ReadInt32(&p.Limit, 4, false)
}

func (p *point) writeTo(b *codec.Buffer) {
	_ = b.WriteInt64(p.X, 0)
	if p.onlyX {
		return
	}
	_ = b.WriteInt64(p.Y, 1)
	_ = b.WriteString(p.Label, 2)
	_ = b.WriteInt32(p.Color, 3)
	_ = b.WriteInt32(p.Limit, 4)
}

type inner struct {
	Name   string
	Points []point
}

func (in *inner) readFrom(r *codec.Reader) error {
	if err := r.ReadString(&in.Name, 0, true); err != nil {
		return err
	}
	var err error
	in.Points, err = readList(r, 1, false, func(r *codec.Reader) (point, error) {
		var p point
		return p, readStruct(r, 0, true, p.readFrom)
	})
	return err
}

func (in *inner) writeTo(b *codec.Buffer) {
	_ = b.WriteString(in.Name, 0)
	writeList(b, 1, in.Points, func(b *codec.Buffer, p point) { writeStruct(b, 0, p.writeTo) })
}

type all struct {
	B      bool
	By     int8
	Sh     int16
	I      int32
	L      int64
	F      float32
	D      float64
	S      string
	Ub     uint8
	Us     uint16
	Ui     uint32
	Bin    []byte
	Ints   []int32
	Strs   []string
	Smap   map[string]int32
	Imap   map[int32]string
	Lmap   map[int64]point
	Color  int32
	Inner  inner
	Inners []inner
	Grid   [][]int32
}

func (a *all) readFrom(r *codec.Reader) error {
	errs := []error{
		r.ReadBool(&a.B, 0, false), r.ReadInt8(&a.By, 1, false), r.ReadInt16(&a.Sh, 2, false),
		r.ReadInt32(&a.I, 3, false), r.ReadInt64(&a.L, 4, false), r.ReadFloat32(&a.F, 5, false),
		r.ReadFloat64(&a.D, 6, false), r.ReadString(&a.S, 7, false), r.ReadUint8(&a.Ub, 8, false),
		r.ReadUint16(&a.Us, 9, false), r.ReadUint32(&a.Ui, 10, false),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	have, ty, err := r.SkipToNoCheck(11, false)
	if err != nil {
		return err
	}
	if have {
		if ty != codec.SimpleList {
			return fmt.Errorf("bin: want a simple list, got %d", ty)
		}
		if _, err := r.SkipTo(codec.BYTE, 0, true); err != nil {
			return err
		}
		var n int32
		if err := r.ReadInt32(&n, 0, true); err != nil {
			return err
		}
		if err := r.ReadBytes(&a.Bin, n, true); err != nil {
			return err
		}
	}
	if a.Ints, err = readList(r, 12, false, func(r *codec.Reader) (int32, error) {
		var v int32
		return v, r.ReadInt32(&v, 0, true)
	}); err != nil {
		return err
	}
	if a.Strs, err = readList(r, 13, false, func(r *codec.Reader) (string, error) {
		var v string
		return v, r.ReadString(&v, 0, true)
	}); err != nil {
		return err
	}
	a.Smap = map[string]int32{}
	if err := readMap(r, 14, func(r *codec.Reader) error {
		var k string
		var v int32
		if err := r.ReadString(&k, 0, true); err != nil {
			return err
		}
		err := r.ReadInt32(&v, 1, true)
		a.Smap[k] = v
		return err
	}); err != nil {
		return err
	}
	a.Imap = map[int32]string{}
	if err := readMap(r, 15, func(r *codec.Reader) error {
		var k int32
		var v string
		if err := r.ReadInt32(&k, 0, true); err != nil {
			return err
		}
		err := r.ReadString(&v, 1, true)
		a.Imap[k] = v
		return err
	}); err != nil {
		return err
	}
	a.Lmap = map[int64]point{}
	if err := readMap(r, 16, func(r *codec.Reader) error {
		var k int64
		var v point
		if err := r.ReadInt64(&k, 0, true); err != nil {
			return err
		}
		err := readStruct(r, 1, true, v.readFrom)
		a.Lmap[k] = v
		return err
	}); err != nil {
		return err
	}
	if err := r.ReadInt32(&a.Color, 17, false); err != nil {
		return err
	}
	if err := readStruct(r, 18, false, a.Inner.readFrom); err != nil {
		return err
	}
	if a.Inners, err = readList(r, 19, false, func(r *codec.Reader) (inner, error) {
		var v inner
		return v, readStruct(r, 0, true, v.readFrom)
	}); err != nil {
		return err
	}
	a.Grid, err = readList(r, 20, false, func(r *codec.Reader) ([]int32, error) {
		return readList(r, 0, true, func(r *codec.Reader) (int32, error) {
			var v int32
			return v, r.ReadInt32(&v, 0, true)
		})
	})
	return err
}

func (a *all) writeTo(b *codec.Buffer) {
	_ = b.WriteBool(a.B, 0)
	_ = b.WriteInt8(a.By, 1)
	_ = b.WriteInt16(a.Sh, 2)
	_ = b.WriteInt32(a.I, 3)
	_ = b.WriteInt64(a.L, 4)
	_ = b.WriteFloat32(a.F, 5)
	_ = b.WriteFloat64(a.D, 6)
	_ = b.WriteString(a.S, 7)
	_ = b.WriteUint8(a.Ub, 8)
	_ = b.WriteUint16(a.Us, 9)
	_ = b.WriteUint32(a.Ui, 10)
	_ = b.WriteHead(codec.SimpleList, 11)
	_ = b.WriteHead(codec.BYTE, 0)
	_ = b.WriteInt32(int32(len(a.Bin)), 0)
	_ = b.WriteBytes(a.Bin)
	writeList(b, 12, a.Ints, func(b *codec.Buffer, v int32) { _ = b.WriteInt32(v, 0) })
	writeList(b, 13, a.Strs, func(b *codec.Buffer, v string) { _ = b.WriteString(v, 0) })
	_ = b.WriteHead(codec.MAP, 14)
	_ = b.WriteInt32(int32(len(a.Smap)), 0)
	for k, v := range a.Smap {
		_ = b.WriteString(k, 0)
		_ = b.WriteInt32(v, 1)
	}
	_ = b.WriteHead(codec.MAP, 15)
	_ = b.WriteInt32(int32(len(a.Imap)), 0)
	for k, v := range a.Imap {
		_ = b.WriteInt32(k, 0)
		_ = b.WriteString(v, 1)
	}
	_ = b.WriteHead(codec.MAP, 16)
	_ = b.WriteInt32(int32(len(a.Lmap)), 0)
	for k, v := range a.Lmap {
		_ = b.WriteInt64(k, 0)
		writeStruct(b, 1, v.writeTo)
	}
	_ = b.WriteInt32(a.Color, 17)
	writeStruct(b, 18, a.Inner.writeTo)
	writeList(b, 19, a.Inners, func(b *codec.Buffer, v inner) { writeStruct(b, 0, v.writeTo) })
	writeList(b, 20, a.Grid, func(b *codec.Buffer, row []int32) {
		writeList(b, 0, row, func(b *codec.Buffer, v int32) { _ = b.WriteInt32(v, 0) })
	})
}

func readStruct(r *codec.Reader, tag byte, require bool, body func(*codec.Reader) error) error {
	have, err := r.SkipTo(codec.StructBegin, tag, require)
	if err != nil || !have {
		return err
	}
	if err := body(r); err != nil {
		return err
	}
	return r.SkipToStructEnd()
}

func writeStruct(b *codec.Buffer, tag byte, body func(*codec.Buffer)) {
	_ = b.WriteHead(codec.StructBegin, tag)
	body(b)
	_ = b.WriteHead(codec.StructEnd, 0)
}

func readList[T any](r *codec.Reader, tag byte, require bool, elem func(*codec.Reader) (T, error)) ([]T, error) {
	have, err := r.SkipTo(codec.LIST, tag, require)
	if err != nil || !have {
		return nil, err
	}
	var n int32
	if err := r.ReadInt32(&n, 0, true); err != nil {
		return nil, err
	}
	out := make([]T, 0, n)
	for i := int32(0); i < n; i++ {
		v, err := elem(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func writeList[T any](b *codec.Buffer, tag byte, vs []T, elem func(*codec.Buffer, T)) {
	_ = b.WriteHead(codec.LIST, tag)
	_ = b.WriteInt32(int32(len(vs)), 0)
	for _, v := range vs {
		elem(b, v)
	}
}

func readMap(r *codec.Reader, tag byte, entry func(*codec.Reader) error) error {
	have, err := r.SkipTo(codec.MAP, tag, false)
	if err != nil || !have {
		return err
	}
	var n int32
	if err := r.ReadInt32(&n, 0, true); err != nil {
		return err
	}
	for i := int32(0); i < n; i++ {
		if err := entry(r); err != nil {
			return err
		}
	}
	return nil
}

// echoServer dispatches Test.Echo; when seen is set, every request's
// function name and packet type go to it.
type echoServer struct {
	seen chan<- seenCall
}

type seenCall struct {
	fn         string
	packetType int8
}

func decodeErr(err error) error {
	return &stock.Error{Code: basef.TARSSERVERDECODEERR, Msg: "decode: " + err.Error()}
}

func (s echoServer) Dispatch(ctx context.Context, req *requestf.RequestPacket, resp *requestf.ResponsePacket) error {
	if s.seen != nil {
		s.seen <- seenCall{req.SFuncName, req.CPacketType}
	}
	if req.SServantName != echoServant {
		return &stock.Error{Code: basef.TARSSERVERNOSERVANTERR, Msg: "no servant " + req.SServantName}
	}
	args, err := stock.NewArgs(req)
	if err != nil {
		return err
	}
	reply := stock.NewReply(req)
	ret := func(w func(b *codec.Buffer, tag byte) error) { _ = reply.Put("", 0, w) }
	readInt64 := func(name string, pos byte) (int64, error) {
		r, tag := args.Arg(name, pos)
		var v int64
		return v, r.ReadInt64(&v, tag, true)
	}
	readInt32 := func(name string, pos byte) (int32, error) {
		r, tag := args.Arg(name, pos)
		var v int32
		return v, r.ReadInt32(&v, tag, true)
	}
	switch req.SFuncName {
	case "echoAll":
		var a all
		r, tag := args.Arg("a", 1)
		if err := readStruct(r, tag, true, a.readFrom); err != nil {
			return decodeErr(err)
		}
		ret(func(b *codec.Buffer, tag byte) error { writeStruct(b, tag, a.writeTo); return nil })
	case "echoLong":
		v, err := readInt64("v", 1)
		if err != nil {
			return decodeErr(err)
		}
		ret(func(b *codec.Buffer, tag byte) error { return b.WriteInt64(v, tag) })
	case "split":
		v, err := readInt64("v", 1)
		if err != nil {
			return decodeErr(err)
		}
		ret(func(b *codec.Buffer, tag byte) error { return b.WriteInt32(int32(v%1000), tag) })
		_ = reply.Put("hi", 2, func(b *codec.Buffer, tag byte) error { return b.WriteInt32(int32(v>>32), tag) })
		_ = reply.Put("lo", 3, func(b *codec.Buffer, tag byte) error { return b.WriteInt32(int32(v), tag) })
	case "ping":
	case "makePoint":
		x, err := readInt64("x", 1)
		if err != nil {
			return decodeErr(err)
		}
		p := point{X: x, onlyX: true}
		ret(func(b *codec.Buffer, tag byte) error { writeStruct(b, tag, p.writeTo); return nil })
	case "echoPoint":
		var p point
		r, tag := args.Arg("p", 1)
		if err := readStruct(r, tag, true, p.readFrom); err != nil {
			return decodeErr(err)
		}
		ret(func(b *codec.Buffer, tag byte) error { writeStruct(b, tag, p.writeTo); return nil })
	case "nextColor":
		c, err := readInt32("c", 1)
		if err != nil {
			return decodeErr(err)
		}
		switch c {
		case 0:
			c = 5
		case 5:
			c = 6
		case 6:
			c = 0
		}
		ret(func(b *codec.Buffer, tag byte) error { return b.WriteInt32(c, tag) })
	case "context":
		r, tag := args.Arg("key", 1)
		var k string
		if err := r.ReadString(&k, tag, true); err != nil {
			return decodeErr(err)
		}
		v := req.Context[k]
		// The reply's context carries it back too.
		resp.Context = map[string]string{"x-echo-" + k: v}
		ret(func(b *codec.Buffer, tag byte) error { return b.WriteString(v, tag) })
	case "fail":
		c, err := readInt32("code", 1)
		if err != nil {
			return decodeErr(err)
		}
		return &stock.Error{Code: c, Msg: "failed on purpose"}
	case "slow":
		ms, err := readInt32("ms", 1)
		if err != nil {
			return decodeErr(err)
		}
		if ms == 0 {
			// Report the iTimeout the client sent.
			v := fmt.Sprint(req.ITimeout)
			ret(func(b *codec.Buffer, tag byte) error { return b.WriteString(v, tag) })
			break
		}
		// A backend that ignores its deadline.
		time.Sleep(time.Duration(ms) * time.Millisecond)
		ret(func(b *codec.Buffer, tag byte) error { return b.WriteString("slept", tag) })
	case "add":
		a, err := readInt32("a", 1)
		if err != nil {
			return decodeErr(err)
		}
		bv, err := readInt32("b", 2)
		if err != nil {
			return decodeErr(err)
		}
		ret(func(b *codec.Buffer, tag byte) error { return b.WriteInt32(a+bv, tag) })
	case "reverse":
		r, tag := args.Arg("data", 1)
		if _, err := r.SkipTo(codec.SimpleList, tag, true); err != nil {
			return decodeErr(err)
		}
		if _, err := r.SkipTo(codec.BYTE, 0, true); err != nil {
			return decodeErr(err)
		}
		var n int32
		if err := r.ReadInt32(&n, 0, true); err != nil {
			return decodeErr(err)
		}
		var data []byte
		if err := r.ReadBytes(&data, n, true); err != nil {
			return decodeErr(err)
		}
		for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
			data[i], data[j] = data[j], data[i]
		}
		ret(func(b *codec.Buffer, tag byte) error {
			_ = b.WriteHead(codec.SimpleList, tag)
			_ = b.WriteHead(codec.BYTE, 0)
			_ = b.WriteInt32(int32(len(data)), 0)
			return b.WriteBytes(data)
		})
	default:
		return &stock.Error{Code: basef.TARSSERVERNOFUNCERR, Msg: "no function " + req.SFuncName}
	}
	return reply.Finish(resp)
}
