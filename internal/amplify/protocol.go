package amplify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/restjson"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/jobwatch/jobwatch/internal/amplify/internal/codec"
)

// validateMiddleware refuses an input with a required member unset, as
// the SDK's generated validators do, or with a URI label that may not go
// into a path (see labelErrors), before anything is sent.
type validateMiddleware struct{ op *Operation }

func (validateMiddleware) ID() string { return "OperationInputValidation" }

func (m validateMiddleware) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	invalid := smithy.InvalidParamsError{Context: m.op.Name + "Input"}
	for _, e := range codec.Validate(in.Parameters) {
		if e.Kind == codec.Missing {
			invalid.Add(smithy.NewErrParamRequired(e.Path))
		}
	}
	for _, e := range labelErrors(in.Parameters) {
		invalid.Add(&labelParamError{field: e.Path, reason: e.Detail})
	}
	if invalid.Len() > 0 {
		return middleware.InitializeOutput{}, middleware.Metadata{}, invalid
	}
	return next.HandleInitialize(ctx, in)
}

// serializeMiddleware binds the input to the HTTP request as generated
// aws-sdk-go-v2 REST-JSON clients do: URI labels through smithy-go's
// httpbinding encoder (escaped as botocore does: everything but unreserved
// characters, "/" included), every other member into a JSON body under its
// wire name.
type serializeMiddleware struct {
	op      *Operation
	options Options
}

func (*serializeMiddleware) ID() string { return "OperationSerializer" }

func (m *serializeMiddleware) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
	req, err := m.request(in.Request)
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, err
	}
	if in.Request, err = m.serialize(req, in.Parameters); err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, &smithy.SerializationError{Err: err}
	}
	return next.HandleSerialize(ctx, in)
}

// request aims the stack's request at the endpoint with the operation's
// method.
func (m *serializeMiddleware) request(r any) (*smithyhttp.Request, error) {
	req, ok := r.(*smithyhttp.Request)
	if !ok {
		return nil, &smithy.SerializationError{Err: fmt.Errorf("unknown transport type %T", r)}
	}
	base, err := m.options.endpoint()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("invalid endpoint %q: want scheme://host[:port]", base)
	}
	req.URL, req.Method = u, m.op.Method
	return req, nil
}

// serialize writes the operation's path, labels bound, under the endpoint's
// own path, and the JSON body if the input has body members.
func (m *serializeMiddleware) serialize(req *smithyhttp.Request, params any) (*smithyhttp.Request, error) {
	path, rawPath := smithyhttp.JoinPath(req.URL.Path, m.op.Path), smithyhttp.JoinPath(req.URL.EscapedPath(), m.op.Path)
	enc, err := httpbinding.NewEncoderWithRawPath(path, rawPath, req.URL.RawQuery, req.Header)
	if err != nil {
		return nil, err
	}
	for _, label := range codec.URIMembers(params) {
		// The validation middleware refuses these first; this guards a
		// stack whose validation was removed.
		if label.Value == nil || *label.Value == "" {
			return nil, fmt.Errorf("input member %s must not be empty", label.Label)
		}
		if err := enc.SetURI(label.Label).String(*label.Value); err != nil {
			return nil, fmt.Errorf("bind URI label %s: %w", label.Label, err)
		}
	}
	if codec.HasBody(params) {
		body, err := json.Marshal(params)
		if err != nil {
			return nil, err
		}
		enc.SetHeader("Content-Type").String("application/json")
		if req, err = req.SetStream(bytes.NewReader(body)); err != nil {
			return nil, err
		}
	}
	if req.Request, err = enc.Encode(req.Request); err != nil {
		return nil, err
	}
	return req, nil
}

// signMiddleware signs each attempt with the SDK's SigV4 signer under the
// signing name amplifybackend.
type signMiddleware struct {
	credentials aws.CredentialsProvider
	signer      *v4.Signer
	region      string
	logSigning  bool
}

func (*signMiddleware) ID() string { return "Signing" }

func (m *signMiddleware) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &v4.SigningError{Err: fmt.Errorf("unexpected request type %T", in.Request)}
	}
	if m.credentials == nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &v4.SigningError{Err: errors.New("no credentials: configure the standard AWS credential chain (environment, profile, role)")}
	}
	if _, anonymous := m.credentials.(aws.AnonymousCredentials); anonymous {
		return next.HandleFinalize(ctx, in)
	}
	if m.region == "" {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &v4.SigningError{Err: errors.New("no region to sign for: set AWS_REGION, the profile's region or Options.Region")}
	}
	creds, err := m.credentials.Retrieve(ctx)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &v4.SigningError{Err: fmt.Errorf("retrieve credentials: %w", err)}
	}
	err = m.signer.SignHTTP(ctx, creds, req.Request, v4.GetPayloadHash(ctx), SigningName, m.region, time.Now().UTC(),
		func(o *v4.SignerOptions) {
			o.Logger = middleware.GetLogger(ctx)
			o.LogSigning = m.logSigning
		})
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, &v4.SigningError{Err: fmt.Errorf("sign request: %w", err)}
	}
	return next.HandleFinalize(ctx, in)
}

// deserializer is the operation's deserialize middleware: it turns the
// HTTP response into the typed output out, or into the typed error the
// service named.
func deserializer(op *Operation, out any) middleware.DeserializeMiddleware {
	return middleware.DeserializeMiddlewareFunc("OperationDeserializer",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			res, metadata, err := next.HandleDeserialize(ctx, in)
			if err != nil {
				return res, metadata, err
			}
			if err := decodeResponse(op, res.RawResponse, out); err != nil {
				return res, metadata, err
			}
			res.Result = out
			return res, metadata, nil
		})
}

// decodeResponse reads raw, an HTTP response, into out, or returns the
// error it answers. The stock close-response-body middlewares close it.
func decodeResponse(op *Operation, raw, out any) error {
	resp, ok := raw.(*smithyhttp.Response)
	if !ok {
		return &smithy.DeserializationError{Err: fmt.Errorf("unknown transport type %T", raw)}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return &smithy.DeserializationError{Err: fmt.Errorf("read response body: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return decodeError(resp, body)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return &smithy.DeserializationError{Err: fmt.Errorf("decode %s response: %w", op.Name, err), Snapshot: snapshot(body)}
		}
	}
	return nil
}

func snapshot(body []byte) []byte {
	if len(body) > 1024 {
		return body[:1024]
	}
	return body
}

// decodeError turns an error answer into the typed error its code names,
// reading the code as aws-sdk-go-v2 REST-JSON clients do: the
// X-Amzn-ErrorType header, else the body's code or __type, each sanitized
// by restjson (text before a ":", after a "#"); the message is the body's
// message (or Message). A body that is not JSON still has a status.
func decodeError(resp *smithyhttp.Response, body []byte) error {
	code, message, _ := restjson.GetErrorInfo(json.NewDecoder(bytes.NewReader(body)))
	if header := resp.Header.Get("X-Amzn-ErrorType"); header != "" {
		code = restjson.SanitizeErrorCode(header)
	}
	code = strings.TrimSpace(code)
	for name, newErr := range modeledErrors {
		if strings.EqualFold(name, code) {
			typed := newErr()
			// Its members, message included (json matches "Message" too);
			// a body that is not JSON leaves them unset.
			_ = json.Unmarshal(body, typed)
			return typed
		}
	}
	if code == "" {
		code = "UnknownError"
		if message == "" {
			message = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
	}
	fault := smithy.FaultClient
	if resp.StatusCode >= 500 {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: fault}
}
