package samtemplate

import (
	"encoding/json"
	"strings"
)

// Expr is a template value as written, its intrinsic functions unresolved.
// It holds what the template's JSON form holds: nil, a string, a float64, a
// bool, a []any, a map[string]any, and intrinsic functions as one-key maps
// ({"Ref": "JobsQueue"}, {"Fn::GetAtt": ["JobsQueue", "Arn"]}). The zero
// Expr is an absent value.
type Expr struct {
	v any
}

// intrinsicNames are the keys that make a one-key map an intrinsic function.
// Condition is not among them: it names a condition inside Fn::And, Fn::Or
// and Fn::Not only.
var intrinsicNames = map[string]bool{
	"Ref": true, "Fn::Base64": true, "Fn::Cidr": true, "Fn::FindInMap": true,
	"Fn::GetAtt": true, "Fn::GetAZs": true, "Fn::ImportValue": true,
	"Fn::Join": true, "Fn::Select": true, "Fn::Split": true, "Fn::Sub": true,
	"Fn::Transform": true, "Fn::If": true, "Fn::Equals": true, "Fn::Not": true,
	"Fn::And": true, "Fn::Or": true, "Fn::ToJsonString": true, "Fn::Length": true,
}

// IsZero reports whether the value is absent from the template.
func (e Expr) IsZero() bool { return e.v == nil }

// String returns the value's JSON form, e.g. {"Ref":"JobsQueue"}.
func (e Expr) String() string {
	b, err := json.Marshal(e.v)
	if err != nil {
		return "<unprintable>"
	}
	return string(b)
}

// MarshalJSON writes the value's JSON form.
func (e Expr) MarshalJSON() ([]byte, error) { return json.Marshal(e.v) }

// Literal returns the value when it is a plain string.
func (e Expr) Literal() (string, bool) {
	s, ok := e.v.(string)
	return s, ok
}

// Target returns the logical id the value names when it is !Ref <id> or
// !GetAtt <id>.<attr> with the given attribute, and "" otherwise. It is how
// an event source or a redrive policy is tied to a resource of the template.
func (e Expr) Target(attr string) string {
	name, arg, ok := intrinsic(e.v)
	if !ok {
		return ""
	}
	switch name {
	case "Ref":
		if s, ok := arg.(string); ok && attr == "" {
			return s
		}
	case "Fn::GetAtt":
		if id, a, ok := getAttArgs(arg); ok && a == attr {
			return id
		}
	}
	return ""
}

// intrinsic returns the name and argument of a one-key intrinsic map.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if intrinsicNames[k] {
			return k, arg, true
		}
	}
	return "", nil, false
}

// getAttArgs reads Fn::GetAtt's argument, [id, attr] or "id.attr".
func getAttArgs(arg any) (id, attr string, ok bool) {
	switch a := arg.(type) {
	case []any:
		if len(a) != 2 {
			return "", "", false
		}
		id, ok1 := a[0].(string)
		attr, ok2 := a[1].(string)
		return id, attr, ok1 && ok2
	case string:
		id, attr, ok := strings.Cut(a, ".")
		return id, attr, ok
	}
	return "", "", false
}
