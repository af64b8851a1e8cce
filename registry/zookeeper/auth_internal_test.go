package zookeeper

import (
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

func TestParsePerms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"all", zk.PermAll},
		{"read", zk.PermRead},
		{"read,create", zk.PermRead | zk.PermCreate},
		{"read, write ,delete,admin", zk.PermRead | zk.PermWrite | zk.PermDelete | zk.PermAdmin},
	} {
		got, err := ParsePerms(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePerms(%q): got %d, %v want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "rw", "read,", "all,read", "cdrwa"} {
		if got, err := ParsePerms(in); err == nil {
			t.Errorf("ParsePerms(%q): got %d, nil want an error", in, got)
		}
	}
}

func TestBuildACL(t *testing.T) {
	auth := &Auth{User: "gateway", Password: "gpw"}
	got, err := buildACL([]ACL{
		{Scheme: "digest", User: "gateway", Perms: "all"},
		{Scheme: "digest", User: "sdk", Password: "spw", Perms: "read,create"},
		{Scheme: "world", Perms: "read"},
	}, auth)
	if err != nil {
		t.Fatalf("buildACL: %v", err)
	}
	want := []zk.ACL{
		zk.DigestACL(zk.PermAll, "gateway", "gpw")[0],
		zk.DigestACL(zk.PermRead|zk.PermCreate, "sdk", "spw")[0],
		{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
	}
	if len(got) != len(want) {
		t.Fatalf("buildACL: got %v want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("buildACL[%d]: got %v want %v", i, got[i], want[i])
		}
	}
	if d := describeACL(got); d != "digest:gateway:all,digest:sdk:read,create,world:anyone:read" {
		t.Errorf("describeACL: got %q want the entries without digests", d)
	}
	open, err := buildACL(nil, nil)
	if err != nil || len(open) != 1 || open[0] != zk.WorldACL(zk.PermAll)[0] {
		t.Errorf("buildACL(nil): got %v, %v want world:anyone all", open, err)
	}
	for _, tc := range []struct {
		acl  ACL
		want string
	}{
		{ACL{Scheme: "digest", User: "sdk", Perms: "all"}, `acl[0]: digest user "sdk": want its password`},
		{ACL{Scheme: "ip", User: "10.0.0.1", Perms: "all"}, `acl[0] scheme: want digest or world, got "ip"`},
		{ACL{Scheme: "world", User: "x", Perms: "all"}, "scheme world takes no user"},
		{ACL{Scheme: "world", Perms: "rw"}, `acl[0] perms: want all, or read`},
		{ACL{Scheme: "digest", User: "a:b", Password: "p", Perms: "all"}, "want a name without ':'"},
	} {
		if _, err := buildACL([]ACL{tc.acl}, auth); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("buildACL(%+v): got %v want an error containing %q", tc.acl, err, tc.want)
		}
	}
}

func TestPasswordVerdict(t *testing.T) {
	ours := digestID("gateway", "right")
	theirs := digestID("gateway", "other")
	hidden := "gateway:x"
	cfg := zk.ACL{Perms: zk.PermAll, Scheme: "digest", ID: digestID("config", "c")}
	for _, tc := range []struct {
		name string
		acl  []zk.ACL
		want verdict
	}{
		{"digests shown, ours among them", []zk.ACL{cfg, {Perms: zk.PermRead, Scheme: "digest", ID: ours}}, verdictMatch},
		{"digests shown, ours missing", []zk.ACL{cfg, {Perms: zk.PermRead, Scheme: "digest", ID: theirs}}, verdictMismatch},
		{"user not named", []zk.ACL{cfg, {Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}, verdictUnknown},
		{"hidden, user has admin", []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: hidden}, {Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}, verdictMismatch},
		{"hidden, only the user's entry grants read", []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "config:x"}, {Perms: zk.PermRead, Scheme: "digest", ID: hidden}}, verdictMatch},
		{"hidden, world grants read too", []zk.ACL{{Perms: zk.PermRead, Scheme: "digest", ID: hidden}, {Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}, verdictUnknown},
		{"hidden, an ip entry may grant read", []zk.ACL{{Perms: zk.PermRead, Scheme: "digest", ID: hidden}, {Perms: zk.PermRead, Scheme: "ip", ID: "127.0.0.1"}}, verdictUnknown},
		{"hidden, user may only create", []zk.ACL{{Perms: zk.PermCreate, Scheme: "digest", ID: hidden}, {Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}, verdictUnknown},
		{"a user whose name extends ours", []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: digestID("gateway2", "right")}}, verdictUnknown},
	} {
		if got := passwordVerdict(tc.acl, "gateway", ours); got != tc.want {
			t.Errorf("%s: got verdict %d want %d", tc.name, got, tc.want)
		}
	}
}
