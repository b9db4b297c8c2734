package samtemplate

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// goformationTags are the short forms goformation turns into intrinsic
// functions itself.
var goformationTags = map[string]bool{
	"!Ref": true, "!GetAtt": true, "!Base64": true, "!FindInMap": true, "!GetAZs": true,
	"!ImportValue": true, "!Join": true, "!Select": true, "!Split": true, "!Sub": true,
	"!Equals": true, "!Cidr": true, "!And": true, "!If": true, "!Not": true, "!Or": true,
}

// longForms are the short forms goformation does not know — it would drop
// the tag and keep the bare value — with their long forms.
var longForms = map[string]string{
	"!Condition":    "Condition",
	"!Transform":    "Fn::Transform",
	"!ToJsonString": "Fn::ToJsonString",
	"!Length":       "Fn::Length",
}

// expandTags rewrites the short forms goformation does not know into their
// long forms, and refuses any other unknown tag rather than lose it.
func expandTags(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML template: %w", err)
	}
	changed := false
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			long, ok := longForms[n.Tag]
			switch {
			case ok:
				arg := *n
				arg.Tag, arg.Style = "", arg.Style&^yaml.TaggedStyle
				if arg.Kind == yaml.ScalarNode {
					arg.Tag = "!!str"
				}
				*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column, Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Tag: "!!str", Value: long}, &arg,
				}}
				changed = true
			case !goformationTags[n.Tag]:
				return fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
			}
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(&doc); err != nil {
		return nil, err
	}
	if !changed {
		return data, nil
	}
	return yaml.Marshal(&doc)
}
