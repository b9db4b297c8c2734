package bench

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// memTable is the state table in memory: exactly the requests
// internal/tracked and submit make (puts and deletes conditional on
// attribute_not_exists(pk) or #rev = :rev, SET/ADD/DELETE updates, get,
// batch get), so that the hinted policy runs poll's real hint path and the
// submit benchmark runs without DynamoDB.
type memTable struct {
	mu    sync.Mutex
	items map[string]map[string]ddbtypes.AttributeValue
}

// holds evaluates the conditions the callers write with.
func holds(cond *string, vals map[string]ddbtypes.AttributeValue, cur map[string]ddbtypes.AttributeValue) bool {
	switch aws.ToString(cond) {
	case "":
		return true
	case "attribute_not_exists(pk)":
		return cur == nil
	case "#rev = :rev":
		rev, ok := cur["rev"].(*ddbtypes.AttributeValueMemberN)
		return ok && rev.Value == vals[":rev"].(*ddbtypes.AttributeValueMemberN).Value
	}
	panic("memTable: condition " + aws.ToString(cond))
}

func newMemTable() *memTable {
	return &memTable{items: map[string]map[string]ddbtypes.AttributeValue{}}
}

func pkOf(key map[string]ddbtypes.AttributeValue) string {
	s, _ := key["pk"].(*ddbtypes.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func (m *memTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pk := pkOf(in.Item)
	if !holds(in.ConditionExpression, in.ExpressionAttributeValues, m.items[pk]) {
		return nil, &ddbtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	item := make(map[string]ddbtypes.AttributeValue, len(in.Item))
	for k, v := range in.Item {
		item[k] = v
	}
	m.items[pk] = item
	return &dynamodb.PutItemOutput{}, nil
}

func (m *memTable) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pk := pkOf(in.Key)
	if !holds(in.ConditionExpression, in.ExpressionAttributeValues, m.items[pk]) {
		return nil, &ddbtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	delete(m.items, pk)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (m *memTable) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pk := pkOf(in.Key)
	item := m.items[pk]
	if item == nil {
		item = map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}}
		m.items[pk] = item
	}
	expr := *in.UpdateExpression
	name := func(n string) string {
		if real, ok := in.ExpressionAttributeNames[n]; ok {
			return real
		}
		return n
	}
	switch {
	case strings.HasPrefix(expr, "SET "):
		for _, part := range strings.Split(strings.TrimPrefix(expr, "SET "), ",") {
			attr, val, _ := strings.Cut(strings.TrimSpace(part), " = ")
			item[name(attr)] = in.ExpressionAttributeValues[strings.TrimSpace(val)]
		}
	case strings.HasPrefix(expr, "ADD "), strings.HasPrefix(expr, "DELETE "):
		op, rest, _ := strings.Cut(expr, " ")
		attr, val, _ := strings.Cut(rest, " ")
		set, _ := item[name(attr)].(*ddbtypes.AttributeValueMemberSS)
		var members []string
		if set != nil {
			members = set.Value
		}
		for _, v := range in.ExpressionAttributeValues[val].(*ddbtypes.AttributeValueMemberSS).Value {
			if op == "ADD" {
				members = append(members, v)
				continue
			}
			for i, x := range members {
				if x == v {
					members = append(members[:i:i], members[i+1:]...)
					break
				}
			}
		}
		item[name(attr)] = &ddbtypes.AttributeValueMemberSS{Value: members}
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

func (m *memTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: m.items[pkOf(in.Key)]}, nil
}

func (m *memTable) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]ddbtypes.AttributeValue{}}
	for table, req := range in.RequestItems {
		for _, k := range req.Keys {
			if item := m.items[pkOf(k)]; item != nil {
				out.Responses[table] = append(out.Responses[table], item)
			}
		}
	}
	return out, nil
}
