// Package tars is rpcbridge's Tars adapter: it reads a .tars IDL at start
// (with its own parser, package idl), converts request JSON straight into
// Tars TLV with TarsGo's codec, calls a servant over the Tars protocol
// (iVersion 1) or TUP (iVersion 3) on a few multiplexed TCP connections,
// and converts the reply back to JSON:
// {"return": <value>, "<outName>": <value>, ...}.
//
// It imports only TarsGo's codec package, never TarsGo's root package
// (which reads os.Args).
package tars

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
	"github.com/rpcbridge/rpcbridge/protocols/tars/idl"
)

// Tars framework return codes (ResponsePacket.iRet).
const (
	retSuccess     = 0
	retDecodeErr   = -1
	retNoFunc      = -3
	retNoServant   = -4
	versionTars    = 1
	versionTUP     = 3
	maxPackageSize = 10 << 20
)

// Options configure one Tars service.
type Options struct {
	// IDL is the path of the .tars file. Required.
	IDL string
	// IncludeDirs are searched for #include files after the including
	// file's own directory.
	IncludeDirs []string
	// Servant is the servant (object) name, "App.Server.Obj". Required.
	Servant string
	// Interface is the interface name in the IDL, "Interface" or
	// "Module.Interface". Empty means the IDL's only interface.
	Interface string
	// Version is 1 for the Tars protocol (default) or 3 for TUP.
	Version int
	// Conns is the number of TCP connections per instance (default 2).
	// Requests are multiplexed over them by request id.
	Conns int
	// DialTimeout bounds each TCP connect, TLS handshake included
	// (default 2s).
	DialTimeout time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// TLS, when set, is the client TLS configuration connections are made
	// with; ServerName defaults to the instance's host. Nil dials in clear.
	TLS *tls.Config
	// Oneway names methods called one-way (cPacketType TARSONEWAY): the
	// request is sent and no reply is awaited, as TarsGo's
	// XxxOneWayWithContext calls do. Each must be in the interface.
	Oneway []string
}

// Protocol is one configured Tars service. It implements
// generic.Protocol.
type Protocol struct {
	opts    Options
	methods map[string]*methodDesc
	schema  *generic.ServiceSchema
	log     *slog.Logger
	bufs    sync.Pool
}

// New parses the IDL and compiles the interface. IDL errors read
// "file:line:col: message".
func New(o Options) (*Protocol, error) {
	if o.IDL == "" {
		return nil, fmt.Errorf("tars: idl is required")
	}
	if o.Servant == "" {
		return nil, fmt.Errorf("tars: servant is required")
	}
	switch o.Version {
	case 0:
		o.Version = versionTars
	case versionTars, versionTUP:
	default:
		return nil, fmt.Errorf("tars: version must be 1 (tars) or 3 (tup), got %d", o.Version)
	}
	if o.Conns <= 0 {
		o.Conns = 2
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	prog, err := idl.Load(o.IDL, o.IncludeDirs)
	if err != nil {
		return nil, err
	}
	var it *idl.Interface
	if o.Interface == "" {
		var all []*idl.Interface
		for _, m := range prog.Modules {
			all = append(all, m.Interfaces...)
		}
		if len(all) != 1 {
			return nil, fmt.Errorf("tars: %s declares %d interfaces; set interface", o.IDL, len(all))
		}
		it = all[0]
	} else if it, err = prog.Interface(o.Interface); err != nil {
		return nil, fmt.Errorf("tars: %s: %w", o.IDL, err)
	}
	methods, schema, err := compileInterface(it)
	if err != nil {
		return nil, err
	}
	for _, name := range o.Oneway {
		md := methods[name]
		if md == nil {
			return nil, fmt.Errorf("tars: oneway: interface %s has no method %q", it.Name, name)
		}
		md.oneway = true
		md.schema.Oneway = true
	}
	schema.Name = o.Servant
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Protocol{opts: o, methods: methods, schema: schema, log: log}, nil
}

// Name is "tars".
func (p *Protocol) Name() string { return "tars" }

// Schema returns the interface's schema (the same as Client.Describe).
func (p *Protocol) Schema() *generic.ServiceSchema { return p.schema }

// Dial returns a client for one instance. Connections are opened on the
// first call and re-opened after they break.
func (p *Protocol) Dial(ctx context.Context, t generic.Target) (generic.Client, error) {
	if t.Address == "" {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "tars: instance address is empty")
	}
	return &client{p: p, addr: t.Address, tls: backendtls.ForAddress(p.opts.TLS, t.Address),
		slots: make([]slot, p.opts.Conns), closed: make(chan struct{})}, nil
}

func (p *Protocol) getBuf() *bytes.Buffer {
	if b, ok := p.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (p *Protocol) putBuf(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		p.bufs.Put(b)
	}
}

