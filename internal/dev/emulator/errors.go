package emulator

import (
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error answer in the AWS REST-JSON shape: an HTTP status,
// the code in the X-Amzn-ErrorType header and a JSON body with the message
// and the members the model gives the error (resourceType, limitType).
type apiError struct {
	status       int
	code         string
	message      string
	resourceType string
	limitType    string
	// statsOutcome, when set, is what Stats counts the answer as: a fault
	// the client cannot tell from another by the answer.
	statsOutcome string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// outcome is how Stats counts the answer: "<status> <code>" unless the
// fault has a name of its own.
func (e *apiError) outcome() string {
	if e.statsOutcome != "" {
		return e.statsOutcome
	}
	return strconv.Itoa(e.status) + " " + e.code
}

// body is the JSON body of the error.
func (e *apiError) body() any {
	return struct {
		Message      string `json:"message"`
		ResourceType string `json:"resourceType,omitempty"`
		LimitType    string `json:"limitType,omitempty"`
	}{e.message, e.resourceType, e.limitType}
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "BadRequestException", message: fmt.Sprintf(format, args...)}
}

// Resource types named by NotFoundException.
const (
	resApp         = "App"
	resEnvironment = "BackendEnvironment"
	resJob         = "BackendJob"
	resAuth        = "BackendAuth"
	resAPI         = "BackendAPI"
	resStorage     = "BackendStorage"
	resToken       = "Token"
	resConfig      = "BackendConfig"
)

func notFound(resourceType, format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, code: "NotFoundException", message: fmt.Sprintf(format, args...), resourceType: resourceType}
}

const gatewayTimeoutMessage = "The request timed out: try again later"

var (
	errThrottled = &apiError{status: http.StatusTooManyRequests, code: "TooManyRequestsException",
		message: "Rate exceeded", limitType: "API_RATE_LIMIT"}
	errGatewayTimeout = &apiError{status: http.StatusGatewayTimeout, code: "GatewayTimeoutException",
		message: gatewayTimeoutMessage}
	// errLostAnswer is the answer to a call whose job started: to the
	// client, the same as errGatewayTimeout.
	errLostAnswer = &apiError{status: http.StatusGatewayTimeout, code: "GatewayTimeoutException",
		message: gatewayTimeoutMessage, statsOutcome: OutcomeLostAnswer}
	// errServiceUnavailable is every answer during an outage; SDKs retry
	// a 503.
	errServiceUnavailable = &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailableException",
		message: "Service Unavailable"}
	// errMissingToken is what API Gateway answers a request without a
	// SigV4 signature.
	errMissingToken = &apiError{status: http.StatusForbidden, code: "MissingAuthenticationTokenException",
		message: "Missing Authentication Token"}
)

func unknownRoute(method, path string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "UnknownOperationException",
		message: fmt.Sprintf("No Admin API operation answers %s %s", method, path)}
}
