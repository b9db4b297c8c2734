package ddbmem

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// GetItem implements the DynamoDB operation (every read is consistent).
func (d *DB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r, err := parse(in.ExpressionAttributeNames, nil, nil, nil, in.ProjectionExpression)
	if err != nil {
		return nil, err
	}
	k, err := d.keyOf(in.Key, false)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return &dynamodb.GetItemOutput{Item: project(d.table(in.TableName)[k], r.proj)}, nil
}

// BatchGetItem implements the DynamoDB operation: it answers every key at
// once (no UnprocessedKeys), in the order asked.
func (d *DB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	d.mu.Lock()
	defer d.mu.Unlock()
	for table, req := range in.RequestItems {
		r, err := parse(req.ExpressionAttributeNames, nil, nil, nil, req.ProjectionExpression)
		if err != nil {
			return nil, err
		}
		for _, key := range req.Keys {
			k, err := d.keyOf(key, false)
			if err != nil {
				return nil, err
			}
			if item := d.table(&table)[k]; item != nil {
				out.Responses[table] = append(out.Responses[table], project(item, r.proj))
			}
		}
	}
	return out, nil
}

// PutItem implements the DynamoDB operation.
func (d *DB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r, err := parse(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ConditionExpression, nil, nil)
	if err != nil {
		return nil, err
	}
	attrs, err := d.write(in.TableName, in.Item, true, r, in.ReturnValuesOnConditionCheckFailure, in.ReturnValues,
		func(map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
			return clone(in.Item), nil
		})
	if err != nil {
		return nil, err
	}
	return &dynamodb.PutItemOutput{Attributes: attrs}, nil
}

// DeleteItem implements the DynamoDB operation.
func (d *DB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	r, err := parse(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ConditionExpression, nil, nil)
	if err != nil {
		return nil, err
	}
	attrs, err := d.write(in.TableName, in.Key, false, r, in.ReturnValuesOnConditionCheckFailure, in.ReturnValues,
		func(map[string]types.AttributeValue) (map[string]types.AttributeValue, error) { return nil, nil })
	if err != nil {
		return nil, err
	}
	return &dynamodb.DeleteItemOutput{Attributes: attrs}, nil
}

// UpdateItem implements the DynamoDB operation: an item that is not there
// is created with the key's attributes.
func (d *DB) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if in.UpdateExpression == nil {
		return nil, invalid("ddbmem serves UpdateItem with an UpdateExpression only")
	}
	r, err := parse(in.ExpressionAttributeNames, in.ExpressionAttributeValues, in.ConditionExpression, in.UpdateExpression, nil)
	if err != nil {
		return nil, err
	}
	attrs, err := d.write(in.TableName, in.Key, false, r, in.ReturnValuesOnConditionCheckFailure, in.ReturnValues,
		func(old map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
			return apply(old, in.Key, r.actions)
		})
	if err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemOutput{Attributes: attrs}, nil
}

// write runs one write on the item key (or, wholeItem, the item key
// names) finds: it checks the request's condition, lets next say what the
// item becomes (nil: deleted) and answers ReturnValues, atomically.
func (d *DB) write(table *string, key map[string]types.AttributeValue, wholeItem bool, r *request,
	onFailure types.ReturnValuesOnConditionCheckFailure, rv types.ReturnValue,
	next func(old map[string]types.AttributeValue) (map[string]types.AttributeValue, error),
) (map[string]types.AttributeValue, error) {
	k, err := d.keyOf(key, wholeItem)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.table(table)
	old := t[k]
	if err := r.admit(old, onFailure); err != nil {
		return nil, err
	}
	item, err := next(old)
	if err != nil {
		return nil, err
	}
	attrs, err := returned(rv, old, item)
	if err != nil {
		return nil, err
	}
	if item == nil {
		delete(t, k)
	} else {
		t[k] = item
	}
	return attrs, nil
}
