package grpctwo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/rpcbridge/rpcbridge/internal/grpctwo"
)

func start(t *testing.T) (*grpctwo.Server, *grpc.ClientConn) {
	t.Helper()
	s, err := grpctwo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return s, cc
}

func TestEachMethodRunsAndIsRecordedByItsFullName(t *testing.T) {
	s, cc := start(t)
	d, err := s.Files().FindDescriptorByName("authz.v1.Msg")
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	methods := []string{"/authz.v1.PublicService/Echo", "/authz.v1.PublicService/Ping", "/authz.v1.OtherService/Secret", "/authz.v1.OtherService/Echo"}
	for _, full := range methods {
		in := dynamicpb.NewMessage(md)
		in.Set(md.Fields().ByName("text"), protoreflect.ValueOfString("hi"))
		in.Set(md.Fields().ByName("n"), protoreflect.ValueOfInt64(-9007199254740993))
		out := dynamicpb.NewMessage(md)
		if err := cc.Invoke(ctx, full, in, out); err != nil {
			t.Fatalf("%s: %v", full, err)
		}
		if got, want := out.Get(md.Fields().ByName("text")).String(), full+":hi"; got != want {
			t.Errorf("%s text: got %q want %q", full, got, want)
		}
		if got := out.Get(md.Fields().ByName("n")).Int(); got != -9007199254740993 {
			t.Errorf("%s n: got %d want -9007199254740993", full, got)
		}
	}
	if got := s.Calls(); !slices.Equal(got, methods) {
		t.Fatalf("calls: got %q want %q", got, methods)
	}
	// A method of the other service under this one's name is not served,
	// and nothing is recorded for it.
	s.Reset()
	err = cc.Invoke(ctx, "/authz.v1.PublicService/Secret", dynamicpb.NewMessage(md), dynamicpb.NewMessage(md))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("PublicService/Secret: got %v want Unimplemented", err)
	}
	if got := s.Calls(); len(got) != 0 {
		t.Fatalf("calls after Reset and an unserved method: got %q want none", got)
	}
}

func TestReflectionListsBothServicesAndServesTheCompiledFile(t *testing.T) {
	_, cc := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionv1.ServerReflectionRequest) *reflectionv1.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	want := []string{"authz.v1.OtherService", "authz.v1.PublicService", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
	if !slices.Equal(names, want) {
		t.Fatalf("services: got %q want %q", names, want)
	}
	resp = ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "authz.v1.OtherService"}})
	raw := resp.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(raw) != 1 {
		t.Fatalf("file containing authz.v1.OtherService: got %d files (%v) want 1", len(raw), resp.GetErrorResponse())
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw[0], &fdp); err != nil {
		t.Fatal(err)
	}
	if fdp.GetName() != grpctwo.ProtoPath || fdp.GetPackage() != "authz.v1" || len(fdp.GetService()) != 2 {
		t.Fatalf("file: got %s package %s with %d services, want %s package authz.v1 with 2", fdp.GetName(), fdp.GetPackage(), len(fdp.GetService()), grpctwo.ProtoPath)
	}
}
