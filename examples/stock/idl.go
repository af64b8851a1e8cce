package stock

import _ "embed"

// IDL is the sample's Stock.tars, for callers that need the file (the
// demo writes it out for the gateway's tars.idl).
//
//go:embed Stock.tars
var IDL []byte
