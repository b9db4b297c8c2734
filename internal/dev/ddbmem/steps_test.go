package ddbmem_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item a: one attribute of every type.
func itemA() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": s("a"), "rev": n("3"), "state": s("waiting"), "count": n("10"), "price": n("2.50"),
		"tags": ss("x", "y"), "nums": ns("1", "2"), "list": list(s("l0"), n("1"), s("l2")),
		"m":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v"), "deep": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": n("1")}}}},
		"ok": &types.AttributeValueMemberBOOL{Value: true}, "none": &types.AttributeValueMemberNULL{Value: true},
		"bin": &types.AttributeValueMemberB{Value: []byte("bytes")},
	}
}

// requestSteps are the requests of TestRequestsMatchMoto, in order.
func requestSteps(t *testing.T) []step {
	notExists := expression.AttributeNotExists(name("pk"))
	c := func(cb expression.ConditionBuilder) exprs { return built(t, when(cb)) }
	u := func(ub expression.UpdateBuilder) exprs { return built(t, expression.NewBuilder().WithUpdate(ub)) }
	uc := func(ub expression.UpdateBuilder, cb expression.ConditionBuilder) exprs {
		return built(t, expression.NewBuilder().WithUpdate(ub).WithCondition(cb))
	}
	bItem := map[string]types.AttributeValue{"pk": s("b"), "rev": n("1"), "status": s("IN_PROGRESS"), "expiresAt": n("100")}
	steps := []step{
		{"put a", putOp(itemA(), exprs{}), "ok"},
		{"create a again", putOp(itemA(), c(notExists)), "conditional"},
		{"create b", putOp(bItem, c(notExists)), "ok"},
		{"rev matches", putOp(bItem, c(name("rev").Equal(val(1)))), "ok"},
		{"rev differs", putOp(bItem, c(name("rev").Equal(val(2)))), "conditional"},
		{"hand-written rev", putOp(bItem, exprs{cond: ptr("#rev = :rev"), names: map[string]string{"#rev": "rev"},
			values: map[string]types.AttributeValue{":rev": n("1")}}), "ok"},
		{"hand-written not exists", putOp(bItem, exprs{cond: ptr("attribute_not_exists(pk)")}), "conditional"},
		{"lapsed claim (expiry < now)", putOp(bItem, c(notExists.Or(name("status").Equal(val("IN_PROGRESS")).And(name("expiresAt").LessThan(val(101)))))), "ok"},
		{"live claim", putOp(bItem, c(notExists.Or(name("status").Equal(val("IN_PROGRESS")).And(name("expiresAt").LessThan(val(99)))))), "conditional"},
	}
	steps = append(steps, conditionSteps(t, c)...)
	steps = append(steps, updateSteps(u, uc, notExists)...)
	return append(steps, readSteps(t)...)
}

// conditionSteps try the comparisons and functions on item a.
func conditionSteps(t *testing.T, c func(expression.ConditionBuilder) exprs) []step {
	a := itemA()
	cases := []struct {
		name string
		cond expression.ConditionBuilder
	}{
		{"numbers by value", name("count").GreaterThan(val(9))},
		{"decimal equality", name("price").Equal(val(2.5))},
		{"strings in order", name("state").LessThan(val("x"))},
		{"absent attribute unequal", name("missing").NotEqual(val(1))},
		{"absent attribute not equal", name("missing").Equal(val(1))},
		{"absent attribute in no order", name("missing").LessThan(val(1))},
		{"type mismatch", name("count").Equal(val("10"))},
		{"between", name("count").Between(val(10), val(11))},
		{"in", name("state").In(val("new"), val("waiting"))},
		{"not in", name("state").In(val("new"), val("started"))},
		{"begins_with", name("state").BeginsWith("wai")},
		{"contains in a string set", name("tags").Contains("y")},
		{"contains in a string", name("state").Contains("ait")},
		{"contains in a list", name("list").Contains("l2")},
		{"size of a set", expression.Size(name("tags")).Equal(val(2))},
		{"size of a string", expression.Size(name("state")).GreaterThan(val(7))},
		{"attribute_type", name("nums").AttributeType(expression.NumberSet)},
		{"nested path", name("m.deep.x").Equal(val(1))},
		{"list index", name("list[1]").Equal(val(1))},
		{"not", expression.Not(name("ok").Equal(val(true)))},
		{"and-or nesting", expression.Or(name("none").AttributeExists().And(name("count").LessThan(val(5))), name("bin").AttributeExists())},
		{"set equality", name("tags").Equal(val(ss("y", "x")))},
	}
	var out []step
	for _, tc := range cases {
		out = append(out, step{name: "condition " + tc.name, do: putOp(a, c(tc.cond))})
	}
	return out
}

