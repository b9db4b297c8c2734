// Package codec reads and writes the Amplify Admin API shapes by reflection
// over their Go types, whose struct tags carry the service model: member
// names, wire (JSON) names, URI labels, required members, ranges and
// sensitive members.
//
// Two namings exist. MemberNames is the model's member names (PascalCase,
// the boto3 "Request Syntax"), used by the dispatch table and the CLI.
// WireNames is the lowerCamel JSON the service speaks, used by the emulator
// to check request bodies strictly; the client itself uses encoding/json.
package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Naming selects which names JSON object keys use.
type Naming int

const (
	// MemberNames uses the model's member names (the Go field names).
	MemberNames Naming = iota
	// WireNames uses the JSON names of the wire protocol; URI members are
	// not part of a body and are skipped.
	WireNames
)

// ErrorKind says what is wrong with a member.
type ErrorKind int

// Kinds of member errors.
const (
	Unknown ErrorKind = iota + 1
	WrongType
	Missing
	OutOfRange
	Malformed
	// Invalid is a value the member may not take, e.g. a URI label that
	// would change the request's path; Detail says what it must not be.
	Invalid
)

// Error names the member that is wrong and how. It never carries the
// member's value, so it is safe to log even for sensitive members.
type Error struct {
	Path   string // dotted member path, e.g. ResourceConfig.UserPoolConfigs.SignInMethod
	Kind   ErrorKind
	Detail string
}

func (e *Error) Error() string {
	switch e.Kind {
	case Unknown:
		return fmt.Sprintf("unknown member %s", e.Path)
	case Missing:
		return fmt.Sprintf("missing required member %s", e.Path)
	case WrongType:
		return fmt.Sprintf("member %s: %s", e.Path, e.Detail)
	case OutOfRange:
		return fmt.Sprintf("member %s: %s", e.Path, e.Detail)
	case Invalid:
		return fmt.Sprintf("member %s %s", e.Path, e.Detail)
	default:
		if e.Path == "" {
			return e.Detail
		}
		return fmt.Sprintf("member %s: %s", e.Path, e.Detail)
	}
}

// Options tune Decode.
type Options struct {
	Naming Naming
	// AllowUnknown ignores object keys that name no member, as services do;
	// without it an unknown key is an error naming it.
	AllowUnknown bool
}

// Decode reads the JSON object data into v, a pointer to a generated
// struct, checking every member's JSON type against the model. It does not
// check required members: call Validate once URI members are set too.
func Decode(data []byte, v any, opts Options) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return &Error{Kind: Malformed, Detail: "input is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return &Error{Kind: Malformed, Detail: "input has data after the JSON object"}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("codec: Decode needs a pointer to a struct, got %T", v)
	}
	if raw == nil {
		return nil // JSON null: nothing set
	}
	return decodeValue(raw, rv.Elem(), "", opts)
}

// field describes one member of a generated struct.
type field struct {
	index     int
	name      string // member name (Go field name)
	wire      string // JSON name on the wire; "" for URI members
	uri       string // URI label name, if bound to the path
	required  bool
	sensitive bool
	min, max  *int64
}

var fieldCache sync.Map // reflect.Type -> []field

func loadFields(t reflect.Type) ([]field, bool) {
	fs, ok := fieldCache.Load(t)
	if !ok {
		return nil, false
	}
	return fs.([]field), true
}

func storeFields(t reflect.Type, fs []field) { fieldCache.Store(t, fs) }

func fieldsOf(t reflect.Type) []field {
	if fs, ok := loadFields(t); ok {
		return fs
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		f := field{index: i, name: sf.Name, uri: sf.Tag.Get("locationName")}
		if sf.Tag.Get("location") != "uri" {
			f.uri = ""
		}
		if name == "-" {
			if f.uri == "" {
				continue // not part of the model (e.g. ResultMetadata)
			}
		} else {
			f.wire = name
		}
		f.required = sf.Tag.Get("required") == "true"
		f.sensitive = sf.Tag.Get("sensitive") == "true"
		if s, ok := sf.Tag.Lookup("min"); ok {
			n, _ := strconv.ParseInt(s, 10, 64)
			f.min = &n
		}
		if s, ok := sf.Tag.Lookup("max"); ok {
			n, _ := strconv.ParseInt(s, 10, 64)
			f.max = &n
		}
		fs = append(fs, f)
	}
	storeFields(t, fs)
	return fs
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func typeErr(path, want string, got any) error {
	return &Error{Path: path, Kind: WrongType, Detail: fmt.Sprintf("expected %s, got %s", want, jsonKind(got))}
}

func decodeValue(raw any, v reflect.Value, path string, opts Options) error {
	if raw == nil {
		return nil // null leaves the member unset, as botocore treats None
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		if err := decodeValue(raw, elem.Elem(), path, opts); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return typeErr(path, "object", raw)
		}
		return decodeStruct(obj, v, path, opts)
	case reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			return typeErr(path, "array", raw)
		}
		s := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i, item := range arr {
			if err := decodeValue(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), opts); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return typeErr(path, "string", raw)
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return typeErr(path, "boolean", raw)
		}
		v.SetBool(b)
		return nil
	case reflect.Float64, reflect.Float32:
		n, ok := raw.(json.Number)
		if !ok {
			return typeErr(path, "number", raw)
		}
		f, err := n.Float64()
		if err != nil {
			return &Error{Path: path, Kind: WrongType, Detail: "expected a number"}
		}
		v.SetFloat(f)
		return nil
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, ok := raw.(json.Number)
		if !ok {
			return typeErr(path, "integer", raw)
		}
		i, err := strconv.ParseInt(n.String(), 10, v.Type().Bits())
		if err != nil {
			return &Error{Path: path, Kind: WrongType, Detail: "expected an integer, got " + n.String()}
		}
		v.SetInt(i)
		return nil
	}
	return fmt.Errorf("codec: member %s has unsupported Go kind %s", path, v.Kind())
}

