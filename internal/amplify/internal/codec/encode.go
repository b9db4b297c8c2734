package codec

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strconv"
)

// Redacted replaces the value of a sensitive member wherever a shape is
// printed or logged.
const Redacted = "*** sensitive ***"

// Encode writes v (a generated struct or a pointer to one) as a JSON
// object under the chosen naming, members in model order, unset members
// omitted. Sensitive members are written as they are: Encode is for output
// the caller asked for; String and LogValue are for logs.
func Encode(v any, naming Naming) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, reflect.ValueOf(v), naming, false); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v reflect.Value, naming Naming, redact bool) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		return encodeValue(buf, v.Elem(), naming, redact)
	case reflect.Struct:
		buf.WriteByte('{')
		first := true
		for _, f := range fieldsOf(v.Type()) {
			fv := v.Field(f.index)
			if isUnset(fv) {
				continue
			}
			key := f.name
			if naming == WireNames {
				if f.wire == "" {
					continue
				}
				key = f.wire
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeString(buf, key)
			buf.WriteByte(':')
			if redact && f.sensitive {
				writeString(buf, Redacted)
				continue
			}
			if err := encodeValue(buf, fv, naming, redact); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case reflect.Slice:
		if v.IsNil() {
			buf.WriteString("null")
			return nil
		}
		buf.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := encodeValue(buf, v.Index(i), naming, redact); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case reflect.String:
		writeString(buf, v.String())
	case reflect.Bool:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Float32, reflect.Float64:
		b, err := json.Marshal(v.Float())
		if err != nil {
			return err
		}
		buf.Write(b)
	default:
		return &Error{Kind: Malformed, Detail: "cannot encode Go kind " + v.Kind().String()}
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// String renders v for humans and logs: member names, unset members
// omitted, sensitive members replaced by Redacted.
func String(v any) string {
	var buf bytes.Buffer
	if err := encodeValue(&buf, reflect.ValueOf(v), MemberNames, true); err != nil {
		return "<" + err.Error() + ">"
	}
	return buf.String()
}

// LogValue renders v as a slog group of its set members, sensitive members
// replaced by Redacted, so that JSON and text handlers both log it safely.
func LogValue(v any) slog.Value {
	return logValue(reflect.ValueOf(v))
}

func logValue(v reflect.Value) slog.Value {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return slog.AnyValue(nil)
		}
		return logValue(v.Elem())
	case reflect.Struct:
		var attrs []slog.Attr
		for _, f := range fieldsOf(v.Type()) {
			fv := v.Field(f.index)
			if isUnset(fv) {
				continue
			}
			if f.sensitive {
				attrs = append(attrs, slog.String(f.name, Redacted))
				continue
			}
			attrs = append(attrs, slog.Attr{Key: f.name, Value: logValue(fv)})
		}
		return slog.GroupValue(attrs...)
	case reflect.Slice:
		// slog has no list value: keep the redacted JSON form.
		return slog.AnyValue(json.RawMessage(String(v.Interface())))
	case reflect.String:
		return slog.StringValue(v.String())
	case reflect.Bool:
		return slog.BoolValue(v.Bool())
	case reflect.Int, reflect.Int32, reflect.Int64:
		return slog.Int64Value(v.Int())
	case reflect.Float32, reflect.Float64:
		return slog.Float64Value(v.Float())
	}
	return slog.StringValue(v.Kind().String())
}
