package mapping

// ResolvePaths makes the file paths in c (the protocol sections' IDLs,
// descriptor sets, .proto files, include and import dirs) relative to dir,
// the config file's folder, unless they are absolute.
func (c *Config) ResolvePaths(dir string) {
	c.Server.TLS.resolvePaths(dir)
	c.Server.AccessLog.resolvePaths(dir)
	c.Server.AdminTLS.resolvePaths(dir)
	if c.Server.Auth != nil {
		c.Server.Auth.JWT.resolvePaths(dir)
	}
	for i := range c.Services {
		if t := c.Services[i].TLS; t != nil {
			t.resolvePaths(dir)
		}
		if p := c.Services[i].Proto; p != nil {
			p.ResolvePaths(dir)
		}
	}
}
