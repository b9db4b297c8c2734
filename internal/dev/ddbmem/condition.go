package ddbmem

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// condition reads a whole condition: OR binds loosest, then AND, then NOT.
func (p *parser) condition() (*cond, error) { return p.chain("OR", p.conjunction) }

func (p *parser) conjunction() (*cond, error) { return p.chain("AND", p.negation) }

// chain reads one or more of what part reads, joined by the keyword op.
func (p *parser) chain(op string, part func() (*cond, error)) (*cond, error) {
	c, err := part()
	for err == nil && p.peek().is(op) {
		p.next()
		var d *cond
		if d, err = part(); err == nil {
			c = &cond{op: op, kids: []*cond{c, d}}
		}
	}
	return c, err
}

func (p *parser) negation() (*cond, error) {
	if !p.peek().is("NOT") {
		return p.primary()
	}
	p.next()
	c, err := p.negation()
	return &cond{op: "NOT", kids: []*cond{c}}, err
}

// primary reads a parenthesized condition, a function or a comparison.
func (p *parser) primary() (*cond, error) {
	t := p.peek()
	if t.is("(") {
		p.next()
		c, err := p.condition()
		if err != nil {
			return nil, err
		}
		return c, p.expect(")")
	}
	if n, ok := condFuncs[strings.ToLower(t.text)]; ok && t.kind == tokIdent && p.toks[p.i+1].is("(") {
		p.next()
		p.next()
		c := &cond{op: strings.ToLower(t.text)}
		for i := range n {
			if i > 0 {
				if err := p.expect(","); err != nil {
					return nil, err
				}
			}
			o, err := p.operand(opSize)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, o)
		}
		if c.args[0].kind != opPath {
			return nil, invalid("Invalid %s: the first argument of %s must be a document path", p.what, c.op)
		}
		return c, p.expect(")")
	}
	return p.comparison()
}

// comparison reads a comparison, BETWEEN or IN.
func (p *parser) comparison() (*cond, error) {
	a, err := p.operand(opSize)
	if err != nil {
		return nil, err
	}
	t := p.next()
	c := &cond{op: strings.ToUpper(t.text), args: []*operand{a}}
	more := func(sep string) error {
		if err := p.expect(sep); err != nil {
			return err
		}
		o, err := p.operand(opSize)
		c.args = append(c.args, o)
		return err
	}
	switch {
	case t.kind == tokPunct && slices.Contains(comparators, t.text):
		o, err := p.operand(opSize)
		c.args = append(c.args, o)
		return c, err
	case t.is("BETWEEN"):
		o, err := p.operand(opSize)
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, o)
		return c, more("AND")
	case t.is("IN"):
		if err := more("("); err != nil {
			return nil, err
		}
		for p.peek().is(",") {
			if err := more(","); err != nil {
				return nil, err
			}
		}
		return c, p.expect(")")
	}
	return nil, p.syntax(t)
}

// holds evaluates c on item (nil when there is none).
func (c *cond) holds(item map[string]types.AttributeValue) bool {
	switch c.op {
	case "AND":
		return c.kids[0].holds(item) && c.kids[1].holds(item)
	case "OR":
		return c.kids[0].holds(item) || c.kids[1].holds(item)
	case "NOT":
		return !c.kids[0].holds(item)
	}
	vals := make([]types.AttributeValue, len(c.args))
	for i, a := range c.args {
		vals[i] = a.read(item)
	}
	switch c.op {
	case "attribute_exists":
		return vals[0] != nil
	case "attribute_not_exists":
		return vals[0] == nil
	case "BETWEEN":
		return compare(">=", vals[0], vals[1]) && compare("<=", vals[0], vals[2])
	case "IN":
		return slices.ContainsFunc(vals[1:], func(v types.AttributeValue) bool { return compare("=", vals[0], v) })
	case "attribute_type":
		t, ok := vals[1].(*types.AttributeValueMemberS)
		return vals[0] != nil && ok && typeName(vals[0]) == t.Value
	case "begins_with":
		return beginsWith(vals[0], vals[1])
	case "contains":
		return contains(vals[0], vals[1])
	}
	return compare(c.op, vals[0], vals[1])
}

// read evaluates an operand of a condition: nil when it names nothing.
func (o *operand) read(item map[string]types.AttributeValue) types.AttributeValue {
	switch o.kind {
	case opValue:
		return o.value
	case opSize:
		return size(get(item, o.path))
	}
	return get(item, o.path)
}

func size(v types.AttributeValue) types.AttributeValue {
	n := -1
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		n = utf8.RuneCountInString(v.Value)
	case *types.AttributeValueMemberB:
		n = len(v.Value)
	case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS,
		*types.AttributeValueMemberL, *types.AttributeValueMemberM:
		n = members(v)
	}
	if n < 0 {
		return nil
	}
	return number(int64(n))
}

func beginsWith(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && strings.HasPrefix(a.Value, b.Value)
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return ok && bytes.HasPrefix(a.Value, b.Value)
	}
	return false
}

func contains(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && strings.Contains(a.Value, b.Value)
	case *types.AttributeValueMemberL:
		return slices.ContainsFunc(a.Value, func(v types.AttributeValue) bool { return compare("=", v, b) })
	case *types.AttributeValueMemberSS, *types.AttributeValueMemberNS, *types.AttributeValueMemberBS:
		return slices.ContainsFunc(setMembers(a), func(v types.AttributeValue) bool { return compare("=", v, b) })
	}
	return false
}
