// Package ddbmem is a DynamoDB table in memory, for tooling that runs the
// product's state store without DynamoDB (the bench, benchmarks). It
// serves GetItem, PutItem, DeleteItem, UpdateItem and BatchGetItem on
// tables keyed by one partition key, and evaluates their expressions the
// way DynamoDB does, whatever their text:
//
//   - conditions: =, <>, <, <=, >, >=, BETWEEN, IN, AND, OR, NOT,
//     parentheses, attribute_exists, attribute_not_exists, attribute_type,
//     begins_with, contains and size;
//   - updates: SET (with +, -, if_not_exists and list_append), REMOVE,
//     ADD and DELETE;
//   - projections; document paths (a.b[2]) with #names and :values.
//
// A failed condition is a *types.ConditionalCheckFailedException (with the
// item when ReturnValuesOnConditionCheckFailure is ALL_OLD); a malformed
// request a ValidationException, as DynamoDB answers it. Reserved words
// are not checked. The differential test runs the same requests, and the
// same state store operations, against moto and against this table.
package ddbmem
