package mapping

// ZKAuth is the principal a ZooKeeper client authenticates as.
type ZKAuth struct {
	// Scheme: digest.
	Scheme string `yaml:"scheme"`
	User   string `yaml:"user"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `yaml:"password_env"`
}

// ZKACL is one entry of the ACL put on the nodes a process creates.
type ZKACL struct {
	// Scheme: digest | world.
	Scheme string `yaml:"scheme"`
	// User names a digest principal (scheme digest).
	User string `yaml:"user"`
	// Perms: all, or a list of read, write, create, delete, admin joined
	// by commas.
	Perms string `yaml:"perms"`
}

// validateSecurity checks auth and acl; where is e.g. `registries[0] "zk": zookeeper`.
func (z *ZooKeeper) validateSecurity(where string, add func(string, ...any)) {
}
