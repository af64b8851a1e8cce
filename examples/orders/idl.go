package orders

import _ "embed"

// IDL is the sample's order.thrift, for callers that need the file (the
// demo writes it out for the gateway's thrift.idl).
//
//go:embed order.thrift
var IDL []byte
