package ddbmem_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/state"
)

// exprs are a request's expressions and their #names and :values.
type exprs struct {
	cond, update, proj *string
	names              map[string]string
	values             map[string]types.AttributeValue
}

// built is what the expression builder writes for b.
func built(t *testing.T, b expression.Builder) exprs {
	e, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return exprs{e.Condition(), e.Update(), e.Projection(), e.Names(), e.Values()}
}

// when is a builder with a condition.
func when(c expression.ConditionBuilder) expression.Builder {
	return expression.NewBuilder().WithCondition(c)
}

func name(n string) expression.NameBuilder { return expression.Name(n) }
func val(v any) expression.ValueBuilder    { return expression.Value(v) }

func s(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func ss(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }
func ns(v ...string) types.AttributeValue { return &types.AttributeValueMemberNS{Value: v} }
func list(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}

func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(k)}
}

// op is one request, run on either side.
type op func(ctx context.Context, c state.Client, table string) (map[string]types.AttributeValue, error)

func putOp(item map[string]types.AttributeValue, e exprs) op {
	return func(ctx context.Context, c state.Client, table string) (map[string]types.AttributeValue, error) {
		out, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item,
			ConditionExpression: e.cond, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
			ReturnValues: types.ReturnValueAllOld, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
}

func updateOp(k string, e exprs) op {
	return func(ctx context.Context, c state.Client, table string) (map[string]types.AttributeValue, error) {
		out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key(k),
			UpdateExpression: e.update, ConditionExpression: e.cond, ExpressionAttributeNames: e.names,
			ExpressionAttributeValues: e.values, ReturnValues: types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
}

func deleteOp(k string, e exprs) op {
	return func(ctx context.Context, c state.Client, table string) (map[string]types.AttributeValue, error) {
		out, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(k),
			ConditionExpression: e.cond, ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
			ReturnValues: types.ReturnValueAllOld, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
}

func getOp(k string, e exprs) op {
	return func(ctx context.Context, c state.Client, table string) (map[string]types.AttributeValue, error) {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k),
			ProjectionExpression: e.proj, ExpressionAttributeNames: e.names, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		return out.Item, nil
	}
}

func batchOp(keys []string, e exprs) op {
	return func(ctx context.Context, c state.Client, table string) (map[string]types.AttributeValue, error) {
		ka := types.KeysAndAttributes{ProjectionExpression: e.proj, ExpressionAttributeNames: e.names, ConsistentRead: aws.Bool(true)}
		for _, k := range keys {
			ka.Keys = append(ka.Keys, key(k))
		}
		out, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{table: ka}})
		if err != nil {
			return nil, err
		}
		items := map[string]types.AttributeValue{}
		for _, item := range out.Responses[table] {
			items[item["pk"].(*types.AttributeValueMemberS).Value] = &types.AttributeValueMemberM{Value: item}
		}
		return items, nil
	}
}

// TestRequestsMatchMoto runs the same requests on moto and on ddbmem —
// conditions, updates and projections the expression builder writes, and
// the hand-written ones jobwatch used to send — and compares every answer
// (failed conditions and the items they return, validation errors) and
// the tables' contents after each.
func TestRequestsMatchMoto(t *testing.T) {
	ctx := context.Background()
	sd := sides(t)
	keys := []string{"a", "b", "c", "new", "set"}
	for i, st := range requestSteps(t) {
		var got [2]outcome
		for j, side := range sd {
			attrs, err := st.do(ctx, side.client, side.table)
			got[j] = outcomeOf(attrs, err)
		}
		if sortedMap(got[0]) != sortedMap(got[1]) || got[0].Kind != got[1].Kind {
			t.Errorf("step %d %s: moto %+v, ddbmem %+v", i, st.name, got[0], got[1])
		}
		if st.want != "" && got[1].Kind != st.want {
			t.Errorf("step %d %s: %s, want %s", i, st.name, got[1].Kind, st.want)
		}
		if m, d := dump(t, sd[0], keys), dump(t, sd[1], keys); m != d {
			t.Fatalf("after step %d %s the tables differ:\nmoto   %s\nddbmem %s", i, st.name, m, d)
		}
	}
}

type step struct {
	name string
	do   op
	want string // the outcome's kind, when the step is there to show one
}
