package ddbmem_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithy "github.com/aws/smithy-go"

	"github.com/jobwatch/jobwatch/internal/dev/ddbmem"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/state"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// side is one of the two tables a differential test runs on.
type side struct {
	name   string
	client state.Client
	table  string
}

// sides returns a new table in moto and one in ddbmem, both keyed by pk.
func sides(t *testing.T) []side {
	t.Helper()
	// A name of its own: a moto server can be shared with other runs.
	_, table := testenv.Table(t, fmt.Sprintf("diff%08x", rand.Uint32()))
	// Every request on a connection of its own, and no retry: a keep-alive
	// connection the server closes as a request goes out is retried by the
	// SDK, and a conditional write retried after it landed fails its
	// condition — a lost answer, real, but not what this test compares.
	c := dynamodb.NewFromConfig(testenv.AWSConfig(testenv.Moto(t)), func(o *dynamodb.Options) {
		o.RetryMaxAttempts = 1
		o.HTTPClient = testenv.HTTPClient(func(tr *http.Transport) { tr.DisableKeepAlives = true })
	})
	return []side{{"moto", c, table}, {"ddbmem", ddbmem.New("pk"), "diff"}}
}

// norm makes an attribute value comparable across the two sides: numbers
// by value, sets sorted.
func norm(v types.AttributeValue) any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		r, ok := new(big.Rat).SetString(v.Value)
		if !ok {
			return "N?" + v.Value
		}
		return "N:" + r.RatString()
	case *types.AttributeValueMemberB:
		return "B:" + base64.StdEncoding.EncodeToString(v.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprint("BOOL:", v.Value)
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberL:
		out := []any{}
		for _, m := range v.Value {
			out = append(out, norm(m))
		}
		return out
	case *types.AttributeValueMemberM:
		return normItem(v.Value)
	case *types.AttributeValueMemberSS:
		return sortedSet("SS", v.Value, func(s string) string { return s })
	case *types.AttributeValueMemberNS:
		return sortedSet("NS", v.Value, func(s string) string { return norm(&types.AttributeValueMemberN{Value: s}).(string) })
	case *types.AttributeValueMemberBS:
		return sortedSet("BS", v.Value, base64.StdEncoding.EncodeToString)
	}
	return fmt.Sprintf("%T", v)
}

func sortedSet[T any](kind string, members []T, str func(T) string) string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = str(m)
	}
	slices.Sort(out)
	return fmt.Sprint(kind, out)
}

func normItem(item map[string]types.AttributeValue) any {
	if item == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range item {
		out[k] = norm(v)
	}
	return out
}

// outcome is what a request answered, comparable across the sides.
type outcome struct {
	Kind  string // ok, conditional, or the error code
	Attrs any    // the attributes returned, or the item a failed condition found
}

func outcomeOf(attrs map[string]types.AttributeValue, err error) outcome {
	var ccf *types.ConditionalCheckFailedException
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return outcome{"ok", normItem(attrs)}
	case errors.As(err, &ccf):
		return outcome{"conditional", normItem(ccf.Item)}
	case errors.As(err, &apiErr):
		return outcome{apiErr.ErrorCode(), nil}
	}
	return outcome{"error: " + err.Error(), nil}
}

// dump reads every item at keys, for comparing the sides' contents.
func dump(t *testing.T, s side, keys []string) string {
	t.Helper()
	var out []string
	for _, k := range keys {
		got, err := s.client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.table),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatalf("%s: get %s: %v", s.name, k, err)
		}
		out = append(out, fmt.Sprintf("%s=%v", k, sortedMap(normItem(got.Item))))
	}
	return fmt.Sprint(out)
}

// sortedMap prints maps with sorted keys (fmt does), recursively.
func sortedMap(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprint(v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := "{"
	for _, k := range keys {
		out += k + ":" + sortedMap(m[k]) + " "
	}
	return out + "}"
}
