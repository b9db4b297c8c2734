package emulator

import (
	"fmt"
	"net/http"
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
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

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

var (
	errThrottled = &apiError{status: http.StatusTooManyRequests, code: "TooManyRequestsException",
		message: "Rate exceeded", limitType: "API_RATE_LIMIT"}
	errGatewayTimeout = &apiError{status: http.StatusGatewayTimeout, code: "GatewayTimeoutException",
		message: "The request timed out: try again later"}
	// errMissingToken is what API Gateway answers a request without a
	// SigV4 signature.
	errMissingToken = &apiError{status: http.StatusForbidden, code: "MissingAuthenticationTokenException",
		message: "Missing Authentication Token"}
)

func unknownRoute(method, path string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "UnknownOperationException",
		message: fmt.Sprintf("No Admin API operation answers %s %s", method, path)}
}
