package emulator

import (
	"net/url"
	"strings"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// route is an operation's HTTP binding, split into path segments; a
// segment "{name}" is a URI label.
type route struct {
	op       *amplify.Operation
	segments []string
	literals int
}

// router finds the operation a request is for, from the model's table.
type router []route

func newRouter() router {
	var rs router
	for _, op := range amplify.Operations() {
		r := route{op: op, segments: strings.Split(strings.TrimPrefix(op.Path, "/"), "/")}
		for _, s := range r.segments {
			if !isLabel(s) {
				r.literals++
			}
		}
		rs = append(rs, r)
	}
	return rs
}

func isLabel(segment string) bool {
	return strings.HasPrefix(segment, "{") && strings.HasSuffix(segment, "}")
}

// match returns the operation for method and escapedPath and its URI
// labels, unescaped. Each escaped segment is matched and unescaped on its
// own, so a label may hold "/" as %2F. When several routes match, the one
// with the most literal segments wins (a label never shadows a literal).
func (rs router) match(method, escapedPath string) (*amplify.Operation, map[string]string, bool) {
	segments := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	var best *route
	var bestLabels map[string]string
	for i := range rs {
		r := &rs[i]
		if r.op.Method != method || len(r.segments) != len(segments) || (best != nil && r.literals <= best.literals) {
			continue
		}
		if labels, ok := r.bind(segments); ok {
			best, bestLabels = r, labels
		}
	}
	if best == nil {
		return nil, nil, false
	}
	return best.op, bestLabels, true
}

func (r *route) bind(segments []string) (map[string]string, bool) {
	labels := map[string]string{}
	for i, want := range r.segments {
		got, err := url.PathUnescape(segments[i])
		if err != nil {
			return nil, false
		}
		if isLabel(want) {
			if got == "" {
				return nil, false
			}
			labels[want[1:len(want)-1]] = got
			continue
		}
		if segments[i] != want {
			return nil, false
		}
	}
	return labels, true
}
