package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/registry"
)

// AdminOptions configure the control plane.
type AdminOptions struct {
	// Reload re-reads the config source and applies it (POST /admin/reload).
	// Nil answers 501.
	Reload func() error
	// Pprof serves Go's profiler under /debug/pprof/.
	Pprof bool
	// Addr is the control plane's listen address, for the Host check of
	// /admin/* requests; Serve fills it in. Empty: only loopback names and
	// addresses are accepted as Host.
	Addr string
}

// AdminHandler serves the control plane:
//
//	GET  /healthz                                        liveness
//	GET  /readyz                                         readiness (503 while draining)
//	GET  /metrics                                        Prometheus
//	GET  /admin/services                                 services, instances and their state
//	GET  /admin/services/{svc}/schema                    the service's methods and types
//	POST /admin/services/{svc}/instances                 add an instance (JSON registry.Instance)
//	DELETE /admin/services/{svc}/instances/{addr}        remove an instance added here or in YAML
//	POST /admin/services/{svc}/instances/{addr}/offline  take an instance out of traffic
//	POST /admin/services/{svc}/instances/{addr}/online   put it back
//	GET  /admin/routes                                   configured routes and routes reported by instances
//	GET  /admin/config                                   the config version in force
//	POST /admin/reload                                   reload the config
//
// /admin/* and /debug/pprof/* are guarded (see adminGuard); /healthz,
// /readyz and /metrics stay open.
func (g *Gateway) AdminHandler(o AdminOptions) http.Handler {
	return g.adminGuard(g.adminMux(o), o.Addr)
}

