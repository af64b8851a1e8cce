package registry

// RouteRequest is what routing knows about one request.
type RouteRequest struct {
	// Tag selects instances carrying this tag (gray/canary routing). An
	// empty Tag selects untagged instances if there are any, else all.
	Tag string
	// TagFallback: when no instance carries Tag, fall back to untagged
	// instances (true) or select none (false).
	TagFallback bool
	// Zone prefers instances in this zone; when the zone has none, all
	// remaining instances are kept. Empty: no preference.
	Zone string
}

// Route narrows instances for one request, in order: online filter, tag
// routing, same-zone preference (see RouteRequest). It never modifies
// instances; when nothing is filtered out it returns instances itself
// (without allocating), so treat the result as read-only.
func Route(instances []*Instance, r RouteRequest) []*Instance {
	cur := filter(instances, func(in *Instance) bool { return in.Online })
	if len(cur) == 0 {
		return nil
	}
	if r.Tag != "" {
		tagged := filter(cur, func(in *Instance) bool { return in.HasTag(r.Tag) })
		switch {
		case len(tagged) > 0:
			cur = tagged
		case r.TagFallback:
			cur = filter(cur, func(in *Instance) bool { return len(in.Tags) == 0 })
		default:
			return nil
		}
	} else if untagged := filter(cur, func(in *Instance) bool { return len(in.Tags) == 0 }); len(untagged) > 0 {
		cur = untagged
	}
	if r.Zone != "" && len(cur) > 0 {
		if same := filter(cur, func(in *Instance) bool { return in.Zone == r.Zone }); len(same) > 0 {
			cur = same
		}
	}
	if len(cur) == 0 {
		return nil
	}
	return cur
}

// filter returns the instances keep accepts: s itself when it accepts all,
// nil when it accepts none, a new slice otherwise.
func filter(s []*Instance, keep func(*Instance) bool) []*Instance {
	n := 0
	for _, in := range s {
		if keep(in) {
			n++
		}
	}
	switch n {
	case len(s):
		return s
	case 0:
		return nil
	}
	out := make([]*Instance, 0, n)
	for _, in := range s {
		if keep(in) {
			out = append(out, in)
		}
	}
	return out
}
