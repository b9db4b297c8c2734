package ddbmem

import (
	"math/big"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// action is one action of an update: SET path = value, REMOVE path, ADD
// path value, DELETE path value.
type action struct {
	verb  string
	path  docPath
	value *operand
}

// update reads a whole update expression: clauses SET, REMOVE, ADD,
// DELETE, each at most once, each a comma-separated list of actions.
func (p *parser) update() ([]action, error) {
	var out []action
	seen := map[string]bool{}
	for p.peek().kind != tokEOF {
		verb := strings.ToUpper(p.next().text)
		if !slices.Contains([]string{"SET", "REMOVE", "ADD", "DELETE"}, verb) {
			return nil, p.syntax(p.toks[p.i-1])
		}
		if seen[verb] {
			return nil, invalid("Invalid %s: The %q section can only be used once in an update expression", p.what, verb)
		}
		seen[verb] = true
		for {
			a, err := p.action(verb)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			if !p.peek().is(",") {
				break
			}
			p.next()
		}
	}
	if len(out) == 0 {
		return nil, p.syntax(p.peek())
	}
	return out, overlaps(out)
}

func (p *parser) action(verb string) (action, error) {
	path, err := p.path()
	a := action{verb: verb, path: path}
	switch {
	case err != nil || verb == "REMOVE":
	case verb == "SET":
		if err = p.expect("="); err == nil {
			a.value, err = p.setValue()
		}
	default:
		var v types.AttributeValue
		v, err = p.value()
		a.value = &operand{kind: opValue, value: v}
	}
	return a, err
}

// overlaps refuses an update two of whose actions touch the same path, or
// one inside the other.
func overlaps(actions []action) error {
	for i, a := range actions {
		for _, b := range actions[i+1:] {
			x, y := a.path.String(), b.path.String()
			if len(x) > len(y) {
				x, y = y, x
			}
			if x == y || strings.HasPrefix(y, x) && (y[len(x)] == '.' || y[len(x)] == '[') {
				return invalid("Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", a.path, b.path)
			}
		}
	}
	return nil
}

// errOperandType is DynamoDB's answer to arithmetic, ADD or DELETE on a
// value of the wrong type.
var errOperandType = invalid("An operand in the update expression has an incorrect data type")

// apply runs actions on a copy of item (nil: a new item, key holding its
// key attributes). Every value is read from item as it was before the
// update, as DynamoDB does.
func apply(item, key map[string]types.AttributeValue, actions []action) (map[string]types.AttributeValue, error) {
	old := item
	if old == nil {
		old = key
	}
	next := clone(old)
	// Removing list members from the last keeps the indexes of the others.
	slices.SortStableFunc(actions, func(a, b action) int { return b.path[len(b.path)-1].index - a.path[len(a.path)-1].index })
	for _, a := range actions {
		if _, isKey := key[a.path[0].name]; isKey {
			return nil, invalid("Cannot update attribute %s. This attribute is part of the key", a.path[0].name)
		}
		v, err := a.result(old)
		if err != nil {
			return nil, err
		}
		if v == nil {
			remove(next, a.path)
			continue
		}
		if err := set(next, a.path, v); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// result is what the action leaves at its path (nil: nothing).
func (a action) result(old map[string]types.AttributeValue) (types.AttributeValue, error) {
	cur := get(old, a.path)
	switch a.verb {
	case "REMOVE":
		return nil, nil
	case "SET":
		return a.value.compute(old)
	case "ADD":
		return add(cur, a.value.value)
	}
	if cur == nil {
		return nil, nil
	}
	return without(cur, a.value.value)
}

// compute evaluates the value of a SET action.
func (o *operand) compute(old map[string]types.AttributeValue) (types.AttributeValue, error) {
	switch o.kind {
	case opValue:
		return o.value, nil
	case opIfNotExists:
		if v := get(old, o.path); v != nil {
			return v, nil
		}
		return o.args[0].compute(old)
	case opPath:
		if v := get(old, o.path); v != nil {
			return v, nil
		}
		return nil, invalid("The provided expression refers to an attribute that does not exist in the item")
	}
	a, err := o.args[0].compute(old)
	if err != nil {
		return nil, err
	}
	b, err := o.args[1].compute(old)
	if err != nil {
		return nil, err
	}
	if o.kind == opListAppend {
		x, ok1 := a.(*types.AttributeValueMemberL)
		y, ok2 := b.(*types.AttributeValueMemberL)
		if !ok1 || !ok2 {
			return nil, errOperandType
		}
		return &types.AttributeValueMemberL{Value: append(slices.Clone(x.Value), y.Value...)}, nil
	}
	x, ok1 := rat(a)
	y, ok2 := rat(b)
	if !ok1 || !ok2 {
		return nil, errOperandType
	}
	if o.kind == opMinus {
		y.Neg(y)
	}
	return format(new(big.Rat).Add(x, y)), nil
}

// add is ADD: a number added to a number, members to a set of their type,
// or v itself where there is nothing.
func add(cur, v types.AttributeValue) (types.AttributeValue, error) {
	isSet := len(setMembers(v)) > 0
	if _, isNumber := rat(v); !isNumber && !isSet {
		return nil, errOperandType
	}
	if cur == nil {
		return v, nil
	}
	if x, ok := rat(cur); ok {
		y, ok := rat(v)
		if !ok {
			return nil, errOperandType
		}
		return format(new(big.Rat).Add(x, y)), nil
	}
	if typeName(cur) != typeName(v) {
		return nil, errOperandType
	}
	out := cloneValue(cur)
	for _, m := range setMembers(v) {
		if !contains(out, m) {
			out = withMember(out, m)
		}
	}
	return out, nil
}

// without is DELETE: the set cur without v's members; nil when none is
// left (DynamoDB removes an empty set).
func without(cur, v types.AttributeValue) (types.AttributeValue, error) {
	if len(setMembers(v)) == 0 || typeName(cur) != typeName(v) {
		return nil, errOperandType
	}
	var out types.AttributeValue
	for _, m := range setMembers(cur) {
		if !contains(v, m) {
			out = withMember(out, m)
		}
	}
	return out, nil
}

// withMember adds the scalar m to set (nil: a new set of m's kind).
func withMember(set, m types.AttributeValue) types.AttributeValue {
	switch m := m.(type) {
	case *types.AttributeValueMemberS:
		s, _ := set.(*types.AttributeValueMemberSS)
		if s == nil {
			s = &types.AttributeValueMemberSS{}
		}
		s.Value = append(s.Value, m.Value)
		return s
	case *types.AttributeValueMemberN:
		s, _ := set.(*types.AttributeValueMemberNS)
		if s == nil {
			s = &types.AttributeValueMemberNS{}
		}
		s.Value = append(s.Value, m.Value)
		return s
	}
	s, _ := set.(*types.AttributeValueMemberBS)
	if s == nil {
		s = &types.AttributeValueMemberBS{}
	}
	s.Value = append(s.Value, m.(*types.AttributeValueMemberB).Value)
	return s
}
