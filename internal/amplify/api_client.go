package amplify

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	// ServiceID is the service's SDK identifier.
	ServiceID = "AmplifyBackend"
	// ServiceAPIVersion is the API version of the service model.
	ServiceAPIVersion = "2020-08-11"
	// SigningName is the SigV4 signing name of the service.
	SigningName = "amplifybackend"
	// endpointEnv is the service-specific endpoint override variable, as
	// every aws-sdk-go-v2 client reads it.
	endpointEnv = "AWS_ENDPOINT_URL_AMPLIFYBACKEND"
)

// Options configure a Client. The zero value of each field means "the
// default", as in aws-sdk-go-v2 clients.
type Options struct {
	// APIOptions modify the middleware stack of every operation.
	APIOptions []func(*middleware.Stack) error

	// AppID is an optional application name added to the User-Agent.
	AppID string

	// BaseEndpoint overrides https://amplifybackend.{region}.amazonaws.com,
	// e.g. to talk to `jobwatch emulator`.
	BaseEndpoint *string

	// ClientLogMode selects what the client logs: retries and signing.
	// Requests and responses are never dumped: their bodies and headers
	// carry OAuth client secrets and session tokens.
	ClientLogMode aws.ClientLogMode

	// Credentials sign every request (required).
	Credentials aws.CredentialsProvider

	// HTTPClient sends the requests; defaults to the SDK's buildable client.
	HTTPClient aws.HTTPClient

	// Logger receives the client's logs.
	Logger logging.Logger

	// Region is the AWS region to call and sign for (required).
	Region string

	// RetryMaxAttempts overrides the retryer's maximum number of attempts.
	RetryMaxAttempts int

	// RetryMode selects the retry strategy when Retryer is nil.
	RetryMode aws.RetryMode

	// Retryer decides on retries; defaults to the SDK's standard retryer,
	// which retries throttling (TooManyRequestsException), 5xx and 504.
	Retryer aws.Retryer

	// Signer signs requests; defaults to the SDK's SigV4 signer.
	Signer *v4.Signer
}

// Copy returns a copy of o that can be changed without touching o.
func (o Options) Copy() Options {
	to := o
	to.APIOptions = append([]func(*middleware.Stack) error(nil), o.APIOptions...)
	return to
}

// Client calls the Amplify Admin API.
type Client struct {
	options Options
}

// New returns a client for the given options.
func New(options Options, optFns ...func(*Options)) *Client {
	options = options.Copy()
	for _, fn := range optFns {
		fn(&options)
	}
	resolveDefaults(&options)
	return &Client{options: options}
}

// NewFromConfig returns a client configured from an aws.Config, as made by
// config.LoadDefaultConfig: region, credentials, HTTP client, retryer,
// logger and base endpoint, plus the AWS_ENDPOINT_URL_AMPLIFYBACKEND and
// AWS_ENDPOINT_URL environment overrides.
func NewFromConfig(cfg aws.Config, optFns ...func(*Options)) *Client {
	opts := Options{
		APIOptions:       cfg.APIOptions,
		AppID:            cfg.AppID,
		ClientLogMode:    cfg.ClientLogMode,
		Credentials:      cfg.Credentials,
		HTTPClient:       cfg.HTTPClient,
		Logger:           cfg.Logger,
		Region:           cfg.Region,
		RetryMaxAttempts: cfg.RetryMaxAttempts,
		RetryMode:        cfg.RetryMode,
		BaseEndpoint:     resolveBaseEndpoint(cfg),
	}
	if cfg.Retryer != nil {
		opts.Retryer = cfg.Retryer()
	}
	return New(opts, optFns...)
}

// resolveBaseEndpoint applies the SDK's precedence: the service-specific
// environment variable, then the config's BaseEndpoint (which
// LoadDefaultConfig fills from AWS_ENDPOINT_URL), then AWS_ENDPOINT_URL for
// configs built by hand. AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns the
// environment off.
func resolveBaseEndpoint(cfg aws.Config) *string {
	ignore := strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true")
	if v := os.Getenv(endpointEnv); v != "" && !ignore {
		return aws.String(v)
	}
	if cfg.BaseEndpoint != nil {
		return cfg.BaseEndpoint
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" && !ignore {
		return aws.String(v)
	}
	return nil
}

func resolveDefaults(o *Options) {
	if o.Retryer == nil {
		switch o.RetryMode {
		case aws.RetryModeAdaptive:
			o.Retryer = retry.NewAdaptiveMode()
		default:
			o.Retryer = retry.NewStandard()
		}
	}
	if o.RetryMaxAttempts > 0 && o.RetryMaxAttempts != o.Retryer.MaxAttempts() {
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, o.RetryMaxAttempts)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = awshttp.NewBuildableClient()
	}
	if o.Logger == nil {
		o.Logger = logging.Nop{}
	}
	if o.Signer == nil {
		o.Signer = v4.NewSigner()
	}
}

// Options returns a copy of the client's options.
func (c *Client) Options() Options { return c.options.Copy() }

