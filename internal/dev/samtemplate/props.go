package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// props reads the properties of a resource or a section of the template,
// in the JSON form, recording every problem with the property's path. A
// missing nested map or list reads as empty, so optional parts need no
// checks.
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

// names returns the property names in order.
func (p *props) names() []string {
	return slices.Sorted(maps.Keys(p.m))
}

// only fails every property that is not among names: misspelt, it would
// read as unset.
func (p *props) only(names []string, what string) {
	for _, name := range p.names() {
		if !slices.Contains(names, name) {
			p.fail(name, "is not %s", what)
		}
	}
}

// sub returns the nested map name, sharing the error list.
func (p *props) sub(name string) *props {
	return p.child(name, p.m[name])
}

// child reads v, the value of name, as a nested map.
func (p *props) child(name string, v any) *props {
	c := &props{path: p.path + name + ".", errs: p.errs}
	m, ok := v.(map[string]any)
	if _, _, call := intrinsic(v); v != nil && (!ok || call) {
		p.fail(name, "is %s; want a map", Expr{v})
		return c
	}
	c.m = m
	return c
}

// list returns the list name.
func (p *props) list(name string) []any {
	v, ok := p.m[name]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		p.fail(name, "is %s; want a list", Expr{v})
	}
	return list
}

// elems returns the list of maps name.
func (p *props) elems(name string) []*props {
	var out []*props
	for i, v := range p.list(name) {
		out = append(out, p.child(fmt.Sprintf("%s[%d]", name, i), v))
	}
	return out
}

// expr returns the value as written.
func (p *props) expr(name string, required bool) Expr {
	v, ok := p.m[name]
	if !ok && required {
		p.fail(name, "is required")
	}
	return Expr{v}
}

// exprs returns the values of the list name as written.
func (p *props) exprs(name string) []Expr {
	var out []Expr
	for _, v := range p.list(name) {
		out = append(out, Expr{v})
	}
	return out
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
	var out []string
	for _, v := range p.list(name) {
		s, ok := v.(string)
		if !ok {
			p.fail(name, "holds %s; want literal strings", Expr{v})
			continue
		}
		out = append(out, s)
	}
	return out
}

// integer returns a literal whole number, or def when it is unset.
func (p *props) integer(name string, def int) int {
	if f, ok := p.numeric(name, true); ok {
		return int(f)
	}
	return def
}

// numeric reads a literal number, which CloudFormation also takes written
// as a string; ok is false when it is unset or not a (whole) number.
func (p *props) numeric(name string, whole bool) (f float64, ok bool) {
	v, set := p.m[name]
	if !set {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		f, ok = x, true
	case string:
		var err error
		f, err = strconv.ParseFloat(x, 64)
		ok = err == nil
	}
	if ok && (!whole || f == math.Trunc(f)) {
		return f, true
	}
	want := "a number"
	if whole {
		want = "a whole number"
	}
	p.fail(name, "is %s; want %s", Expr{v}, want)
	return 0, false
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
	p.fail(name, "is %s; want true or false", Expr{v})
	return def
}

// optionalInt returns a literal whole number, or nil when it is unset.
func (p *props) optionalInt(name string) *int {
	if !p.has(name) {
		return nil
	}
	n := p.integer(name, 0)
	return &n
}
