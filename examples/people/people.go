// Package people is a small gRPC service (demo.v1.PeopleService) used by
// rpcbridge's gRPC adapter tests and by `rpcbridge demo`. Its schema is
// testdata/grpc/people.proto; the generated code lives in demov1.
//
// Faults are injected through request metadata: "x-fault" set to
// not_found, invalid_argument, internal or unavailable answers with that
// status, and "x-delay" (a Go duration such as "250ms") delays the answer
// until the delay passes or the call's context ends. The incoming
// "x-request-id" is echoed in the response header of the same name and in
// the reply's request_id field.
package people

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
)

// ServiceName is the fully-qualified gRPC service name.
const ServiceName = "demo.v1.PeopleService"

// ErrorDomain is the domain of the google.rpc.ErrorInfo detail sent with
// NOT_FOUND.
const ErrorDomain = "people.demo.rpcbridge"

// People returns the fixed data set: ids 1..3.
func People() []*demov1.Person {
	created := timestamppb.New(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	return []*demov1.Person{
		{Id: 1, Name: "Ada Lovelace", Email: "ada@example.com", Role: demov1.Role_ROLE_ADMIN,
			Address: &demov1.Address{Street: "12 St James's Square", City: "London",
				Geo: &demov1.Address_Geo{Lat: 51.5074, Lng: -0.1345}},
			Tags: []string{"math", "engines"}, CreatedAt: created},
		{Id: 2, Name: "Alan Turing", Email: "alan@example.com", Role: demov1.Role_ROLE_USER,
			Address: &demov1.Address{Street: "Bletchley Park", City: "Milton Keynes"},
			Tags:    []string{"logic"}, CreatedAt: created},
		{Id: 3, Name: "Grace Hopper", Email: "grace@example.com", Role: demov1.Role_ROLE_GUEST,
			CreatedAt: created},
	}
}

// Service implements demov1.PeopleServiceServer.
type Service struct {
	demov1.UnimplementedPeopleServiceServer
	people map[int64]*demov1.Person
	order  []*demov1.Person
}

// NewService returns the service with the data set of People.
func NewService() *Service {
	s := &Service{people: map[int64]*demov1.Person{}}
	for _, p := range People() {
		s.people[p.Id] = p
		s.order = append(s.order, p)
	}
	return s
}

// Get implements demov1.PeopleServiceServer.
func (s *Service) Get(ctx context.Context, req *demov1.GetPersonRequest) (*demov1.Person, error) {
	rid, err := prelude(ctx, time.Duration(req.GetDelayMs())*time.Millisecond)
	if err != nil {
		return nil, err
	}
	if req.GetId() <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "id must be positive, got %d", req.GetId())
	}
	p, ok := s.people[req.GetId()]
	if !ok {
		return nil, notFound(req.GetId())
	}
	out := proto.Clone(p).(*demov1.Person)
	out.RequestId = rid
	return out, nil
}

