package gateway

import (
	"context"
	"sync"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// clientPool shares protocol adapters and their per-instance clients
// across clusters and config generations: one Protocol per distinct
// protocol configuration, one Client per (protocol configuration,
// instance address). A reload that changes only timeouts, retries,
// balancing or routes keeps every connection and schema cache.
type clientPool struct {
	mu     sync.Mutex
	protos map[string]*protoEntry
}

type protoEntry struct {
	proto   generic.Protocol
	refs    int // clusters using it
	clients map[string]*pooledClient
}

type pooledClient struct {
	client generic.Client
	refs   int
}

// protocol returns the shared adapter for s, creating it on first use.
func (p *clientPool) protocol(s *mapping.Service, env mapping.ProtocolEnv) (string, generic.Protocol, error) {
	key := s.ProtocolKey() + "\x00" + s.Name
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.protos[key]; e != nil {
		e.refs++
		return key, e.proto, nil
	}
	proto, err := s.Build(env)
	if err != nil {
		return "", nil, err
	}
	p.protos[key] = &protoEntry{proto: proto, refs: 1, clients: map[string]*pooledClient{}}
	return key, proto, nil
}

// unref drops a cluster's hold on a protocol.
func (p *clientPool) unref(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.protos[key]; e != nil {
		e.refs--
		if e.refs <= 0 && len(e.clients) == 0 {
			delete(p.protos, key)
		}
	}
}

// acquire returns the shared client of an instance, dialling it once.
func (p *clientPool) acquire(key string, t generic.Target) (generic.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.protos[key]
	if e == nil {
		return nil, generic.Errorf(generic.CodeInternal, "protocol released")
	}
	if c := e.clients[t.Address]; c != nil {
		c.refs++
		return c.client, nil
	}
	cl, err := e.proto.Dial(context.Background(), t)
	if err != nil {
		return nil, err
	}
	e.clients[t.Address] = &pooledClient{client: cl, refs: 1}
	return cl, nil
}

// release drops one hold on an instance's client, closing it with the last.
func (p *clientPool) release(key, addr string) {
	p.mu.Lock()
	var closeIt generic.Client
	if e := p.protos[key]; e != nil {
		if c := e.clients[addr]; c != nil {
			c.refs--
			if c.refs <= 0 {
				delete(e.clients, addr)
				closeIt = c.client
			}
		}
		if e.refs <= 0 && len(e.clients) == 0 {
			delete(p.protos, key)
		}
	}
	p.mu.Unlock()
	if closeIt != nil {
		closeIt.Close()
	}
}