// updateSteps change items a and c, and create new and set.
func updateSteps(u func(expression.UpdateBuilder) exprs, uc func(expression.UpdateBuilder, expression.ConditionBuilder) exprs,
	notExists expression.ConditionBuilder) []step {
	set := expression.Set
	return []step{
		{"set and arithmetic", updateOp("a", u(set(name("state"), val("started")).Set(name("count"), name("count").Plus(val(5))).
			Set(name("price"), name("price").Minus(val(0.5))))), "ok"},
		{"if_not_exists", updateOp("a", u(set(name("polls"), expression.Plus(expression.IfNotExists(name("polls"), val(0)), val(1))).
			Set(name("count"), expression.IfNotExists(name("count"), val(0))))), "ok"},
		{"list_append and nested set", updateOp("a", u(set(name("list"), expression.ListAppend(name("list"), val([]string{"l3"}))).
			Set(name("m.k"), val("w")).Set(name("m.added"), val(1)))), "ok"},
		{"remove", updateOp("a", u(expression.Remove(name("none")).Remove(name("list[0]")).Remove(name("m.deep")))), "ok"},
		{"add and delete", updateOp("a", u(expression.Add(name("count"), val(-1)).Add(name("tags"), val(ss("z", "x"))).
			Delete(name("nums"), val(ns("1", "2"))))), "ok"},
		{"update creates", updateOp("new", u(expression.Add(name("jobs"), val(ss("j1"))).Set(name("state"), val("DONE")))), "ok"},
		{"conditional update fails", updateOp("a", uc(set(name("state"), val("x")), name("rev").Equal(val(9)))), "conditional"},
		{"create-only update fails", updateOp("a", uc(set(name("state"), val("x")), notExists)), "conditional"},
		{"hand-written set", updateOp("c", exprs{update: ptr("SET #st = :done, #s = :status, polls = :polls"),
			names:  map[string]string{"#st": "state", "#s": "status"},
			values: map[string]types.AttributeValue{":done": s("DONE"), ":status": s("COMPLETED"), ":polls": n("4")}}), "ok"},
		{"hand-written add", updateOp("set", exprs{update: ptr("ADD jobs :j"), values: map[string]types.AttributeValue{":j": ss("a", "b")}}), "ok"},
		{"hand-written delete", updateOp("set", exprs{update: ptr("DELETE jobs :j"), values: map[string]types.AttributeValue{":j": ss("a")}}), "ok"},
		{"delete the last member", updateOp("set", exprs{update: ptr("DELETE jobs :j"), values: map[string]types.AttributeValue{":j": ss("b")}}), "ok"},
		{"update the key", updateOp("a", u(set(name("pk"), val("z")))), "ValidationException"},
		{"add to a string", updateOp("a", u(expression.Add(name("state"), val(1)))), "ValidationException"},
		{"arithmetic on a string", updateOp("a", u(set(name("x"), name("state").Plus(val(1))))), "ValidationException"},
		// (moto answers a ValidationException too, but applies what it could:
		// the paths set the value the item already holds.)
		{"overlapping paths", updateOp("a", u(set(name("state"), val("started")).Set(name("state"), val("started")))), "ValidationException"},
		{"unused value", updateOp("a", exprs{update: ptr("SET #s = :a"), names: map[string]string{"#s": "state"},
			values: map[string]types.AttributeValue{":a": s("x"), ":b": s("y")}}), "ValidationException"},
	}
}

// readSteps read with projections and delete with conditions.
func readSteps(t *testing.T) []step {
	proj := func(names ...string) exprs {
		nb := make([]expression.NameBuilder, len(names))
		for i, x := range names {
			nb[i] = name(x)
		}
		return built(t, expression.NewBuilder().WithProjection(expression.NamesList(nb[0], nb[1:]...)))
	}
	return []step{
		{"get all", getOp("a", exprs{}), "ok"},
		{"get projected", getOp("a", proj("pk", "state", "m.k", "missing")), "ok"},
		{"get absent", getOp("zzz", exprs{}), "ok"},
		{"batch projected", batchOp([]string{"a", "b", "c", "zzz"}, proj("pk", "state")), "ok"},
		{"delete refused", deleteOp("b", built(t, when(name("status").Equal(val("COMPLETED"))))), "conditional"},
		{"delete", deleteOp("b", built(t, when(name("status").Equal(val("IN_PROGRESS"))))), "ok"},
		{"delete absent", deleteOp("b", exprs{}), "ok"},
	}
}

func ptr(s string) *string { return &s }
