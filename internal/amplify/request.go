package amplify

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/jobwatch/jobwatch/internal/amplify/internal/codec"
)

// DecodeRequest builds the operation's typed input from a request as the
// service reads it: the body's members by their wire names (lowerCamel),
// JSON types checked strictly and unknown members ignored, then the URI
// labels; then required members, ranges and enum values are checked. It
// is the server side of the wire protocol (the emulator's); an error
// names the member by its wire path and never quotes its value.
func (op *Operation) DecodeRequest(body []byte, labels map[string]string) (any, error) {
	in := op.NewInput()
	if codec.HasBody(in) {
		if len(bytes.TrimSpace(body)) == 0 {
			body = []byte("{}")
		}
		if err := codec.Decode(body, in, codec.Options{Naming: codec.WireNames, AllowUnknown: true}); err != nil {
			return nil, err
		}
	}
	for name, value := range labels {
		codec.SetURILabel(in, name, value)
	}
	if errs := codec.Validate(in); len(errs) > 0 {
		return nil, errs[0]
	}
	if err := checkEnums(reflect.ValueOf(in), ""); err != nil {
		return nil, err
	}
	return in, nil
}

// checkEnums finds the first enum member whose value is not among the
// model's values, naming it by its wire path as codec.Decode does. Enum
// types are the named string types with a Values method.
func checkEnums(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return checkEnums(v.Elem(), path)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := checkEnums(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if path != "" {
				name = path + "." + name
			}
			if err := checkEnums(v.Field(i), name); err != nil {
				return err
			}
		}
	case reflect.String:
		return checkEnum(v, path)
	}
	return nil
}

func checkEnum(v reflect.Value, path string) error {
	values := v.MethodByName("Values")
	if !values.IsValid() || v.Len() == 0 {
		return nil
	}
	allowed := values.Call(nil)[0]
	names := make([]string, allowed.Len())
	for i := range names {
		names[i] = allowed.Index(i).String()
		if names[i] == v.String() {
			return nil
		}
	}
	// The value itself stays out of the message: it might be sensitive.
	return &codec.Error{Path: path, Kind: codec.OutOfRange, Detail: "value is not one of " + strings.Join(names, ", ")}
}
