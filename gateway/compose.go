package gateway

// Composed routes: one request fans out to several calls, across services
// and protocols, and gets one reply built from theirs. The plan (call
// order, argument and reply templates) is compiled when the config loads
// (mapping/compose.go); here it runs.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// composeRoute is a composed route of one config generation.
type composeRoute struct {
	plan    *mapping.ComposePlan
	timeout time.Duration
	// svc stands for the route in metrics, logs and errors.
	svc *mapping.Service
}

func newComposeRoute(r *mapping.Route) *composeRoute {
	timeout := r.Compose.Timeout
	if timeout <= 0 {
		timeout = r.Timeout
	}
	if timeout <= 0 {
		timeout = mapping.DefaultTimeout
	}
	name := "compose " + r.Match.Path + r.Match.Prefix
	return &composeRoute{plan: r.Compose.Plan(), timeout: timeout, svc: &mapping.Service{Name: name, Protocol: "compose", Timeout: timeout}}
}

// composeResult is one call's outcome.
type composeResult struct {
	body json.RawMessage
	err  *generic.Error
	// skipped: not called because a call it needs failed.
	skipped bool
}

// invokeCompose runs a composed route: each call as soon as the calls it
// references have answered (independent calls at once), all within the
// route's timeout; then the reply.
func (g *Gateway) invokeCompose(rc *reqCtx) {
	st, t, rw, r := rc.st, rc.t, rc.w, rc.r
	cr := t.compose
	ctx, cancel := context.WithTimeout(r.Context(), cr.timeout)
	defer cancel()
	params := map[string]string{}
	for k, vs := range rc.q {
		if len(vs) > 0 {
			params[k] = vs[0]
		}
	}
	for _, p := range t.params {
		params[p.Name] = p.Value
	}
	calls := cr.plan.Calls
	results := make([]composeResult, len(calls))
	done := make([]chan struct{}, len(calls))
	for i := range done {
		done[i] = make(chan struct{})
	}
	tag := r.Header.Get(st.cfg.Server.TagHeader)
	var wg sync.WaitGroup
	for i, pc := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for _, d := range pc.Deps {
				select {
				case <-done[d]:
				case <-ctx.Done():
					results[i].err = errorf(generic.CodeDeadlineExceeded, "compose.timeout of %s passed before the call", cr.timeout)
					return
				}
				if e := results[d].err; e != nil && !calls[d].Optional {
					results[i].err = errorf(generic.CodeAborted, "not called: %s, which it needs, failed", calls[d].Name)
					results[i].skipped = true
					return
				}
			}
			if ctx.Err() != nil {
				results[i].err = errorf(generic.CodeDeadlineExceeded, "compose.timeout of %s passed before the call", cr.timeout)
				return
			}
			c := st.clusters[pc.Service]
			if c == nil {
				results[i].err = errorf(generic.CodeUnavailable, "service %s is not in force", pc.Service)
				return
			}
			var args bytes.Buffer
			render(&args, pc.Args, params, results)
			call := &generic.Call{Method: pc.Method, Body: args.Bytes(), Meta: callMeta(st, t, r, c.svc)}
			cctx, ccancel := context.WithTimeout(ctx, c.svc.Timeout)
			defer ccancel()
			res, err := g.call(cctx, c, call, pickRequest{tag: tag, retries: *c.svc.Retries})
			switch {
			case err != nil:
				e := *generic.AsError(err)
				if e.Service == "" {
					e.Service, e.Protocol = c.name, c.svc.Protocol
				}
				if e.Method == "" {
					e.Method = pc.Method
				}
				results[i].err = &e
			case res.NoReply || res.Body == nil:
				results[i].body = json.RawMessage("null")
			default:
				results[i].body = res.Body
			}
		}()
	}
	wg.Wait()
	// A required call that failed fails the route: the first that failed
	// itself, rather than one skipped because of it.
	for _, skipped := range []bool{false, true} {
		for i, pc := range calls {
			if e := results[i].err; e != nil && !pc.Optional && results[i].skipped == skipped {
				e.Call = pc.Name
				writeError(rw, e)
				return
			}
		}
	}
	var out bytes.Buffer
	if cr.plan.DefaultReply {
		out.WriteByte('{')
		for i, pc := range calls {
			if i > 0 {
				out.WriteByte(',')
			}
			writeKey(&out, pc.Name)
			writeValue(&out, results[i].body)
		}
	} else {
		render(&out, cr.plan.Reply, params, results)
		if out.Len() == 0 || out.Bytes()[out.Len()-1] != '}' || !hasErrors(calls, results) {
			finish(rw, out.Bytes())
			return
		}
		out.Truncate(out.Len() - 1) // the object's '}': _errors go in
	}
	if hasErrors(calls, results) {
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		writeKey(&out, "_errors")
		out.WriteByte('{')
		n := 0
		for i, pc := range calls {
			if e := results[i].err; e != nil {
				if n > 0 {
					out.WriteByte(',')
				}
				n++
				writeKey(&out, pc.Name)
				out.Write(e.MarshalBody())
			}
		}
		out.WriteByte('}')
	}
	out.WriteByte('}')
	finish(rw, out.Bytes())
}

func finish(rw http.ResponseWriter, b []byte) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Length", strconv.Itoa(len(b)))
	rw.Write(b)
}

func hasErrors(calls []*mapping.PlannedCall, results []composeResult) bool {
	for i := range calls {
		if results[i].err != nil {
			return true
		}
	}
	return false
}

func writeKey(b *bytes.Buffer, k string) {
	q, _ := json.Marshal(k)
	b.Write(q)
	b.WriteByte(':')
}

func writeValue(b *bytes.Buffer, v json.RawMessage) {
	if len(v) == 0 {
		b.WriteString("null")
		return
	}
	b.Write(v)
}

// render writes a template filled from the parameters and the replies; a
// reference to a call that failed, or a path that is not there, is null.
func render(b *bytes.Buffer, t *mapping.Template, params map[string]string, results []composeResult) {
	switch t.Kind {
	case mapping.KindLiteral:
		b.Write(t.Raw)
	case mapping.KindParam:
		v, ok := params[t.Param]
		if !ok {
			b.WriteString("null")
			return
		}
		q, _ := json.Marshal(v)
		b.Write(q)
	case mapping.KindRef:
		writeValue(b, extract(results[t.Call].body, t.Path))
	case mapping.KindObject:
		b.WriteByte('{')
		for i, k := range t.Keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeKey(b, k)
			render(b, t.Items[i], params, results)
		}
		b.WriteByte('}')
	case mapping.KindArray:
		b.WriteByte('[')
		for i, it := range t.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			render(b, it, params, results)
		}
		b.WriteByte(']')
	}
}

// extract follows path into a reply, keeping the value's JSON as it came
// (an int64 stays exact); nil when it is not there.
func extract(v json.RawMessage, path []mapping.PathStep) json.RawMessage {
	for _, s := range path {
		if len(v) == 0 {
			return nil
		}
		if s.Field != "" {
			var m map[string]json.RawMessage
			if json.Unmarshal(v, &m) != nil {
				return nil
			}
			v = m[s.Field]
			continue
		}
		var a []json.RawMessage
		if json.Unmarshal(v, &a) != nil || s.Index >= len(a) {
			return nil
		}
		v = a[s.Index]
	}
	return v
}
