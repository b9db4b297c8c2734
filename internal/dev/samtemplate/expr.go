package samtemplate

import (
	"encoding/base64"
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

// encodeIntrinsic is goformation's representation of an intrinsic function
// inside a typed field: the base64 of its JSON. Loading hands it to
// goformation for every intrinsic so that typed resources (sqs.Queue, ...)
// decode with their intrinsics intact.
func encodeIntrinsic(name string, arg, _ any) any {
	b, err := json.Marshal(map[string]any{name: arg})
	if err != nil {
		// The argument was decoded from JSON, so it encodes again.
		panic("samtemplate: re-encode intrinsic: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// exprOf turns a value decoded by goformation back into the template's
// JSON form: encoded intrinsics become one-key maps again, recursively, and
// the short Fn::GetAtt form "id.attr" becomes [id, attr].
func exprOf(v any) Expr { return Expr{plain(v)} }

func plain(v any) any {
	switch x := v.(type) {
	case string:
		if call, ok := decodeIntrinsic(x); ok {
			return call
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		if name, arg, ok := intrinsic(out); ok && name == "Fn::GetAtt" {
			if id, attr, ok := getAttArgs(arg); ok {
				out[name] = []any{id, attr}
			}
		}
		return out
	case int:
		return float64(x)
	}
	return v
}

// decodeIntrinsic undoes encodeIntrinsic.
func decodeIntrinsic(s string) (any, bool) {
	// The shortest encoding, {"Ref":""}, is 12 characters of base64.
	if len(s) < 12 || len(s)%4 != 0 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	if _, _, ok := intrinsic(m); !ok {
		return nil, false
	}
	return plain(m), true
}