// encodeRequest writes the whole request frame (length prefix included)
// into out.
func (p *Protocol) encodeRequest(out *bytes.Buffer, md *methodDesc, servant string, body []byte, id int32, timeout int32, meta map[string]string) error {
	packetType := int8(packetNormal)
	if md.oneway {
		packetType = packetOneway
	}
	argBuf := p.getBuf()
	defer p.putBuf(argBuf)
	if err := p.encodeArgs(argBuf, md, body); err != nil {
		return err
	}
	out.Write([]byte{0, 0, 0, 0})
	b := codec.NewBuffer(out)
	_ = b.WriteInt16(int16(p.opts.Version), 1)
	_ = b.WriteInt8(packetType, 2)
	_ = b.WriteInt32(0, 3) // iMessageType
	_ = b.WriteInt32(id, 4)
	_ = b.WriteString(servant, 5)
	_ = b.WriteString(md.name, 6)
	_ = b.WriteHead(codec.SimpleList, 7)
	_ = b.WriteHead(codec.BYTE, 0)
	_ = b.WriteInt32(int32(argBuf.Len()), 0)
	_ = b.WriteBytes(argBuf.Bytes())
	_ = b.WriteInt32(timeout, 8)
	writeStringMap(b, meta, 9)
	writeStringMap(b, nil, 10)
	frame := out.Bytes()
	n := len(frame)
	frame[0], frame[1], frame[2], frame[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return nil
}

// encodeArgs writes the call's arguments: at tags 1..n (Tars protocol) or
// as a TUP map from argument name to its value at tag 0.
func (p *Protocol) encodeArgs(w *bytes.Buffer, md *methodDesc, body []byte) error {
	if p.opts.Version == versionTars {
		e := encoder{b: codec.NewBuffer(w), w: w}
		return inputError(e.fields(md.args, body, true, 0))
	}
	// TUP: encode the arguments as usual, then re-frame each one.
	tmp := p.getBuf()
	defer p.putBuf(tmp)
	e := encoder{b: codec.NewBuffer(tmp), w: tmp}
	if err := e.fields(md.args, body, true, 0); err != nil {
		return inputError(err)
	}
	b := codec.NewBuffer(w)
	_ = b.WriteHead(codec.MAP, 0)
	_ = b.WriteInt32(int32(len(md.args.fields)), 0)
	r := reader{b: tmp.Bytes()}
	val := p.getBuf()
	defer p.putBuf(val)
	for !r.eof() {
		start := r.i
		ty, tag, err := r.head()
		if err != nil {
			return err
		}
		if err := r.skip(ty, 0); err != nil {
			return err
		}
		f := md.args.byTag[tag]
		// Re-write the head at tag 0, keep the body.
		val.Reset()
		vb := codec.NewBuffer(val)
		_ = vb.WriteHead(ty, 0)
		hl := 1
		if tag >= 15 {
			hl = 2
		}
		val.Write(tmp.Bytes()[start+hl : r.i])
		_ = writeString(b, []byte(f.name), 0)
		_ = b.WriteHead(codec.SimpleList, 1)
		_ = b.WriteHead(codec.BYTE, 0)
		_ = b.WriteInt32(int32(val.Len()), 0)
		_ = b.WriteBytes(val.Bytes())
	}
	return nil
}

func writeStringMap(b *codec.Buffer, m map[string]string, tag byte) {
	_ = b.WriteHead(codec.MAP, tag)
	_ = b.WriteInt32(int32(len(m)), 0)
	for k, v := range m {
		_ = b.WriteString(k, 0)
		_ = b.WriteString(v, 1)
	}
}

// response is the part of a reply packet the client uses.
type response struct {
	id     int32
	ret    int32
	buffer []byte
	desc   string
	status map[string]string
	ctx    map[string]string
}

// parseResponse reads a ResponsePacket (Tars protocol) or, for TUP, the
// RequestPacket-shaped reply.
func parseResponse(frame []byte, version int) (*response, error) {
	r := reader{b: frame}
	resp := &response{}
	idTag, bufTag, statusTag := byte(3), byte(6), byte(7)
	if version == versionTUP {
		idTag, bufTag, statusTag = 4, 7, 10
	}
	for !r.eof() {
		ty, tag, err := r.head()
		if err != nil {
			return nil, err
		}
		switch {
		case tag == idTag:
			n, err := r.int(ty)
			if err != nil {
				return nil, err
			}
			resp.id = int32(n)
		case tag == 5 && version == versionTars:
			n, err := r.int(ty)
			if err != nil {
				return nil, err
			}
			resp.ret = int32(n)
		case tag == bufTag:
			if ty != codec.SimpleList {
				if err := r.skip(ty, 0); err != nil {
					return nil, err
				}
				continue
			}
			if resp.buffer, err = r.simpleList(); err != nil {
				return nil, err
			}
		case tag == 8 && version == versionTars:
			s, err := r.str(ty)
			if err != nil {
				return nil, err
			}
			resp.desc = string(s)
		case tag == statusTag || tag == 9: // 9: the context, in both packet shapes
			m, err := readStringMap(&r, ty)
			if err != nil {
				return nil, err
			}
			if tag == statusTag {
				resp.status = m
			} else {
				resp.ctx = m
			}
		default:
			if err := r.skip(ty, 0); err != nil {
				return nil, err
			}
		}
	}
	if version == versionTUP && resp.status != nil {
		// TUP carries framework errors in the status map.
		if s, ok := resp.status["STATUS_RESULT_CODE"]; ok {
			var n int64
			if _, err := fmt.Sscan(s, &n); err == nil {
				resp.ret = int32(n)
			}
		}
		resp.desc = resp.status["STATUS_RESULT_DESC"]
	}
	return resp, nil
}

// frameID reads only the request id of a reply, to route it.
func frameID(frame []byte, version int) (int32, error) {
	idTag := byte(3)
	if version == versionTUP {
		idTag = 4
	}
	r := reader{b: frame}
	for !r.eof() {
		ty, tag, err := r.head()
		if err != nil {
			return 0, err
		}
		if tag == idTag {
			n, err := r.int(ty)
			return int32(n), err
		}
		if tag > idTag {
			break
		}
		if err := r.skip(ty, 0); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("reply has no request id")
}

func readStringMap(r *reader, ty byte) (map[string]string, error) {
	if ty != codec.MAP {
		return nil, r.skip(ty, 0)
	}
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, n)
	for k := 0; k < n; k++ {
		kt, _, err := r.head()
		if err != nil {
			return nil, err
		}
		key, err := r.str(kt)
		if err != nil {
			return nil, err
		}
		vt, _, err := r.head()
		if err != nil {
			return nil, err
		}
		val, err := r.str(vt)
		if err != nil {
			return nil, err
		}
		m[string(key)] = string(val)
	}
	return m, nil
}

// decodeReply converts the reply buffer to {"return": ..., "<out>": ...}.
func (p *Protocol) decodeReply(dst []byte, md *methodDesc, buf []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("decoding reply: %v", r)
		}
	}()
	if p.opts.Version == versionTars {
		d := decoder{r: reader{b: buf}}
		return d.fields(dst, md.reply, true, 0)
	}
	// TUP: map<string, vector<byte>>, each value holding one value at
	// tag 0. Rebuild a tagged buffer in the reply's tag order.
	r := reader{b: buf}
	ty, _, err := r.head()
	if err != nil {
		if len(buf) == 0 {
			d := decoder{r: reader{}}
			return d.fields(dst, md.reply, true, 0)
		}
		return nil, err
	}
	if ty != codec.MAP {
		return nil, fmt.Errorf("TUP reply wants a map, got wire type %d", ty)
	}
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	vals := make([][]byte, len(md.reply.fields))
	for k := 0; k < n; k++ {
		kt, _, err := r.head()
		if err != nil {
			return nil, err
		}
		key, err := r.str(kt)
		if err != nil {
			return nil, err
		}
		vt, _, err := r.head()
		if err != nil {
			return nil, err
		}
		var v []byte
		if vt == codec.SimpleList {
			if v, err = r.simpleList(); err != nil {
				return nil, err
			}
		} else if err := r.skip(vt, 0); err != nil {
			return nil, err
		}
		name := string(key)
		if name == "" {
			name = "return"
		}
		if f := md.reply.byName[name]; f != nil && (name != "return" || !md.void) {
			vals[fieldIndex(md.reply, f)] = v
		}
	}
	tagged := make([]byte, 0, len(buf))
	for i, f := range md.reply.fields {
		v := vals[i]
		if len(v) == 0 {
			continue
		}
		vr := reader{b: v}
		vty, _, err := vr.head()
		if err != nil {
			return nil, err
		}
		tb := codec.NewBuffer(bytes.NewBuffer(tagged))
		_ = tb.WriteHead(vty, f.tag)
		tagged = append(tb.ToBytes(), v[vr.i:]...)
	}
	d := decoder{r: reader{b: tagged}}
	return d.fields(dst, md.reply, true, 0)
}

