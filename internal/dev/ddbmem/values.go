package ddbmem

import (
	"bytes"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// typeName is the DynamoDB type of v (S, N, B, SS, NS, BS, BOOL, NULL, L,
// M), as attribute_type names it.
func typeName(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberM:
		return "M"
	}
	return ""
}

// rat reads a number; ok is false for anything else.
func rat(v types.AttributeValue) (*big.Rat, bool) {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return nil, false
	}
	return new(big.Rat).SetString(strings.TrimSpace(n.Value))
}

// number is n as a DynamoDB number.
func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: big.NewInt(n).String()}
}

// format writes r as DynamoDB writes numbers: no exponent, no trailing
// zeros.
func format(r *big.Rat) types.AttributeValue {
	if r.IsInt() {
		return &types.AttributeValueMemberN{Value: r.Num().String()}
	}
	s := strings.TrimRight(r.FloatString(38), "0")
	return &types.AttributeValueMemberN{Value: s}
}

// order compares two scalars of one type (N, S, B): -1, 0, 1; ok is false
// when they are not such a pair.
func order(a, b types.AttributeValue) (int, bool) {
	if x, ok := rat(a); ok {
		y, ok := rat(b)
		if !ok {
			return 0, false
		}
		return x.Cmp(y), true
	}
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return strings.Compare(a.Value, b.Value), ok
	case *types.AttributeValueMemberB:
		b, ok := b.(*types.AttributeValueMemberB)
		return bytes.Compare(a.Value, b.Value), ok
	}
	return 0, false
}

// compare applies a comparator. An operand that names nothing, or a pair
// of different types, is unequal to everything and in no order.
func compare(op string, a, b types.AttributeValue) bool {
	if a == nil || b == nil {
		return op == "<>"
	}
	if op == "=" || op == "<>" {
		return equal(a, b) == (op == "=")
	}
	c, ok := order(a, b)
	if !ok {
		return false
	}
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

// equal is DynamoDB's equality: numbers by value, sets whatever their
// order, lists and maps member by member.
func equal(a, b types.AttributeValue) bool {
	if typeName(a) != typeName(b) {
		return false
	}
	if c, ok := order(a, b); ok {
		return c == 0
	}
	switch a := a.(type) {
	case *types.AttributeValueMemberBOOL:
		return a.Value == b.(*types.AttributeValueMemberBOOL).Value
	case *types.AttributeValueMemberNULL:
		return true
	case *types.AttributeValueMemberL:
		l := b.(*types.AttributeValueMemberL).Value
		if len(a.Value) != len(l) {
			return false
		}
		for i := range l {
			if !equal(a.Value[i], l[i]) {
				return false
			}
		}
		return true
	case *types.AttributeValueMemberM:
		m := b.(*types.AttributeValueMemberM).Value
		if len(a.Value) != len(m) {
			return false
		}
		for k, v := range a.Value {
			if w, ok := m[k]; !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	as, bs := setMembers(a), setMembers(b)
	return len(as) == len(bs) && subset(as, bs)
}

// setMembers lists a set's members as scalars.
func setMembers(v types.AttributeValue) []types.AttributeValue {
	var out []types.AttributeValue
	switch v := v.(type) {
	case *types.AttributeValueMemberSS:
		for _, s := range v.Value {
			out = append(out, &types.AttributeValueMemberS{Value: s})
		}
	case *types.AttributeValueMemberNS:
		for _, s := range v.Value {
			out = append(out, &types.AttributeValueMemberN{Value: s})
		}
	case *types.AttributeValueMemberBS:
		for _, s := range v.Value {
			out = append(out, &types.AttributeValueMemberB{Value: s})
		}
	}
	return out
}

// subset reports whether every member of as is in bs.
func subset(as, bs []types.AttributeValue) bool {
	for _, a := range as {
		found := false
		for _, b := range bs {
			if equal(a, b) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// members counts the members of a set, list or map.
func members(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberL:
		return len(v.Value)
	case *types.AttributeValueMemberM:
		return len(v.Value)
	}
	return len(setMembers(v))
}
