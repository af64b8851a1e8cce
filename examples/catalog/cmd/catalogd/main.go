// Command catalogd runs the sample HTTP/JSON catalogue (POST /api/<method>)
// until SIGINT or SIGTERM:
//
//	catalogd -addr 127.0.0.1:8081
package main

import (
	"github.com/rpcbridge/rpcbridge/examples/catalog"
	"github.com/rpcbridge/rpcbridge/examples/internal/samplemain"
)

func main() {
	samplemain.Run("catalogd", "127.0.0.1:8081", "catalogue (HTTP/JSON, POST "+catalog.PathPrefix+"/<method>)", func(addr string) (samplemain.Started, error) {
		srv, err := catalog.Start(addr)
		if err != nil {
			return samplemain.Started{}, err
		}
		return samplemain.Started{Addr: srv.Addr(), Stop: srv.Stop}, nil
	})
}
