package zookeeper

// Authentication and ACLs: the digest principal a Registry authenticates
// as, the ACL it puts on every node it creates, the check of its password
// against the ACL of <root>, and the errors for requests ZooKeeper refuses.

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Auth is the digest principal a Registry authenticates as. ZooKeeper
// accepts any digest credentials when they are given and only refuses the
// requests that the ACL of a node does not grant, so New also checks the
// password against the ACL of <root> (see Options.Auth).
type Auth struct {
	// User is the digest user name (no ':').
	User string
	// Password is its password.
	Password string
}

// ACL is one entry of the ACL a Registry puts on every node it creates.
type ACL struct {
	// Scheme is "digest" (one user) or "world" (anyone).
	Scheme string
	// User is the digest user (scheme digest).
	User string
	// Password is User's password, from which ZooKeeper's digest
	// (base64 of the SHA-1 of "user:password") is computed. Leave it
	// empty when User is Options.Auth's user: its password is used.
	Password string
	// Perms is "all", or some of read, write, create, delete and admin
	// joined by commas.
	Perms string
}

// permNames are the names Perms accepts, with ZooKeeper's bits. The same
// grammar is checked by mapping (registries[].zookeeper.acl[].perms),
// which may not import this package.
var permNames = []struct {
	name string
	bit  int32
}{
	{"read", zk.PermRead}, {"write", zk.PermWrite}, {"create", zk.PermCreate},
	{"delete", zk.PermDelete}, {"admin", zk.PermAdmin},
}

// ParsePerms turns "all" or a comma-separated list of read, write,
// create, delete and admin into ZooKeeper's permission bits.
func ParsePerms(s string) (int32, error) {
	if strings.TrimSpace(s) == "all" {
		return zk.PermAll, nil
	}
	var bits int32
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		found := false
		for _, n := range permNames {
			if p == n.name {
				bits |= n.bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("want all, or read, write, create, delete, admin joined by commas, got %q", s)
		}
	}
	return bits, nil
}

