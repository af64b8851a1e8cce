package grpc

import (
	"context"
	"errors"
	"fmt"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	rpbalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// errNoReflection: the backend serves neither reflection v1 nor v1alpha.
var errNoReflection = errors.New("backend does not serve grpc server reflection")

// reflector asks one reflection stream questions, one at a time.
type reflector struct {
	cc     *gogrpc.ClientConn
	ctx    context.Context
	alpha  bool
	v1     gogrpc.BidiStreamingClient[rpb.ServerReflectionRequest, rpb.ServerReflectionResponse]
	v1a    gogrpc.BidiStreamingClient[rpbalpha.ServerReflectionRequest, rpbalpha.ServerReflectionResponse]
	opened bool
}

func (r *reflector) open() error {
	var err error
	if r.alpha {
		r.v1a, err = rpbalpha.NewServerReflectionClient(r.cc).ServerReflectionInfo(r.ctx)
	} else {
		r.v1, err = rpb.NewServerReflectionClient(r.cc).ServerReflectionInfo(r.ctx)
	}
	r.opened = err == nil
	return err
}

// ask sends one request and returns its answer. On the first question it
// falls back from v1 to v1alpha when v1 is not implemented.
func (r *reflector) ask(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	for {
		if !r.opened {
			if err := r.open(); err != nil {
				return nil, err
			}
		}
		resp, err := r.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		if status.Code(err) == codes.Unimplemented {
			if r.alpha {
				return nil, fmt.Errorf("%w: %w", errNoReflection, err)
			}
			r.alpha, r.opened = true, false
			continue
		}
		return nil, err
	}
}

func (r *reflector) roundTrip(req *rpb.ServerReflectionRequest) (*rpb.ServerReflectionResponse, error) {
	if !r.alpha {
		if err := r.v1.Send(req); err != nil {
			_, rerr := r.v1.Recv() // the real status
			if rerr != nil {
				return nil, rerr
			}
			return nil, err
		}
		return r.v1.Recv()
	}
	// v1alpha has the same wire shape: convert through bytes.
	var areq rpbalpha.ServerReflectionRequest
	if err := convert(req, &areq); err != nil {
		return nil, err
	}
	if err := r.v1a.Send(&areq); err != nil {
		_, rerr := r.v1a.Recv()
		if rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	aresp, err := r.v1a.Recv()
	if err != nil {
		return nil, err
	}
	var resp rpb.ServerReflectionResponse
	if err := convert(aresp, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

func convert(from, to proto.Message) error {
	b, err := proto.Marshal(from)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, to)
}

func (r *reflector) close() {
	if r.v1 != nil {
		_ = r.v1.CloseSend()
	}
	if r.v1a != nil {
		_ = r.v1a.CloseSend()
	}
}

// fetchReflection collects the files that define services and everything
// they import. Servers that send one file at a time (Python grpcio) get
// asked for each missing dependency by file name.
// Services the backend does not know are returned in missing.
func fetchReflection(ctx context.Context, cc *gogrpc.ClientConn, services []string) (files []*descriptorpb.FileDescriptorProto, missing []string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &reflector{cc: cc, ctx: ctx}
	defer r.close()

	have := map[string]*descriptorpb.FileDescriptorProto{}
	var order []*descriptorpb.FileDescriptorProto
	add := func(resp *rpb.ServerReflectionResponse) error {
		fr := resp.GetFileDescriptorResponse()
		if fr == nil {
			return fmt.Errorf("reflection answered without files")
		}
		for _, raw := range fr.GetFileDescriptorProto() {
			var fd descriptorpb.FileDescriptorProto
			if err := proto.Unmarshal(raw, &fd); err != nil {
				return fmt.Errorf("reflection sent a bad file descriptor: %w", err)
			}
			if have[fd.GetName()] == nil {
				have[fd.GetName()] = &fd
				order = append(order, &fd)
			}
		}
		return nil
	}
	for _, svc := range services {
		resp, err := r.ask(&rpb.ServerReflectionRequest{
			MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc},
		})
		if err != nil {
			return nil, nil, err
		}
		if e := resp.GetErrorResponse(); e != nil {
			missing = append(missing, svc)
			continue
		}
		if err := add(resp); err != nil {
			return nil, nil, err
		}
	}
	tried := map[string]bool{}
	for i := 0; i < len(order); i++ {
		for _, dep := range order[i].GetDependency() {
			if have[dep] != nil || tried[dep] {
				continue
			}
			tried[dep] = true
			resp, err := r.ask(&rpb.ServerReflectionRequest{
				MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep},
			})
			if err != nil {
				return nil, nil, err
			}
			if resp.GetErrorResponse() != nil {
				continue // repaired later from the linked-in registry if possible
			}
			if err := add(resp); err != nil {
				return nil, nil, err
			}
		}
	}
	return order, missing, nil
}