// Echo implements demov1.PeopleServiceServer.
func (s *Service) Echo(ctx context.Context, req *demov1.Everything) (*demov1.Everything, error) {
	rid, err := prelude(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := proto.Clone(req).(*demov1.Everything)
	out.RequestId = rid
	return out, nil
}

// List implements demov1.PeopleServiceServer.
func (s *Service) List(req *demov1.ListRequest, stream grpc.ServerStreamingServer[demov1.Person]) error {
	rid, err := prelude(stream.Context(), 0)
	if err != nil {
		return err
	}
	sent := 0
	for _, p := range s.order {
		if req.GetRole() != demov1.Role_ROLE_UNSPECIFIED && p.Role != req.GetRole() {
			continue
		}
		if req.GetLimit() > 0 && sent >= int(req.GetLimit()) {
			break
		}
		if req.GetFailAfter() > 0 && sent >= int(req.GetFailAfter()) {
			return status.Errorf(codes.Internal, "stream failed after %d messages", sent)
		}
		out := proto.Clone(p).(*demov1.Person)
		out.RequestId = rid
		if err := stream.Send(out); err != nil {
			return err
		}
		sent++
	}
	return nil
}

// Chat implements demov1.PeopleServiceServer: every person received is
// sent back at once, with request_id set; a person named "abort" ends the
// call with ABORTED.
func (s *Service) Chat(stream grpc.BidiStreamingServer[demov1.Person, demov1.Person]) error {
	rid, err := prelude(stream.Context(), 0)
	if err != nil {
		return err
	}
	for {
		p, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if p.GetName() == "abort" {
			return status.Errorf(codes.Aborted, "chat aborted after person %d", p.GetId())
		}
		p.RequestId = rid
		if err := stream.Send(p); err != nil {
			return err
		}
	}
}

// Count implements demov1.PeopleServiceServer: it answers, once the client
// has sent everything, how many requests came and their ids in order. An
// id <= 0 ends the call with INVALID_ARGUMENT at once.
func (s *Service) Count(stream grpc.ClientStreamingServer[demov1.GetPersonRequest, demov1.CountReply]) error {
	rid, err := prelude(stream.Context(), 0)
	if err != nil {
		return err
	}
	out := &demov1.CountReply{RequestId: rid}
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(out)
		}
		if err != nil {
			return err
		}
		if req.GetId() <= 0 {
			return status.Errorf(codes.InvalidArgument, "id must be positive, got %d (message %d)", req.GetId(), out.Count+1)
		}
		out.Count++
		out.Ids = append(out.Ids, req.GetId())
	}
}

func notFound(id int64) error {
	st := status.Newf(codes.NotFound, "person %d not found", id)
	st, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: "PERSON_NOT_FOUND", Domain: ErrorDomain,
		Metadata: map[string]string{"id": fmt.Sprint(id)},
	})
	if err != nil {
		return status.Errorf(codes.NotFound, "person %d not found", id)
	}
	return st.Err()
}

// prelude echoes x-request-id, applies the x-delay / delay and the x-fault
// metadata. It returns the request id.
func prelude(ctx context.Context, delay time.Duration) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	rid := first(md, "x-request-id")
	if rid != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", rid))
	}
	if d := first(md, "x-delay"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil {
			return "", status.Errorf(codes.InvalidArgument, "x-delay: want a duration, got %q", d)
		}
		delay += v
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return "", status.FromContextError(ctx.Err()).Err()
		}
	}
	switch f := first(md, "x-fault"); f {
	case "":
	case "not_found":
		return "", notFound(0)
	case "invalid_argument":
		return "", status.Error(codes.InvalidArgument, "injected invalid argument")
	case "internal":
		return "", status.Error(codes.Internal, "injected internal error")
	case "unavailable":
		return "", status.Error(codes.Unavailable, "injected unavailable")
	default:
		return "", status.Errorf(codes.InvalidArgument, "x-fault: unknown fault %q", f)
	}
	return rid, nil
}

func first(md metadata.MD, k string) string {
	if v := md.Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Server is a running PeopleService.
type Server struct {
	grpc *grpc.Server
	lis  net.Listener
	done chan struct{}
	once sync.Once
	err  error
}

// Start listens on addr (use "127.0.0.1:0" for a free port) and serves
// PeopleService, with the gRPC server reflection service (v1 and v1alpha)
// when reflection is true.
func Start(addr string, withReflection bool) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("people: listen %s: %w", addr, err)
	}
	return Serve(lis, withReflection), nil
}

// Serve serves PeopleService on lis until Stop.
func Serve(lis net.Listener, withReflection bool) *Server {
	gs := grpc.NewServer()
	demov1.RegisterPeopleServiceServer(gs, NewService())
	if withReflection {
		reflection.Register(gs)
	}
	s := &Server{grpc: gs, lis: lis, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.err = err
		}
	}()
	return s
}

// Addr is the address the server listens on (host:port).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Stop stops the server at once, closing open connections, and waits for
// the serving goroutine. It is safe to call more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.grpc.Stop()
		<-s.done
	})
}

// Err is the error that ended serving, if any (valid after Stop).
func (s *Server) Err() error { return s.err }
