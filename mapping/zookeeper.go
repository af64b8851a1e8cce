package mapping

import (
	"fmt"
	"os"
	"strings"
)

// ZKAuth is the principal a ZooKeeper client authenticates as.
type ZKAuth struct {
	// Scheme: digest.
	Scheme string `yaml:"scheme"`
	User   string `yaml:"user"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
}

// ZKACL is one entry of the ACL put on the nodes a process creates.
//
// ZooKeeper names a digest principal by user and the SHA-1 of
// "user:password", so a digest entry needs the user's password: an entry
// naming auth.user takes auth's; an entry naming any other user (the
// gateway's principal on the nodes the SDK creates, say) gives
// password_env, the variable holding that user's password.
type ZKACL struct {
	// Scheme: digest | world.
	Scheme string `yaml:"scheme"`
	// User names a digest principal (scheme digest).
	User string `yaml:"user"`
	// Perms: all, or a list of read, write, create, delete, admin joined
	// by commas.
	Perms string `yaml:"perms"`
	// PasswordEnv names the environment variable holding User's password
	// (scheme digest, when User is not auth.user).
	PasswordEnv string `yaml:"password_env"`
}

// zkPermNames are the names perms accepts besides "all" (the grammar
// registry/zookeeper.ParsePerms turns into ZooKeeper's bits; mapping may
// not import it).
var zkPermNames = map[string]bool{"read": true, "write": true, "create": true, "delete": true, "admin": true}

// validateSecurity checks auth and acl; where is e.g. `registries[0] "zk": zookeeper`.
func (z *ZooKeeper) validateSecurity(where string, add func(string, ...any)) {
	authUser := ""
	if a := z.Auth; a != nil {
		if a.Scheme != "digest" {
			add("%s.auth.scheme: want digest, got %q", where, a.Scheme)
		}
		switch {
		case a.User == "":
			add("%s.auth.user is required", where)
		case strings.Contains(a.User, ":"):
			add("%s.auth.user: want a name without ':', got %q", where, a.User)
		default:
			authUser = a.User
		}
		switch {
		case a.PasswordEnv == "":
			add("%s.auth.password_env is required", where)
		case os.Getenv(a.PasswordEnv) == "":
			add("%s.auth.password_env: environment variable %s is empty", where, a.PasswordEnv)
		}
	}
	for i, e := range z.ACL {
		at := fmt.Sprintf("%s.acl[%d]", where, i)
		switch e.Scheme {
		case "world":
			if e.User != "" {
				add("%s.user: scheme world is everyone; want no user, got %q", at, e.User)
			}
			if e.PasswordEnv != "" {
				add("%s.password_env: scheme world takes no password", at)
			}
		case "digest":
			switch {
			case e.User == "":
				add("%s.user is required for scheme digest", at)
			case strings.Contains(e.User, ":"):
				add("%s.user: want a name without ':', got %q", at, e.User)
			case e.PasswordEnv != "":
				if os.Getenv(e.PasswordEnv) == "" {
					add("%s.password_env: environment variable %s is empty", at, e.PasswordEnv)
				}
			case e.User != authUser:
				add("%s: digest user %q is not auth.user; give password_env, the variable holding its password, so that its digest can be computed", at, e.User)
			}
		default:
			add("%s.scheme: want digest or world, got %q", at, e.Scheme)
		}
		if e.Perms == "" {
			add("%s.perms is required: all, or read, write, create, delete, admin joined by commas", at)
		} else if !zkPermsValid(e.Perms) {
			add("%s.perms: want all, or read, write, create, delete, admin joined by commas, got %q", at, e.Perms)
		}
	}
}

// zkPermsValid reports whether perms is "all" or a comma list of names.
func zkPermsValid(perms string) bool {
	if strings.TrimSpace(perms) == "all" {
		return true
	}
	for p := range strings.SplitSeq(perms, ",") {
		if !zkPermNames[strings.TrimSpace(p)] {
			return false
		}
	}
	return true
}
