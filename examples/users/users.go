// Package users is a small sample Dubbo provider: the Java interface
// org.rpcbridge.demo.UserService, version 1.0.0, served in-process by
// dubbo-go over the dubbo protocol (Hessian2) on a static address, with no
// registry. `rpcbridge demo` runs it behind the gateway.
//
// As Java declares it:
//
//	public interface UserService {
//	    User getUser(long id) throws UserNotFoundException;
//	    User createUser(User user);
//	}
package users

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
)

// Interface and Version name the service the provider exports.
const (
	Interface = "org.rpcbridge.demo.UserService"
	Version   = "1.0.0"
)

// NotFound is the Java class of the exception getUser declares.
const NotFound = "org.rpcbridge.demo.UserNotFoundException"

// User is the POJO org.rpcbridge.demo.User.
//
// dubbo-go's provider writes a reply's fields under the Go name with its
// first letter lower-cased (hessian tags are not used there), so the Go
// names are chosen to give the Java ones: Id, not ID.
type User struct {
	Id    int64    `hessian:"id"`
	Name  string   `hessian:"name"`
	Email string   `hessian:"email"`
	Tags  []string `hessian:"tags"`
}

// JavaClassName implements hessian.POJO.
func (User) JavaClassName() string { return "org.rpcbridge.demo.User" }

// Service implements UserService. Its zero value is not ready: use
// NewService.
type Service struct {
	mu    sync.Mutex
	users map[int64]User
	next  int64
}

// NewService returns the service with two sample users, 1 and 2.
func NewService() *Service {
	return &Service{
		users: map[int64]User{
			1: {Id: 1, Name: "ada", Email: "ada@example.org", Tags: []string{"admin"}},
			2: {Id: 2, Name: "linus", Email: "linus@example.org", Tags: []string{}},
		},
		next: 3,
	}
}

// Reference names the service inside its dubbo-go server.
func (s *Service) Reference() string { return "UserService" }

// GetUser returns user id or throws UserNotFoundException.
func (s *Service) GetUser(ctx context.Context, id int64) (*User, error) {
	s.mu.Lock()
	u, ok := s.users[id]
	s.mu.Unlock()
	if !ok {
		// How a dubbo-go provider throws a Java exception by class name.
		return nil, &java_exception.DubboGenericException{
			ExceptionClass:   NotFound,
			ExceptionMessage: "user " + strconv.FormatInt(id, 10) + " not found",
		}
	}
	return &u, nil
}

// CreateUser stores a user under the next free id and returns it.
func (s *Service) CreateUser(ctx context.Context, u *User) (*User, error) {
	if u == nil || strings.TrimSpace(u.Name) == "" {
		return nil, errors.New("a user needs a name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := *u
	out.Id = s.next
	if out.Tags == nil {
		out.Tags = []string{}
	}
	s.next++
	s.users[out.Id] = out
	return &out, nil
}

// registerTypes tells hessian which Go type stands for each Java class.
// Registering again is harmless.
func registerTypes() {
	hessian.RegisterPOJO(&User{})
}
