package ddbmem

import (
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// pathElem is one step of a document path: a map key, or a list index
// (name empty).
type pathElem struct {
	name  string
	index int
}

// docPath is a document path: a.b[2].
type docPath []pathElem

// String is the path as DynamoDB prints it, #names resolved.
func (p docPath) String() string {
	var b strings.Builder
	for i, e := range p {
		switch {
		case e.name == "":
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
		case i > 0:
			b.WriteString("." + e.name)
		default:
			b.WriteString(e.name)
		}
	}
	return b.String()
}

// operand kinds.
const (
	opPath        = "path"
	opValue       = "value"
	opSize        = "size"
	opIfNotExists = "if_not_exists"
	opListAppend  = "list_append"
	opPlus        = "+"
	opMinus       = "-"
)

// operand is a value in an expression: a path, a :value, a function of
// operands, or the sum or difference of two.
type operand struct {
	kind  string
	path  docPath
	value types.AttributeValue
	args  []*operand
}

// cond is a condition: op is AND, OR, NOT (over kids), a comparator,
// BETWEEN, IN or a function name (over args).
type cond struct {
	op   string
	kids []*cond
	args []*operand
}

// condFuncs are the functions a condition is made of, by their number of
// arguments.
var condFuncs = map[string]int{"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2}

var comparators = []string{"=", "<>", "<", "<=", ">", ">="}

// parser reads one request's expressions, resolving #names and :values
// and noting which were used.
type parser struct {
	toks   []token
	i      int
	what   string // ConditionExpression, UpdateExpression, ProjectionExpression
	names  map[string]string
	values map[string]types.AttributeValue
	used   map[string]bool
}

func (p *parser) reset(what, expr string) error {
	toks, err := lex(expr)
	if err != nil {
		return invalid("Invalid %s: %v", what, err)
	}
	p.toks, p.i, p.what = toks, 0, what
	return nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) syntax(t token) error {
	if t.kind == tokEOF {
		return invalid("Invalid %s: Syntax error; token: \"<EOF>\"", p.what)
	}
	return invalid("Invalid %s: Syntax error; token: %q", p.what, t.text)
}

func (p *parser) expect(s string) error {
	if t := p.next(); !t.is(s) {
		return p.syntax(t)
	}
	return nil
}

// end checks the whole expression was read.
func (p *parser) end() error {
	if t := p.peek(); t.kind != tokEOF {
		return p.syntax(t)
	}
	return nil
}

// name reads an attribute name: #name (resolved) or a bare one.
func (p *parser) name() (string, error) {
	t := p.next()
	switch t.kind {
	case tokIdent:
		return t.text, nil
	case tokName:
		n, ok := p.names[t.text]
		if !ok {
			return "", invalid("Invalid %s: An expression attribute name used in the document path is not defined; attribute name: %s", p.what, t.text)
		}
		p.used[t.text] = true
		return n, nil
	}
	return "", p.syntax(t)
}

// path reads a document path.
func (p *parser) path() (docPath, error) {
	first, err := p.name()
	if err != nil {
		return nil, err
	}
	path := docPath{{name: first}}
	for {
		switch t := p.peek(); {
		case t.is("."):
			p.next()
			n, err := p.name()
			if err != nil {
				return nil, err
			}
			path = append(path, pathElem{name: n})
		case t.is("["):
			p.next()
			t := p.next()
			i, err := strconv.Atoi(t.text)
			if t.kind != tokNumber || err != nil {
				return nil, p.syntax(t)
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			path = append(path, pathElem{index: i})
		default:
			return path, nil
		}
	}
}

// value reads a :value.
func (p *parser) value() (types.AttributeValue, error) {
	t := p.next()
	if t.kind != tokValue {
		return nil, p.syntax(t)
	}
	v, ok := p.values[t.text]
	if !ok {
		return nil, invalid("Invalid %s: An expression attribute value used in expression is not defined; attribute value: %s", p.what, t.text)
	}
	p.used[t.text] = true
	return v, nil
}

// operand reads an operand; funcs are the functions allowed here.
func (p *parser) operand(funcs ...string) (*operand, error) {
	t := p.peek()
	switch {
	case t.kind == tokValue:
		v, err := p.value()
		return &operand{kind: opValue, value: v}, err
	case t.kind == tokIdent && p.toks[p.i+1].is("("):
		name := strings.ToLower(t.text)
		if !slices.Contains(funcs, name) {
			return nil, invalid("Invalid %s: Invalid function name; function: %s", p.what, t.text)
		}
		return p.function(name)
	}
	path, err := p.path()
	return &operand{kind: opPath, path: path}, err
}

// function reads the arguments of an operand function.
func (p *parser) function(name string) (*operand, error) {
	p.next()
	p.next() // (
	o := &operand{kind: name}
	var err error
	switch name {
	case opSize:
		o.path, err = p.path()
	case opIfNotExists:
		if o.path, err = p.path(); err == nil {
			if err = p.expect(","); err == nil {
				o.args, err = p.setValues(1)
			}
		}
	case opListAppend:
		o.args, err = p.setValues(2)
	}
	if err != nil {
		return nil, err
	}
	return o, p.expect(")")
}

// setValues reads n comma-separated values of a SET action.
func (p *parser) setValues(n int) ([]*operand, error) {
	var out []*operand
	for i := range n {
		if i > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		o, err := p.setValue()
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// setValue reads the value of a SET action: an operand, or the sum or
// difference of two.
func (p *parser) setValue() (*operand, error) {
	a, err := p.operand(opIfNotExists, opListAppend)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.is(opPlus) || t.is(opMinus) {
		p.next()
		b, err := p.operand(opIfNotExists, opListAppend)
		if err != nil {
			return nil, err
		}
		return &operand{kind: t.text, args: []*operand{a, b}}, nil
	}
	return a, nil
}
