package dubbo

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/filter"
	"dubbo.apache.org/dubbo-go/v3/protocol/base"
	"dubbo.apache.org/dubbo-go/v3/protocol/result"

	"github.com/rpcbridge/rpcbridge/generic"
)

// A reply's attachments are the map a provider sends after the value or
// the exception (reply types 3, 4 and 5): what Java code puts in
// RpcContext's server attachment, what a dubbo-go provider adds to the
// attachment map of its ctx. Options.ExposeAttachments names the ones a
// service copies into generic.Result.Meta, which the gateway writes as
// response headers.

// metaBuilder collects the exposed attachments of one reply. For each
// configured name it keeps the value of the first attachment whose key
// equals the name ignoring case, or of the one that equals it exactly.
// Values are strings: text as it is, numbers and booleans formatted;
// other values, and text a header cannot carry, are skipped.
type metaBuilder struct {
	names []string
	meta  map[string]string
	exact []bool
}

func (b *metaBuilder) add(key, val string) {
	for i, name := range b.names {
		if len(key) != len(name) || !strings.EqualFold(key, name) {
			continue
		}
		if !headerValueOK(val) {
			return
		}
		ex := key == name
		if b.meta == nil {
			b.meta = make(map[string]string, len(b.names))
			b.exact = make([]bool, len(b.names))
		}
		if _, have := b.meta[name]; have && (b.exact[i] || !ex) {
			return
		}
		b.meta[name], b.exact[i] = val, ex
		return
	}
}

// wants reports whether key is one of the names (so that its value is
// worth formatting).
func (b *metaBuilder) wants(key []byte) bool {
	for _, name := range b.names {
		if len(key) == len(name) && strings.EqualFold(string(key), name) {
			return true
		}
	}
	return false
}

// isToken reports whether s is an HTTP token (RFC 9110), as a header
// name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// headerValueOK reports whether s can be a header value: no control
// characters but tab.
func headerValueOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// attachmentText formats an attachment value; ok is false for a value
// that is not text, a number or a boolean.
func attachmentText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case float64:
		return floatText(x), true
	case float32:
		return floatText(float64(x)), true
	}
	return "", false
}

// floatText writes a double as JSON does (NaN and the infinities as
// their names, unquoted).
func floatText(f float64) string {
	return string(unquote(generic.AppendFloat(nil, f, 64)))
}

func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

// metaOfMap picks the exposed attachments of a map as hessianReader or
// hessian2 decoded it (keys that are not strings are skipped).
func metaOfMap(names []string, att any) map[string]string {
	if len(names) == 0 {
		return nil
	}
	b := metaBuilder{names: names}
	switch m := att.(type) {
	case *hmap:
		for i, k := range m.keys {
			if ks, ok := k.(string); ok {
				if v, ok := attachmentText(m.vals[i]); ok {
					b.add(ks, v)
				}
			}
		}
	case map[string]any:
		for k, v := range m {
			if vs, ok := attachmentText(v); ok {
				b.add(k, vs)
			}
		}
	case map[any]any:
		for k, v := range m {
			if ks, ok := k.(string); ok {
				if vs, ok := attachmentText(v); ok {
					b.add(ks, vs)
				}
			}
		}
	}
	return b.meta
}

// attachments reads the attachments map after the value into b with the
// fast reader. ok is false when it cannot (the caller then reads them
// with hessianReader); a body that holds no map there has none.
func (w *replyWriter) attachments(b *metaBuilder) bool {
	if w.pos >= len(w.b) {
		return false
	}
	tag := w.b[w.pos]
	if tag != 'H' && tag != 'M' {
		return false
	}
	w.pos++
	if tag == 'M' && !w.typeName() {
		return false
	}
	// Pairs are collected first: a map that turns out malformed exposes
	// nothing, as hessianReader fails on it as a whole.
	var found [8]struct{ k, v [2]int }
	pairs := found[:0]
	mark := len(w.out)
	defer func() { w.out = w.out[:mark] }()
	for {
		if w.pos >= len(w.b) {
			return false
		}
		if w.b[w.pos] == 'Z' {
			w.pos++
			break
		}
		ktag, _ := w.byte()
		if !isStringTag(ktag) {
			return false
		}
		k0 := len(w.keys)
		var ok bool
		if w.keys, ok = w.appendString(w.keys, ktag); !ok {
			return false
		}
		k := [2]int{k0, len(w.keys)}
		v0 := len(w.out)
		kind, ok := w.value(1)
		if !ok {
			return false
		}
		if !b.wants(w.keys[k[0]:k[1]]) {
			w.keys = w.keys[:k0]
			continue
		}
		switch kind {
		case kindString:
			// Keep the text itself, not its JSON.
			w.out = append(w.out[:v0], w.str...)
		case kindNumber:
			w.out = append(w.out[:v0], unquote(w.out[v0:])...)
		case kindBool:
		default:
			w.out = w.out[:v0]
			w.keys = w.keys[:k0]
			continue
		}
		pairs = append(pairs, struct{ k, v [2]int }{k, [2]int{v0, len(w.out)}})
	}
	for _, p := range pairs {
		b.add(string(w.keys[p.k[0]:p.k[1]]), string(w.out[p.v[0]:p.v[1]]))
	}
	return true
}

// withMeta puts the exposed attachments of a reply that failed the call
// (an exception reply) on its *generic.Error.
func withMeta(err error, meta map[string]string) error {
	if len(meta) == 0 {
		return err
	}
	if ge, ok := err.(*generic.Error); ok && ge != nil {
		ge.Meta = meta
	}
	return err
}

// The dubbo-go client (Triple's, and the tests' reference for the dubbo
// protocol) reads a value reply's attachments through a
// consumer filter: dubbo-go's generic client returns only the value.
// Invoke puts a *replyAttachments in the call's ctx; the filter fills it.
const attachmentsFilterName = "rpcbridge_reply_attachments"

type replyAttachmentsKey struct{}

type replyAttachments struct {
	mu  sync.Mutex
	att map[string]any
}

func (r *replyAttachments) get() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.att
}

type attachmentsFilter struct{}

func (attachmentsFilter) Invoke(ctx context.Context, inv base.Invoker, i base.Invocation) result.Result {
	return inv.Invoke(ctx, i)
}

func (attachmentsFilter) OnResponse(ctx context.Context, res result.Result, _ base.Invoker, _ base.Invocation) result.Result {
	if h, ok := ctx.Value(replyAttachmentsKey{}).(*replyAttachments); ok && res != nil && res.Error() == nil {
		att := res.Attachments()
		cp := make(map[string]any, len(att))
		for k, v := range att {
			cp[k] = v
		}
		h.mu.Lock()
		h.att = cp
		h.mu.Unlock()
	}
	return res
}

// installAttachmentsFilter registers the filter with dubbo-go (whose
// filter registry is locked), once.
var installAttachmentsFilter = sync.OnceFunc(func() {
	extension.SetFilter(attachmentsFilterName, func() filter.Filter { return attachmentsFilter{} })
})
