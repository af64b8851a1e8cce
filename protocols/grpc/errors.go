package grpc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/internal/backendtls"
)

// fill sets the protocol, service and method on err when it is an *Error
// that does not name them yet.
func fill(err error, svc, method string) error {
	e := generic.AsError(err)
	if e.Protocol == "" {
		e.Protocol = "grpc"
	}
	if e.Service == "" {
		e.Service = svc
	}
	if e.Method == "" {
		e.Method = method
	}
	return e
}

// codeOf maps a gRPC status code to a generic code of the same name.
func codeOf(c codes.Code) generic.Code {
	switch c {
	case codes.Canceled:
		return generic.CodeCanceled
	case codes.Unknown:
		return generic.CodeUnknown
	case codes.InvalidArgument:
		return generic.CodeInvalidArgument
	case codes.DeadlineExceeded:
		return generic.CodeDeadlineExceeded
	case codes.NotFound:
		return generic.CodeNotFound
	case codes.AlreadyExists:
		return generic.CodeAlreadyExists
	case codes.PermissionDenied:
		return generic.CodePermissionDenied
	case codes.ResourceExhausted:
		return generic.CodeResourceExhausted
	case codes.FailedPrecondition:
		return generic.CodeFailedPrecondition
	case codes.Aborted:
		return generic.CodeAborted
	case codes.OutOfRange:
		return generic.CodeOutOfRange
	case codes.Unimplemented:
		return generic.CodeUnimplemented
	case codes.Internal:
		return generic.CodeInternal
	case codes.Unavailable:
		return generic.CodeUnavailable
	case codes.DataLoss:
		return generic.CodeDataLoss
	case codes.Unauthenticated:
		return generic.CodeUnauthenticated
	}
	return generic.CodeUnknown
}

// callError converts the error of a call into an *generic.Error carrying
// the backend's code, message and details. Errors raised by the local
// transport (refused connections, our own deadline) get a message of
// their own so that addresses never reach clients.
func (c *client) callError(ctx context.Context, err error, s *schema, svc, method string) error {
	st, ok := status.FromError(err)
	if !ok {
		return fill(generic.AsError(err), svc, method)
	}
	e := &generic.Error{Code: codeOf(st.Code()), Message: st.Message(), BackendCode: int(st.Code()), Err: err}
	switch {
	case deadlinePassed(ctx, st.Code()):
		e.Code = generic.CodeDeadlineExceeded
		e.Message = fmt.Sprintf("backend did not answer %s/%s before the deadline", svc, method)
	case ctx.Err() != nil:
		e.Code = generic.CodeCanceled
		e.Message = "request canceled"
	case st.Code() == codes.Unavailable && c.tlsFailure(st, e, svc):
	case st.Code() == codes.Unavailable && isTransportText(st.Message()):
		e.Message = fmt.Sprintf("backend of service %s is unavailable: connection failed", svc)
	case st.Code() == codes.Unimplemented && c.p.reflect:
		// The backend's schema may have changed: refresh in the background.
		if c.mayRefresh() {
			c.startFetch()
		}
	}
	for _, d := range st.Proto().GetDetails() {
		b, merr := s.marsh.Marshal(d)
		if merr != nil {
			b, _ = json.Marshal(map[string]string{"@type": d.GetTypeUrl(),
				"value": base64.StdEncoding.EncodeToString(d.GetValue())})
		}
		e.Details = append(e.Details, b)
	}
	return fill(e, svc, method)
}

// deadlinePassed reports whether the call failed because ctx's deadline
// passed. grpc may report it (as DEADLINE_EXCEEDED, or CANCELLED when the
// server reset the stream) a moment before ctx itself reports it.
func deadlinePassed(ctx context.Context, c codes.Code) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	if c != codes.DeadlineExceeded && c != codes.Canceled {
		return false
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// tlsFailure reports whether st, an UNAVAILABLE from the transport, is a
// TLS failure (the backend's certificate does not verify, the backend
// refused the gateway's, or it does not speak TLS) and if so makes e a
// BACKEND_ERROR that says why: a TLS backend that fails so is not down,
// it is misconfigured, and trying it again will not help.
func (c *client) tlsFailure(st *status.Status, e *generic.Error, svc string) bool {
	if c.p.opts.TLS == nil {
		return false
	}
	reason, ok := backendtls.TextReason(st.Message())
	if !ok {
		return false
	}
	e.Code = generic.CodeBackendError
	e.BackendCode = int(st.Code())
	e.Message = fmt.Sprintf("service %s: %s", svc, backendtls.Message(reason))
	return true
}

func isTransportText(msg string) bool {
	for _, s := range []string{"connection error", "transport:", "dial ", "connect:", "name resolver", "no children to pick from"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// fetchError converts a schema fetch failure into a clear *generic.Error
// that names the service.
func (c *client) fetchError(err error, svc string) error {
	var ge *generic.Error
	if errors.As(err, &ge) {
		return ge
	}
	var be *buildError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &generic.Error{Code: generic.CodeDeadlineExceeded,
			Message: fmt.Sprintf("timed out fetching the schema of service %s by reflection", svc), Err: err}
	case errors.Is(err, context.Canceled):
		return &generic.Error{Code: generic.CodeCanceled, Message: "request canceled", Err: err}
	case errors.Is(err, errNoReflection):
		return &generic.Error{Code: generic.CodeBackendError,
			Message: fmt.Sprintf("backend of service %s does not serve grpc server reflection; configure a protoset or proto files", svc),
			Err:     err}
	case errors.As(err, &be):
		return &generic.Error{Code: generic.CodeBackendError,
			Message: fmt.Sprintf("backend of service %s sent descriptors that cannot be used", svc), Err: err}
	}
	if st, ok := status.FromError(err); ok {
		if e := (&generic.Error{Err: err}); st.Code() == codes.Unavailable && c.tlsFailure(st, e, svc) {
			return e
		}
		switch st.Code() {
		case codes.Unavailable:
			return &generic.Error{Code: generic.CodeUnavailable, BackendCode: int(st.Code()),
				Message: fmt.Sprintf("backend of service %s is unavailable: schema could not be fetched", svc), Err: err}
		case codes.DeadlineExceeded:
			return &generic.Error{Code: generic.CodeDeadlineExceeded, BackendCode: int(st.Code()),
				Message: fmt.Sprintf("timed out fetching the schema of service %s by reflection", svc), Err: err}
		}
		return &generic.Error{Code: generic.CodeBackendError, BackendCode: int(st.Code()),
			Message: fmt.Sprintf("schema of service %s could not be fetched by reflection: %s", svc, st.Code()), Err: err}
	}
	return &generic.Error{Code: generic.CodeBackendError,
		Message: fmt.Sprintf("schema of service %s could not be fetched by reflection", svc), Err: err}
}