func (g *Gateway) adminMux(o AdminOptions) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if g.draining.Load() {
			writeJSON(w, 503, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, 200, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.opts.Metrics, promhttp.HandlerOpts{}))
	g.consoleRoutes(mux)
	mux.HandleFunc("GET /admin/services", func(w http.ResponseWriter, r *http.Request) {
		st := g.state.Load()
		type svcJSON struct {
			Name      string          `json:"name"`
			Protocol  string          `json:"protocol"`
			Balancer  string          `json:"balancer"`
			Circuit   string          `json:"circuit,omitempty"`
			Discovery string          `json:"discovery_error,omitempty"`
			InFlight  int64           `json:"in_flight,omitempty"`
			Instances []instanceState `json:"instances"`
		}
		out := []svcJSON{}
		for _, s := range st.cfg.Services {
			c := st.clusters[s.Name]
			row := svcJSON{Name: s.Name, Protocol: s.Protocol, Balancer: s.Balancer, Circuit: c.breaker.stateName(),
				InFlight: c.active.Load(), Instances: c.instances()}
			if e := c.discoveryErr.Load(); e != nil {
				row.Discovery = generic.Clip(*e)
			}
			out = append(out, row)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		writeJSON(w, 200, map[string]any{"services": out})
	})
	mux.HandleFunc("GET /admin/services/{svc}/schema", func(w http.ResponseWriter, r *http.Request) {
		c := g.adminCluster(w, r)
		if c == nil {
			return
		}
		sc, err := c.describe(r.Context())
		if err != nil {
			writeError(w, generic.AsError(err))
			return
		}
		writeJSON(w, 200, sc)
	})
	mux.HandleFunc("POST /admin/services/{svc}/instances", func(w http.ResponseWriter, r *http.Request) {
		c := g.adminCluster(w, r)
		if c == nil {
			return
		}
		var in registry.Instance
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeError(w, errorf(generic.CodeInvalidArgument, "instance JSON: %v", err))
			return
		}
		if _, _, err := net.SplitHostPort(in.Address); err != nil {
			writeError(w, errorf(generic.CodeInvalidArgument, "address: want host:port, got %q", in.Address))
			return
		}
		in.Service, in.Protocol, in.Online = c.name, c.svc.Protocol, true
		c.addStatic(&in)
		writeJSON(w, 200, map[string]any{"service": c.name, "instances": c.instances()})
	})
	mux.HandleFunc("DELETE /admin/services/{svc}/instances/{addr}", func(w http.ResponseWriter, r *http.Request) {
		c := g.adminCluster(w, r)
		if c == nil {
			return
		}
		if !c.removeStatic(r.PathValue("addr")) {
			writeError(w, errorf(generic.CodeNotFound, "service %q has no static instance %q", c.name, r.PathValue("addr")))
			return
		}
		writeJSON(w, 200, map[string]any{"service": c.name, "instances": c.instances()})
	})
	state := func(online bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c := g.adminCluster(w, r)
			if c == nil {
				return
			}
			if !c.setOnline(r.PathValue("addr"), online) {
				writeError(w, errorf(generic.CodeNotFound, "service %q has no instance %q", c.name, r.PathValue("addr")))
				return
			}
			writeJSON(w, 200, map[string]any{"service": c.name, "instances": c.instances()})
		}
	}
	mux.HandleFunc("POST /admin/services/{svc}/instances/{addr}/offline", state(false))
	mux.HandleFunc("POST /admin/services/{svc}/instances/{addr}/online", state(true))
	mux.HandleFunc("GET /admin/routes", func(w http.ResponseWriter, r *http.Request) {
		st := g.state.Load()
		sdkRoutes := []apiRoute{}
		if at := g.apiRoutes.Load(); at != nil {
			sdkRoutes = at.routes
		}
		writeJSON(w, 200, map[string]any{"configured": st.cfg.Routes, "reported": sdkRoutes})
	})
	mux.HandleFunc("GET /openapi.json", g.serveOpenAPI)
	mux.HandleFunc("GET /admin/config", func(w http.ResponseWriter, r *http.Request) {
		st := g.state.Load()
		writeJSON(w, 200, map[string]any{
			"version": st.version, "loaded_at": st.loadedAt.UTC().Format(time.RFC3339Nano),
			"source": g.source(), "services": len(st.cfg.Services), "routes": st.table.Len(),
			"reloads": g.reloads.Load(), "yaml": string(mapping.Redact(st.raw)), "build": g.opts.Build,
			"service_sets": st.cfg.ServiceSets,
		})
	})
	mux.HandleFunc("POST /admin/reload", func(w http.ResponseWriter, r *http.Request) {
		if o.Reload == nil {
			writeError(w, errorf(generic.CodeUnimplemented, "reload is not available for this config source"))
			return
		}
		if err := o.Reload(); err != nil {
			writeError(w, errorf(generic.CodeInvalidArgument, "config refused, the old one stays in force: %v", err))
			return
		}
		writeJSON(w, 200, map[string]any{"version": g.state.Load().version})
	})
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(generic.CodeNotFound, "no admin endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (g *Gateway) adminCluster(w http.ResponseWriter, r *http.Request) *cluster {
	c := g.state.Load().clusters[r.PathValue("svc")]
	if c == nil {
		writeError(w, errorf(generic.CodeNotFound, "no service named %q", r.PathValue("svc")))
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errorf(generic.CodeInternal, "encoding reply"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// Serve runs the data plane on data and the control plane on admin (which
// may be nil) until ctx is done, then drains: /readyz turns 503, the
// listeners stop accepting, and requests in flight get up to
// server.shutdown_timeout to finish.
//
// The data plane's limits come from the config in force when Serve starts
// (server.read_timeout, write_timeout, idle_timeout, max_connections); a
// reload does not change them.
func (g *Gateway) Serve(ctx context.Context, data, admin net.Listener, o AdminOptions) error {
	sc := g.state.Load().cfg.Server
	errLog := slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: min(10*time.Second, sc.ReadTimeout),
		ReadTimeout:       sc.ReadTimeout,
		WriteTimeout:      sc.WriteTimeout,
		IdleTimeout:       sc.IdleTimeout,
		ConnContext:       withConn,
		ErrorLog:          errLog,
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv.Protocols = &protos
	var dataTLS, adminTLS *tls.Config
	if sc.TLS != nil {
		var err error
		if dataTLS, err = newServerTLS(sc.TLS, g.log); err != nil {
			return fmt.Errorf("server.tls: %w", err)
		}
	}
	if sc.AdminTLS != nil {
		var err error
		if adminTLS, err = newServerTLS(sc.AdminTLS, g.log); err != nil {
			return fmt.Errorf("server.admin_tls: %w", err)
		}
	}
	errc := make(chan error, 2)
	dl := newConnListener(data, sc.MaxConnections, g.metrics, dataTLS)
	go func() { errc <- srv.Serve(dl) }()
	var asrv *http.Server
	if admin != nil {
		if o.Addr == "" {
			o.Addr = admin.Addr().String()
		}
		asrv = &http.Server{Handler: g.AdminHandler(o), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, ErrorLog: errLog, Protocols: &protos}
		al := newConnListener(admin, 0, nil, adminTLS)
		go func() { errc <- asrv.Serve(al) }()
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			srv.Close()
			if asrv != nil {
				asrv.Close()
			}
			return err
		}
	case <-ctx.Done():
	}
	g.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), g.state.Load().cfg.Server.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if asrv != nil {
		asrv.Shutdown(sctx)
	}
	return err
}