// slot holds one connection of a client; it is re-dialled when broken.
type slot struct {
	mu sync.Mutex
	c  *conn
}

type client struct {
	p      *Protocol
	addr   string
	tls    *tls.Config // nil: in clear
	slots  []slot
	next   atomic.Uint32
	ids    atomic.Int32
	closed chan struct{}
	once   sync.Once
}

var _ generic.Client = (*client)(nil)
var _ generic.Protocol = (*Protocol)(nil)

// Describe returns the interface's schema.
func (c *client) Describe(ctx context.Context) (*generic.ServiceSchema, error) {
	return c.p.schema, nil
}

// Close closes the connections; calls in flight fail with UNAVAILABLE.
func (c *client) Close() error {
	c.once.Do(func() { close(c.closed) })
	for i := range c.slots {
		s := &c.slots[i]
		s.mu.Lock()
		if s.c != nil {
			s.c.fail(fmt.Errorf("client closed"))
			s.c = nil
		}
		s.mu.Unlock()
	}
	return nil
}

func (c *client) conn(ctx context.Context) (*conn, error) {
	select {
	case <-c.closed:
		return nil, generic.Errorf(generic.CodeUnavailable, "tars client is closed")
	default:
	}
	s := &c.slots[int(c.next.Add(1))%len(c.slots)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && !s.c.broken() {
		return s.c, nil
	}
	cn, err := dial(ctx, c.addr, c.p.opts.DialTimeout, c.tls, c.p.opts.Version, c.p.log)
	if err != nil {
		return nil, err
	}
	s.c = cn
	return cn, nil
}

// Tars packet types (cPacketType): a normal request, and a one-way one
// the server does not answer.
const (
	packetNormal = 0
	packetOneway = 1
)

// Invoke calls one method; see the package comment for the JSON shapes.
func (c *client) Invoke(ctx context.Context, call *generic.Call) (*generic.Result, error) {
	md := c.p.methods[call.Method]
	if md == nil {
		return nil, generic.Errorf(generic.CodeNotFound, "method %q is not in Tars interface %s", generic.Clip(call.Method), c.p.schema.Name)
	}
	body := call.Body
	if len(call.Params) > 0 {
		b, err := generic.BindParams(body, call.Params, md.schema.Input)
		if err != nil {
			return nil, err
		}
		body = b
	}
	if err := ctx.Err(); err != nil {
		return nil, generic.AsError(err)
	}
	servant := call.Service
	if servant == "" {
		servant = c.p.opts.Servant
	}
	var timeout int32
	if dl, ok := ctx.Deadline(); ok {
		ms := time.Until(dl).Milliseconds()
		if ms < 1 {
			ms = 1
		}
		if ms > 1<<31-1 {
			ms = 1<<31 - 1
		}
		timeout = int32(ms)
	}
	id := c.ids.Add(1) & 0x7fffffff
	if id == 0 {
		id = c.ids.Add(1) & 0x7fffffff
	}
	frame := c.p.getBuf()
	defer c.p.putBuf(frame)
	if err := c.p.encodeRequest(frame, md, servant, body, id, timeout, call.Meta); err != nil {
		return nil, err
	}
	cn, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	if md.oneway {
		if err := cn.send(ctx, frame.Bytes()); err != nil {
			return nil, err
		}
		return &generic.Result{NoReply: true}, nil
	}
	reply, err := cn.roundTrip(ctx, id, frame.Bytes())
	if err != nil {
		return nil, err
	}
	resp, err := parseResponse(reply, c.p.opts.Version)
	if err != nil {
		return nil, generic.Errorf(generic.CodeBackendError, "malformed Tars reply: %w", err)
	}
	if resp.ret != retSuccess {
		return nil, retError(resp)
	}
	out, err := c.p.decodeReply(make([]byte, 0, 64+2*len(resp.buffer)), md, resp.buffer)
	if err != nil {
		return nil, generic.Errorf(generic.CodeBackendError, "reply of %s does not match the IDL: %w", md.name, err)
	}
	res := &generic.Result{Body: out}
	if len(resp.ctx) > 0 {
		res.Meta = resp.ctx
	}
	return res, nil
}

func retError(resp *response) *generic.Error {
	code := generic.CodeBackendError
	switch resp.ret {
	case retNoFunc, retNoServant:
		code = generic.CodeNotFound
	case retDecodeErr:
		code = generic.CodeInvalidArgument
	}
	msg := fmt.Sprintf("tars server returned %d", resp.ret)
	if resp.desc != "" {
		msg += ": " + resp.desc
	}
	return &generic.Error{Code: code, Message: msg, BackendCode: int(resp.ret)}
}

// readFrame reads one length-prefixed packet and returns it without the
// prefix.
func readFrame(r io.Reader, lenBuf []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, lenBuf[:4]); err != nil {
		return nil, err
	}
	n := int(be32(lenBuf))
	if n < 4 || n > maxPackageSize {
		return nil, fmt.Errorf("bad Tars packet length %d", n)
	}
	frame := make([]byte, n-4)
	if _, err := io.ReadFull(r, frame); err != nil {
		return nil, err
	}
	return frame, nil
}
