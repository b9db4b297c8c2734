package ddbmem_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/dev/ddbmem"
)

// TestValidation covers the malformed requests moto does not answer as
// DynamoDB does (it fails with a 500, or applies part of the update):
// ddbmem refuses them as DynamoDB does, and changes nothing.
func TestValidation(t *testing.T) {
	x := map[string]types.AttributeValue{":x": s("x")}
	for name, do := range map[string]op{
		"undefined name in a condition": putOp(itemA(), exprs{cond: ptr("#nope = :x"), values: x}),
		"undefined name in an update":   updateOp("a", exprs{update: ptr("SET #nope = :x"), values: x}),
		"undefined value":               updateOp("a", exprs{update: ptr("SET a = :nope")}),
		"unused name":                   updateOp("a", exprs{update: ptr("SET a = :x"), values: x, names: map[string]string{"#n": "n"}}),
		"path inside a removed one":     updateOp("a", exprs{update: ptr("SET m.k = :x REMOVE m"), values: x}),
		"a section twice":               updateOp("a", exprs{update: ptr("SET a = :x SET b = :x"), values: x}),
		"syntax":                        updateOp("a", exprs{update: ptr("SET a = = :x"), values: x}),
		"unknown function":              putOp(itemA(), exprs{cond: ptr("exists(a)")}),
		"set through a missing map":     updateOp("a", exprs{update: ptr("SET nomap.k = :x"), values: x}),
		"missing key":                   putOp(map[string]types.AttributeValue{"id": s("a")}, exprs{}),
	} {
		t.Run(name, func(t *testing.T) {
			db := ddbmem.New("pk")
			ctx := context.Background()
			if _, err := putOp(itemA(), exprs{})(ctx, db, "t"); err != nil {
				t.Fatal(err)
			}
			_, err := do(ctx, db, "t")
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
				t.Errorf("err = %v, want a ValidationException", err)
			}
			got, _ := getOp("a", exprs{})(ctx, db, "t")
			if sortedMap(normItem(got)) != sortedMap(normItem(itemA())) {
				t.Errorf("a refused request changed the item: %v", normItem(got))
			}
		})
	}
}
