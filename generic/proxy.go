package generic

import "net/http"

// HTTPProxy is implemented by a Client that forwards whole HTTP requests
// to its instance (an HTTP backend in proxy mode) rather than calls.
type HTTPProxy interface {
	// Proxy forwards r to the instance at path (r's query, headers and
	// body as they came), and writes the instance's reply to w as it
	// arrives. It returns an *Error, having written nothing, when the
	// instance could not be reached: the gateway may then retry
	// elsewhere, or answer with the error.
	Proxy(w http.ResponseWriter, r *http.Request, path string) error
}