func decodeStruct(obj map[string]any, v reflect.Value, path string, opts Options) error {
	fs := fieldsOf(v.Type())
	byKey := make(map[string]*field, len(fs))
	for i := range fs {
		f := &fs[i]
		key := f.name
		if opts.Naming == WireNames {
			if f.wire == "" {
				continue
			}
			key = f.wire
		}
		byKey[key] = f
	}
	// Walk keys in a stable order so the first error reported is stable.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := byKey[k]
		if !ok {
			if opts.AllowUnknown {
				continue
			}
			return &Error{Path: join(path, k), Kind: Unknown}
		}
		name := f.name
		if opts.Naming == WireNames {
			name = f.wire
		}
		if err := decodeValue(obj[k], v.Field(f.index), join(path, name), opts); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks required members and ranges of v (a generated struct or
// a pointer to one) and returns every problem found, each naming its member
// by its member-name path.
func Validate(v any) []*Error {
	var errs []*Error
	validateValue(reflect.ValueOf(v), "", &errs)
	return errs
}

func validateValue(v reflect.Value, path string, errs *[]*Error) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			validateValue(v.Elem(), path, errs)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			validateValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Struct:
		for _, f := range fieldsOf(v.Type()) {
			fv := v.Field(f.index)
			p := join(path, f.name)
			if isUnset(fv) {
				if f.required {
					*errs = append(*errs, &Error{Path: p, Kind: Missing})
				}
				continue
			}
			if f.min != nil || f.max != nil {
				n := reflect.Indirect(fv)
				if n.CanInt() {
					i := n.Int()
					if (f.min != nil && i < *f.min) || (f.max != nil && i > *f.max) {
						*errs = append(*errs, &Error{Path: p, Kind: OutOfRange,
							Detail: fmt.Sprintf("value %d is out of range %s", i, rangeText(f.min, f.max))})
					}
				}
			}
			validateValue(fv, p, errs)
		}
	}
}

func rangeText(lo, hi *int64) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%d-%d", *lo, *hi)
	case lo != nil:
		return fmt.Sprintf(">= %d", *lo)
	default:
		return fmt.Sprintf("<= %d", *hi)
	}
}

// isUnset reports whether a member is absent: a nil pointer or slice, or an
// empty enum string.
func isUnset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	}
	return false
}

// StringMember is a top-level string member of a generated input.
type StringMember struct {
	Member string  // member name, e.g. BackendEnvironmentName
	Label  string  // the URI label it is bound to, e.g. backendEnvironmentName; "" for a body member
	Value  *string // nil when the member is unset
}

// StringMembers returns the top-level *string members of a generated input
// (or a pointer to one), in the order of the struct's fields.
func StringMembers(v any) []StringMember {
	rv := reflect.Indirect(reflect.ValueOf(v))
	var out []StringMember
	for _, f := range fieldsOf(rv.Type()) {
		fv := rv.Field(f.index)
		if fv.Kind() != reflect.Pointer || fv.Type().Elem().Kind() != reflect.String {
			continue
		}
		m := StringMember{Member: f.name, Label: f.uri}
		if !fv.IsNil() {
			s := fv.Elem().String()
			m.Value = &s
		}
		out = append(out, m)
	}
	return out
}

// URIMembers returns the members of a generated input bound to URI labels,
// in the order of the struct's fields.
func URIMembers(v any) []StringMember {
	var out []StringMember
	for _, m := range StringMembers(v) {
		if m.Label != "" {
			out = append(out, m)
		}
	}
	return out
}

// SetURILabel sets the member bound to URI label name; it reports whether
// such a member exists.
func SetURILabel(v any, name, value string) bool {
	rv := reflect.ValueOf(v).Elem()
	for _, f := range fieldsOf(rv.Type()) {
		if f.uri == name {
			s := value
			rv.Field(f.index).Set(reflect.ValueOf(&s))
			return true
		}
	}
	return false
}

// HasBody reports whether a generated input has members sent in the body.
func HasBody(v any) bool {
	for _, f := range fieldsOf(reflect.Indirect(reflect.ValueOf(v)).Type()) {
		if f.wire != "" {
			return true
		}
	}
	return false
}