// endpoint is the base URL requests go to.
func (o Options) endpoint() (string, error) {
	if o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
		return strings.TrimRight(*o.BaseEndpoint, "/"), nil
	}
	if o.Region == "" {
		return "", fmt.Errorf("no region: set AWS_REGION, the profile's region or Options.Region")
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(o.Region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://amplifybackend.%s.%s", o.Region, suffix), nil
}

// invokeOperation runs one operation through a fresh middleware stack, the
// way generated aws-sdk-go-v2 clients do; per-call options apply to a copy.
func (c *Client) invokeOperation(ctx context.Context, op *Operation, params, out any, optFns []func(*Options)) (middleware.Metadata, error) {
	ctx = middleware.ClearStackValues(ctx)
	options := c.options.Copy()
	for _, fn := range optFns {
		fn(&options)
	}
	if options.RetryMaxAttempts > 0 && options.RetryMaxAttempts != options.Retryer.MaxAttempts() {
		options.Retryer = retry.AddWithMaxAttempts(options.Retryer, options.RetryMaxAttempts)
	}

	stack := middleware.NewStack(op.Name, smithyhttp.NewStackRequest)
	if err := addOperationMiddlewares(stack, op, options, out); err != nil {
		return middleware.Metadata{}, &smithy.OperationError{ServiceID: ServiceID, OperationName: op.Name, Err: err}
	}
	for _, fn := range options.APIOptions {
		if err := fn(stack); err != nil {
			return middleware.Metadata{}, &smithy.OperationError{ServiceID: ServiceID, OperationName: op.Name, Err: err}
		}
	}
	handler := middleware.DecorateHandler(smithyhttp.NewClientHandlerWithOptions(options.HTTPClient), stack)
	_, metadata, err := handler.Handle(ctx, params)
	if err != nil {
		return metadata, &smithy.OperationError{ServiceID: ServiceID, OperationName: op.Name, Err: err}
	}
	return metadata, nil
}

// addOperationMiddlewares stacks what a generated aws-sdk-go-v2 client
// stacks for a REST-JSON operation (addOperation<Op>Middlewares), in its
// order, with our serializer, deserializer, validation and signing in the
// places of the generated ones. Left out: endpoint rules and auth-scheme
// resolution (one endpoint, one scheme), tracing and interceptors (no
// providers here), and request/response logging, whose dumps would carry
// OAuth client secrets and session tokens.
func addOperationMiddlewares(stack *middleware.Stack, op *Operation, o Options, out any) error {
	adders := []func(*middleware.Stack) error{
		func(s *middleware.Stack) error {
			return s.Serialize.Add(&serializeMiddleware{op: op, options: o}, middleware.After)
		},
		func(s *middleware.Stack) error {
			return s.Deserialize.Add(deserializer(op, out), middleware.After)
		},
		func(s *middleware.Stack) error { return middleware.AddSetLoggerMiddleware(s, o.Logger) },
		awsmiddleware.AddClientRequestIDMiddleware,
		addComputeContentLength,
		func(s *middleware.Stack) error { return addSigning(s, o) },
		func(s *middleware.Stack) error {
			return retry.AddRetryMiddlewares(s, retry.AddRetryMiddlewaresOptions{
				Retryer: o.Retryer, LogRetryAttempts: o.ClientLogMode.IsRetries(),
			})
		},
		// after Retry, before Signing: every attempt is hashed, then signed.
		func(s *middleware.Stack) error {
			return s.Finalize.Insert(&v4.ComputePayloadSHA256{}, "Signing", middleware.Before)
		},
		awsmiddleware.AddRawResponseToMetadata,
		awsmiddleware.AddRecordResponseTiming,
		func(s *middleware.Stack) error { return addUserAgent(s, o) },
		smithyhttp.AddErrorCloseResponseBodyMiddleware,
		smithyhttp.AddCloseResponseBodyMiddleware,
		func(s *middleware.Stack) error { return s.Initialize.Add(validateMiddleware{op: op}, middleware.After) },
		func(s *middleware.Stack) error {
			return s.Initialize.Add(&awsmiddleware.RegisterServiceMetadata{
				ServiceID: ServiceID, SigningName: SigningName, Region: o.Region, OperationName: op.Name,
			}, middleware.Before)
		},
		awsmiddleware.AddRecursionDetection,
		awsmiddleware.AddRequestIDRetrieverMiddleware,
		awshttp.AddResponseErrorMiddleware,
	}
	for _, add := range adders {
		if err := add(stack); err != nil {
			return err
		}
	}
	return nil
}

// addComputeContentLength sets Content-Length from the serialized body
// before signing, as generated clients' addComputeContentLength does.
func addComputeContentLength(stack *middleware.Stack) error {
	return stack.Build.Add(&smithyhttp.ComputeContentLength{}, middleware.After)
}

func addSigning(stack *middleware.Stack, o Options) error {
	return stack.Finalize.Add(&signMiddleware{credentials: o.Credentials, signer: o.Signer, region: o.Region,
		logSigning: o.ClientLogMode.IsSigning()}, middleware.After)
}

// addUserAgent puts in the User-Agent what a generated client's
// addClientUserAgent, addUserAgentRetryMode and addCredentialSource put:
// the API and its version, the application id, the retry mode and where
// the credentials come from.
func addUserAgent(stack *middleware.Stack, o Options) error {
	if err := awsmiddleware.AddRequestUserAgentMiddleware(stack); err != nil {
		return err
	}
	mw, _ := stack.Build.Get((*awsmiddleware.RequestUserAgent)(nil).ID())
	ua, ok := mw.(*awsmiddleware.RequestUserAgent)
	if !ok {
		return fmt.Errorf("user agent middleware is a %T", mw)
	}
	ua.AddSDKAgentKeyValue(awsmiddleware.APIMetadata, "amplifybackend", ServiceAPIVersion)
	if o.AppID != "" {
		ua.AddSDKAgentKey(awsmiddleware.ApplicationIdentifier, o.AppID)
	}
	switch o.Retryer.(type) {
	case *retry.Standard:
		ua.AddUserAgentFeature(awsmiddleware.UserAgentFeatureRetryModeStandard)
	case *retry.AdaptiveMode:
		ua.AddUserAgentFeature(awsmiddleware.UserAgentFeatureRetryModeAdaptive)
	}
	if sources, ok := o.Credentials.(aws.CredentialProviderSource); ok {
		for _, source := range sources.ProviderSources() {
			ua.AddCredentialsSource(source)
		}
	}
	return nil
}
