package ddbmem

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"
)

// DB holds tables in memory. Every table name is a table, keyed by the
// partition key New names. It is safe for concurrent use; each request is
// atomic.
type DB struct {
	mu     sync.Mutex
	key    string
	tables map[string]map[string]map[string]types.AttributeValue
}

// New returns an empty DB whose tables are keyed by the attribute
// partitionKey (a string, number or binary).
func New(partitionKey string) *DB {
	return &DB{key: partitionKey, tables: map[string]map[string]map[string]types.AttributeValue{}}
}

// invalid is a ValidationException, as DynamoDB answers a malformed
// request.
func invalid(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

// request is a request's expressions, parsed.
type request struct {
	cond    *cond
	actions []action
	proj    []docPath
}

// parse reads a request's expressions (each optional) and checks that
// every #name and :value it defines is used and every one it uses defined.
func parse(names map[string]string, values map[string]types.AttributeValue, cond, update, proj *string) (*request, error) {
	p := &parser{names: names, values: values, used: map[string]bool{}}
	r := &request{}
	steps := []struct {
		what string
		expr *string
		read func() error
	}{
		{"ConditionExpression", cond, func() (err error) { r.cond, err = p.condition(); return err }},
		{"UpdateExpression", update, func() (err error) { r.actions, err = p.update(); return err }},
		{"ProjectionExpression", proj, func() (err error) { r.proj, err = p.projection(); return err }},
	}
	for _, s := range steps {
		if s.expr == nil {
			continue
		}
		if err := p.reset(s.what, *s.expr); err != nil {
			return nil, err
		}
		if err := s.read(); err != nil {
			return nil, err
		}
		if err := p.end(); err != nil {
			return nil, err
		}
	}
	return r, p.unused()
}

// projection reads a comma-separated list of paths.
func (p *parser) projection() ([]docPath, error) {
	var out []docPath
	for {
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		out = append(out, path)
		if !p.peek().is(",") {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) unused() error {
	for _, set := range []struct {
		what string
		keys []string
	}{{"ExpressionAttributeNames", slices.Sorted(maps.Keys(p.names))}, {"ExpressionAttributeValues", slices.Sorted(maps.Keys(p.values))}} {
		var unused []string
		for _, k := range set.keys {
			if !p.used[k] {
				unused = append(unused, k)
			}
		}
		if len(unused) > 0 {
			return invalid("Value provided in %s unused in expressions: keys: {%s}", set.what, strings.Join(unused, ", "))
		}
	}
	return nil
}

// admit checks the request's condition on the item it finds (nil: none).
func (r *request) admit(item map[string]types.AttributeValue, onFailure types.ReturnValuesOnConditionCheckFailure) error {
	if r.cond == nil || r.cond.holds(item) {
		return nil
	}
	e := &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	if onFailure == types.ReturnValuesOnConditionCheckFailureAllOld {
		e.Item = clone(item)
	}
	return e
}

// keyOf is where an item with the key attributes key lives in a table.
func (d *DB) keyOf(key map[string]types.AttributeValue, wholeItem bool) (string, error) {
	v, ok := key[d.key]
	if !ok || !wholeItem && len(key) != 1 {
		return "", invalid("The provided key element does not match the schema")
	}
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S" + v.Value, nil
	case *types.AttributeValueMemberB:
		return "B" + string(v.Value), nil
	case *types.AttributeValueMemberN:
		if r, ok := rat(v); ok {
			return "N" + r.RatString(), nil
		}
	}
	return "", invalid("One or more parameter values were invalid: Type mismatch for key %s", d.key)
}

// table returns a table's items (the caller holds mu).
func (d *DB) table(name *string) map[string]map[string]types.AttributeValue {
	t := d.tables[aws.ToString(name)]
	if t == nil {
		t = map[string]map[string]types.AttributeValue{}
		d.tables[aws.ToString(name)] = t
	}
	return t
}

// returned is what a write answers with ReturnValues: the item before it
// (ALL_OLD) or after it (ALL_NEW).
func returned(rv types.ReturnValue, before, after map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	switch rv {
	case "", types.ReturnValueNone:
		return nil, nil
	case types.ReturnValueAllOld:
		return clone(before), nil
	case types.ReturnValueAllNew:
		if after != nil {
			return clone(after), nil
		}
	}
	return nil, invalid("ddbmem does not serve ReturnValues %s here", rv)
}
