package main

import (
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
	"github.com/rpcbridge/rpcbridge/protocols/tars"
	"github.com/rpcbridge/rpcbridge/protocols/thrift"
)

// plugins are the protocols a service may name in protocol:, each the
// plug-in its protocols/<p> package exports. Adding a protocol is one line
// here.
func plugins() mapping.Plugins {
	return mapping.Plugins{
		"grpc":   grpc.Plugin{},
		"dubbo":  dubbo.Plugin{},
		"triple": dubbo.Plugin{},
		"thrift": thrift.Plugin{},
		"tars":   tars.Plugin{},
		"http":   phttp.Plugin{},
	}
}
