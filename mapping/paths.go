package mapping

import "path/filepath"

// ResolvePaths makes the file paths in c (IDLs, descriptor sets, .proto
// files, include and import dirs) relative to dir, the config file's
// folder, unless they are absolute.
func (c *Config) ResolvePaths(dir string) {
	fix := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	fixAll := func(ps []string) {
		for i := range ps {
			fix(&ps[i])
		}
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.GRPC != nil && s.GRPC.Schema != nil {
			fixAll(s.GRPC.Schema.Protoset)
			if p := s.GRPC.Schema.Proto; p != nil {
				fixAll(p.ImportPaths)
				if len(p.ImportPaths) == 0 {
					// Files are then named relative to the config's folder.
					p.ImportPaths = []string{dir}
				}
			}
		}
		if s.Thrift != nil {
			fix(&s.Thrift.IDL)
			fixAll(s.Thrift.IncludeDirs)
		}
		if s.Tars != nil {
			fix(&s.Tars.IDL)
			fixAll(s.Tars.IncludeDirs)
		}
	}
}
