// Package amplify is a client for the AWS Amplify Admin API (service
// amplifybackend), shaped like an aws-sdk-go-v2 service client: Options,
// New, NewFromConfig and one method per operation, with typed inputs,
// outputs, shapes (package types) and errors.
//
// The official module (aws-sdk-go-v2/service/amplifybackend) is not
// available to this project; this package stands in for it on the SDK's own
// core (SigV4 signer, standard retryer, smithy middleware stack), so that
// moving to the official module later is mechanical.
//
// The operation files, package types and the operation table are generated
// from the botocore service model kept in internal/dev/codegen.
package amplify

//go:generate go run ../dev/codegen -model ../dev/codegen/service-2.json.gz -out .
