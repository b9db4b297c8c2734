// Package secretstore reads one SSM parameter or one Secrets Manager
// secret — the two calls notify makes, for the Slack webhook URL — over
// the AWS JSON 1.1 protocol with the SDK's credentials, SigV4 signer,
// retryer, HTTP client and error types. The SDK's generated SSM and
// Secrets Manager clients would serve, but their packages build 1.6 MB of
// operation schemas at every start of the function, whether or not Slack
// is on: about 40% of what notify's cold start takes beyond a hello-world
// function's, for two calls.
package secretstore
