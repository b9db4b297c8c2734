package ddbmem

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// get is the value at path in item; nil when there is none.
func get(item map[string]types.AttributeValue, path docPath) types.AttributeValue {
	var cur types.AttributeValue = &types.AttributeValueMemberM{Value: item}
	for _, e := range path {
		cur = child(cur, e)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// child is the member e of v (a map key or a list index); nil when there
// is none.
func child(v types.AttributeValue, e pathElem) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberM:
		if e.name != "" {
			return v.Value[e.name]
		}
	case *types.AttributeValueMemberL:
		if e.name == "" && e.index < len(v.Value) {
			return v.Value[e.index]
		}
	}
	return nil
}

// errBadPath is DynamoDB's answer to an update through a path that does
// not lead anywhere.
var errBadPath = invalid("The document path provided in the update expression is invalid for update")

// set puts v at path in item, creating the last step: a map key, or a
// list index (past the end: appended).
func set(item map[string]types.AttributeValue, path docPath, v types.AttributeValue) error {
	parent := get(item, path[:len(path)-1])
	last := path[len(path)-1]
	switch p := parent.(type) {
	case *types.AttributeValueMemberM:
		if last.name != "" {
			p.Value[last.name] = v
			return nil
		}
	case *types.AttributeValueMemberL:
		if last.name == "" {
			if last.index < len(p.Value) {
				p.Value[last.index] = v
			} else {
				p.Value = append(p.Value, v)
			}
			return nil
		}
	}
	return errBadPath
}

// remove takes what is at path out of item; nothing there is no error.
func remove(item map[string]types.AttributeValue, path docPath) {
	last := path[len(path)-1]
	switch p := get(item, path[:len(path)-1]).(type) {
	case *types.AttributeValueMemberM:
		delete(p.Value, last.name)
	case *types.AttributeValueMemberL:
		if last.name == "" && last.index < len(p.Value) {
			p.Value = slices.Delete(p.Value, last.index, last.index+1)
		}
	}
}

// project copies what paths name from item into a new item (all of it
// when paths is nil): the maps along the way, and of a list the members
// named, in the order the paths name them.
func project(item map[string]types.AttributeValue, paths []docPath) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	if paths == nil {
		return clone(item)
	}
	out := map[string]types.AttributeValue{}
	for _, p := range paths {
		if v := get(item, p); v != nil {
			graft(out, item, p)
		}
	}
	return out
}

// graft copies the value at path from src into dst, building the maps
// and lists on the way.
func graft(dst, src map[string]types.AttributeValue, path docPath) {
	var at types.AttributeValue = &types.AttributeValueMemberM{Value: dst}
	var from types.AttributeValue = &types.AttributeValueMemberM{Value: src}
	for i, e := range path {
		from = child(from, e)
		var next types.AttributeValue
		switch {
		case i == len(path)-1:
			next = cloneValue(from)
		case typeName(from) == "M":
			next = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
		default:
			next = &types.AttributeValueMemberL{}
		}
		if have := child(at, e); have != nil && e.name != "" && i < len(path)-1 {
			next = have // a map on the way of an earlier path
		}
		switch a := at.(type) {
		case *types.AttributeValueMemberM:
			a.Value[e.name] = next
		case *types.AttributeValueMemberL:
			a.Value = append(a.Value, next)
		}
		at = next
	}
}

// clone copies an item deeply, so that what the table holds and what it
// hands out never share a member.
func clone(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v types.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *types.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *types.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: slices.Clone(v.Value)}
	case *types.AttributeValueMemberBS:
		out := make([][]byte, len(v.Value))
		for i, b := range v.Value {
			out[i] = slices.Clone(b)
		}
		return &types.AttributeValueMemberBS{Value: out}
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *types.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	case *types.AttributeValueMemberL:
		out := make([]types.AttributeValue, len(v.Value))
		for i, m := range v.Value {
			out[i] = cloneValue(m)
		}
		return &types.AttributeValueMemberL{Value: out}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: clone(v.Value)}
	}
	return v
}
