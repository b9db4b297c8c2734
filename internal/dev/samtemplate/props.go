package samtemplate

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// props reads the properties of a SAM resource (decoded by goformation,
// intrinsics encoded), recording every problem with the property's path.
// A missing nested map reads as empty, so optional sections need no checks.
type props struct {
	m    map[string]any
	path string
	errs *[]error
}

// newProps reads m; path prefixes the names in errors.
func newProps(m map[string]any, path string) *props {
	return &props{m: m, path: path, errs: new([]error)}
}

func (p *props) fail(name, format string, args ...any) {
	*p.errs = append(*p.errs, fmt.Errorf("%s%s %s", p.path, name, fmt.Sprintf(format, args...)))
}

func (p *props) err() error {
	return errors.Join(*p.errs...)
}

func (p *props) has(name string) bool {
	_, ok := p.m[name]
	return ok
}

// sub returns the nested map name, sharing the error list.
func (p *props) sub(name string) *props {
	child := &props{path: p.path + name + ".", errs: p.errs}
	switch v := p.m[name].(type) {
	case nil:
	case map[string]any:
		child.m = v
	default:
		p.fail(name, "is %s; want a map", exprOf(v))
	}
	return child
}

// expr returns the value as written.
func (p *props) expr(name string, required bool) Expr {
	v, ok := p.m[name]
	if !ok && required {
		p.fail(name, "is required")
	}
	return exprOf(v)
}

// str returns a literal string.
func (p *props) str(name string, required bool) string {
	e := p.expr(name, required)
	if e.IsZero() {
		return ""
	}
	s, ok := e.Literal()
	if !ok {
		p.fail(name, "is %s; want a literal string", e)
	}
	return s
}

// strs returns a list of literal strings.
func (p *props) strs(name string) []string {
	v, ok := p.m[name]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		p.fail(name, "is %s; want a list of strings", exprOf(v))
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := plain(e).(string)
		if !ok {
			p.fail(name, "holds %s; want literal strings", exprOf(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

// integer returns a literal whole number (CloudFormation also takes one
// written as a string), or def when it is unset.
func (p *props) integer(name string, def int) int {
	v, ok := p.m[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) {
			return int(x)
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n
		}
	}
	p.fail(name, "is %s; want a whole number", exprOf(v))
	return def
}

// seconds returns a number of seconds as a duration.
func (p *props) seconds(name string, def time.Duration) time.Duration {
	if !p.has(name) {
		return def
	}
	return time.Duration(p.integer(name, 0)) * time.Second
}

// boolean returns a literal boolean, or def when it is unset.
func (p *props) boolean(name string, def bool) bool {
	v, ok := p.m[name]
	if !ok {
		return def
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		if b, err := strconv.ParseBool(x); err == nil {
			return b
		}
	}
	p.fail(name, "is %s; want true or false", exprOf(v))
	return def
}
