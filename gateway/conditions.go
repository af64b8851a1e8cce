package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// requestAttrs implements mapping.RequestAttrs over a request, without
// allocating: headers by canonical name, the query parsed once per
// request, cookies scanned in the Cookie headers.
type requestAttrs struct {
	r *http.Request
	q url.Values
}

func (a *requestAttrs) Header(canonical string) (string, bool) {
	vs := a.r.Header[canonical]
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func (a *requestAttrs) Query(name string) (string, bool) {
	vs := a.q[name]
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func (a *requestAttrs) Cookie(name string) (string, bool) {
	for _, line := range a.r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && k == name {
				return strings.Trim(v, `"`), true
			}
		}
	}
	return "", false
}
