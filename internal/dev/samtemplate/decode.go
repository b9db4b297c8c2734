package samtemplate

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// shortForms are CloudFormation's YAML short forms with the long form each
// stands for.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split",
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!ImportValue": "Fn::ImportValue",
	"!GetAZs": "Fn::GetAZs", "!Transform": "Fn::Transform", "!ToJsonString": "Fn::ToJsonString", "!Length": "Fn::Length",
}

// decode reads a template, YAML or JSON, into its JSON form (see Expr):
// every short form becomes its long form, every number a float64. It
// refuses a tag it does not know rather than lose it.
func decode(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	v, err := value(doc.Content[0])
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the template is %s; want a map of sections", Expr{v})
	}
	return m, nil
}

// value is a node in the JSON form.
func value(n *yaml.Node) (any, error) {
	var v any
	var err error
	switch n.Kind {
	case yaml.AliasNode:
		return value(n.Alias)
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, c := range n.Content {
			if list[i], err = value(c); err != nil {
				return nil, err
			}
		}
		v = list
	case yaml.MappingNode:
		v, err = mapping(n)
	default:
		v, err = scalar(n)
	}
	if err != nil || !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, err
	}
	long, ok := shortForms[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	return call(long, v), nil
}

func mapping(n *yaml.Node) (any, error) {
	m := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a string", k.Line)
		}
		if _, dup := m[k.Value]; dup {
			return nil, fmt.Errorf("line %d: %s appears twice", k.Line, k.Value)
		}
		v, err := value(n.Content[i+1])
		if err != nil {
			return nil, err
		}
		m[k.Value] = v
	}
	if name, arg, ok := intrinsic(m); ok {
		return call(name, arg), nil
	}
	return m, nil
}

// scalar reads a scalar as YAML resolves it; a tagged one (!Ref Queue)
// is a string.
func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	case "!!int", "!!float":
		var f float64
		err := n.Decode(&f)
		return f, err
	}
	return n.Value, nil
}

// call is an intrinsic function's one-key map. The short Fn::GetAtt
// argument "id.attr" becomes [id, attr], so that both forms read alike.
func call(name string, arg any) map[string]any {
	if s, ok := arg.(string); ok && name == "Fn::GetAtt" {
		if id, attr, ok := strings.Cut(s, "."); ok {
			arg = []any{id, attr}
		}
	}
	return map[string]any{name: arg}
}
