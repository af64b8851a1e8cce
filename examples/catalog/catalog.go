// Package catalog is a small sample HTTP/JSON backend built on net/http
// alone: a product catalogue whose methods are POST <prefix>/<method> with
// a JSON body, the shape rpcbridge's http protocol calls. `rpcbridge demo`
// runs it behind a service with `protocol: http` and
// `http.path_prefix: /api`.
//
//	POST /api/getItem     {"sku": "A-1"}           -> the item, or 404
//	POST /api/searchItems {"query": "tea", "maxPriceCents": 500} -> {"items": [...]}
//
// Arguments may also come as query parameters (the gateway sends path
// parameters such as /v1/items/{sku} that way); they win over the body.
package catalog

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PathPrefix is where the methods are served.
const PathPrefix = "/api"

// Item is one catalogue entry.
type Item struct {
	SKU        string   `json:"sku"`
	Name       string   `json:"name"`
	PriceCents int64    `json:"priceCents"`
	Tags       []string `json:"tags"`
}

var sample = []Item{
	{SKU: "A-1", Name: "green tea, 100 g", PriceCents: 450, Tags: []string{"tea"}},
	{SKU: "A-2", Name: "black tea, 250 g", PriceCents: 890, Tags: []string{"tea"}},
	{SKU: "B-7", Name: "teapot", PriceCents: 2900, Tags: []string{"kitchen"}},
}

// Handler serves the catalogue's methods under PathPrefix.
func Handler() http.Handler {
	items := slices.Clone(sample)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPrefix+"/getItem", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			SKU string `json:"sku"`
		}
		if !decode(w, r, &in) {
			return
		}
		if q := r.URL.Query().Get("sku"); q != "" {
			in.SKU = q
		}
		for _, it := range items {
			if it.SKU == in.SKU {
				reply(w, http.StatusOK, it)
				return
			}
		}
		reply(w, http.StatusNotFound, map[string]string{"message": "no item " + strconv.Quote(in.SKU)})
	})
	mux.HandleFunc("POST "+PathPrefix+"/searchItems", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Query         string `json:"query"`
			MaxPriceCents int64  `json:"maxPriceCents"`
		}
		if !decode(w, r, &in) {
			return
		}
		if q := r.URL.Query().Get("query"); q != "" {
			in.Query = q
		}
		found := []Item{}
		for _, it := range items {
			if strings.Contains(strings.ToLower(it.Name), strings.ToLower(in.Query)) &&
				(in.MaxPriceCents <= 0 || it.PriceCents <= in.MaxPriceCents) {
				found = append(found, it)
			}
		}
		reply(w, http.StatusOK, map[string][]Item{"items": found})
	})
	return mux
}

// decode reads a JSON body into v; an empty body leaves v as it is. It
// answers 400 itself and returns false when the body is not what v wants.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		reply(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return false
	}
	return true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Server is a running catalogue.
type Server struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves
// until Stop.
func Start(addr string) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		srv:  &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second},
		addr: l.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(l)
	}()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Stop closes the listener and every connection, and waits for Serve to
// return.
func (s *Server) Stop() {
	s.srv.Close()
	<-s.done
}