// permString renders bits the way Perms is written.
func permString(bits int32) string {
	if bits == zk.PermAll {
		return "all"
	}
	var names []string
	for _, n := range permNames {
		if bits&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// digestID is ZooKeeper's id of a digest principal: user:base64(sha1(user:password)).
func digestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// checkAuth validates an Auth.
func checkAuth(a *Auth) error {
	switch {
	case a.User == "" || strings.Contains(a.User, ":"):
		return generic.Errorf(generic.CodeInvalidArgument, "zookeeper: auth user: want a name without ':', got %q", a.User)
	case a.Password == "":
		return generic.Errorf(generic.CodeInvalidArgument, "zookeeper: auth user %q: want a password, got none", a.User)
	}
	return nil
}

// buildACL turns the configured entries into ZooKeeper's form. No entries:
// world:anyone with every permission (ZooKeeper's open ACL).
func buildACL(entries []ACL, auth *Auth) ([]zk.ACL, error) {
	if len(entries) == 0 {
		return zk.WorldACL(zk.PermAll), nil
	}
	out := make([]zk.ACL, 0, len(entries))
	for i, e := range entries {
		perms, err := ParsePerms(e.Perms)
		if err != nil {
			return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: acl[%d] perms: %v", i, err)
		}
		switch e.Scheme {
		case "world":
			if e.User != "" || e.Password != "" {
				return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: acl[%d]: scheme world takes no user or password, got user %q", i, e.User)
			}
			out = append(out, zk.ACL{Perms: perms, Scheme: "world", ID: "anyone"})
		case "digest":
			if e.User == "" || strings.Contains(e.User, ":") {
				return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: acl[%d]: digest user: want a name without ':', got %q", i, e.User)
			}
			pw := e.Password
			if pw == "" && auth != nil && auth.User == e.User {
				pw = auth.Password
			}
			if pw == "" {
				return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: acl[%d]: digest user %q: want its password to compute the digest (or the user Auth names), got none", i, e.User)
			}
			out = append(out, zk.ACL{Perms: perms, Scheme: "digest", ID: digestID(e.User, pw)})
		default:
			return nil, generic.Errorf(generic.CodeInvalidArgument, "zookeeper: acl[%d] scheme: want digest or world, got %q", i, e.Scheme)
		}
	}
	return out, nil
}

// describeACL renders an ACL for logs, without digests:
// "digest:gateway:all,world:anyone:read".
func describeACL(acl []zk.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		id := a.ID
		if a.Scheme == "digest" {
			id, _, _ = strings.Cut(id, ":")
		}
		parts[i] = a.Scheme + ":" + id + ":" + permString(a.Perms)
	}
	return strings.Join(parts, ",")
}

// Principal is who this registry acts as, for messages: "digest:<user>",
// or "world:anyone (no auth)".
func (r *Registry) Principal() string {
	if r.auth == nil {
		return "world:anyone (no auth)"
	}
	return "digest:" + r.auth.User
}

// refused turns ZooKeeper's NoAuth for op (create, change, delete, read,
// list) on path into a PERMISSION_DENIED error naming the node, the
// principal and the ACL that refused (a node's parent for create and
// delete); errors.Is(err, zk.ErrNoAuth) stays true. Other errors are
// returned as they are.
func (r *Registry) refused(op, path string, err error) error {
	if !errors.Is(err, zk.ErrNoAuth) {
		return err
	}
	acl, perm := path, "read"
	switch op {
	case "create", "delete":
		acl, perm = parentPath(path), op
	case "change":
		perm = "write"
	}
	return &generic.Error{
		Code:    generic.CodePermissionDenied,
		Message: fmt.Sprintf("zookeeper refused to %s %s for %s: the ACL of %s does not grant it %s", op, path, r.Principal(), acl, perm),
		Err:     err,
	}
}

// parentPath is the node above path ("/" above a top-level node).
func parentPath(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// rootPath is <root>, "/" when the root is the top.
func (r *Registry) rootPath() string {
	if r.root == "" {
		return "/"
	}
	return r.root
}

// errClosed is returned by requests made after Close.
var errClosed = generic.Errorf(generic.CodeFailedPrecondition, "zookeeper: registry closed")

// ready waits until requests may be made: at once without Auth; with it,
// once the credentials were accepted for the first time (the library
// re-sends them on every reconnect and new session before any other
// request) and the password was checked against the ACL of <root>. It
// returns that check's error when the password is wrong.
func (r *Registry) ready(ctx context.Context) error {
	select {
	case <-r.authed:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return errClosed
	}
	return r.authErr
}

// Verify waits until the registry has authenticated and checked its
// password against the ACL of <root> (at once without Auth) and returns
// the verdict: nil, or an error saying why this principal cannot be the
// one <root>'s ACL names. It returns UNAVAILABLE when ctx ends first
// (ZooKeeper unreachable): the check then happens at the first session
// and its failure is returned by every later request.
func (r *Registry) Verify(ctx context.Context) error {
	err := r.ready(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, errClosed) {
		return generic.Errorf(generic.CodeUnavailable, "zookeeper: could not check the credentials of %s: no session with ZooKeeper yet", r.Principal())
	}
	return err
}

// authenticate runs once, in the background, when Auth is set: it adds
// the credentials to the connection (retrying until the first session
// takes them), checks the password against the ACL of <root>, then opens
// the registry for requests.
func (r *Registry) authenticate() {
	defer r.wg.Done()
	cred := []byte(r.auth.User + ":" + r.auth.Password)
	wait := func() bool {
		select {
		case <-r.done:
			return false
		case <-r.session():
		case <-time.After(time.Second):
		}
		return true
	}
	for {
		err := r.conn.AddAuth("digest", cred)
		if err == nil {
			break
		}
		r.log.Debug("zookeeper: adding credentials failed; retrying", "user", r.auth.User, "err", err)
		if !wait() {
			return
		}
	}
	for {
		err := r.checkPassword()
		if err == nil || !isConnErr(err) {
			if err != nil {
				r.authErr = err
				r.log.Error("zookeeper: credentials refused; this registry makes no requests", "user", r.auth.User, "err", err)
			}
			break
		}
		if !wait() {
			return
		}
	}
	close(r.authed) // publishes authErr
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// checkPassword compares this principal with the ACL of <root>.
// ZooKeeper shows the digests of an ACL only to principals with admin on
// the node ("user:x" to others), so the check is:
//
//   - <root> missing, or its ACL names no digest for the user: nothing
//     to check (nil);
//   - the ACL cannot be read at all (NoAuth: neither read nor admin):
//     refused, since either the password is wrong or the ACL gives this
//     user nothing on <root> (every principal needs read on <root>);
//   - the digests are shown: one of the user's must equal ours;
//   - they are hidden: the user's entry grants admin (we would see them
//     with the right password): refused; it grants read and nothing but
//     that entry grants read or admin to a digest principal: the read
//     worked through it, so the password is right; otherwise it cannot
//     be told (nil, logged).
//
// A connection error is returned as it is, to be retried.
func (r *Registry) checkPassword() error {
	path := r.rootPath()
	acl, _, err := r.conn.GetACL(path)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		r.log.Debug("zookeeper: root does not exist yet; credentials not checked", "path", path, "user", r.auth.User)
		return nil
	case errors.Is(err, zk.ErrNoAuth):
		return generic.Errorf(generic.CodePermissionDenied,
			"zookeeper user %q may not read the ACL of %s: the password is wrong, or that ACL gives this user neither read nor admin (every principal needs read on the root)", r.auth.User, path)
	case err != nil:
		return err
	}
	verdict := passwordVerdict(acl, r.auth.User, digestID(r.auth.User, r.auth.Password))
	switch verdict {
	case verdictMismatch:
		return generic.Errorf(generic.CodePermissionDenied,
			"zookeeper user %q: the password does not match the digest the ACL of %s names for this user", r.auth.User, path)
	case verdictMatch:
		r.log.Debug("zookeeper: credentials match the ACL of the root", "path", path, "user", r.auth.User)
	case verdictUnknown:
		r.log.Info("zookeeper: the password could not be checked against the ACL of the root (it does not tell)", "path", path, "user", r.auth.User, "acl", describeACL(acl))
	}
	return nil
}

type verdict int

const (
	verdictUnknown verdict = iota
	verdictMatch
	verdictMismatch
)

// passwordVerdict is checkPassword's decision on an ACL that was read.
func passwordVerdict(acl []zk.ACL, user, ours string) verdict {
	var mine, others int32
	named, hidden, shown := false, false, false
	for _, a := range acl {
		if a.Scheme == "digest" && strings.HasPrefix(a.ID, user+":") {
			named = true
			if a.ID == ours {
				return verdictMatch
			}
			if a.ID == user+":x" {
				hidden = true
			} else {
				shown = true
			}
			mine |= a.Perms
			continue
		}
		if a.Scheme != "digest" {
			// world, ip, sasl, x509...: may grant this connection too.
			others |= a.Perms
		}
	}
	switch {
	case !named:
		return verdictUnknown
	case shown:
		// We see the digests (we have admin), and none is ours.
		return verdictMismatch
	case hidden && mine&zk.PermAdmin != 0:
		return verdictMismatch
	case hidden && mine&zk.PermRead != 0 && others&(zk.PermRead|zk.PermAdmin) == 0:
		return verdictMatch
	}
	return verdictUnknown
}
