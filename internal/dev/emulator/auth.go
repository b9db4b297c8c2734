package emulator

import (
	"net/http"
	"strings"

	"github.com/jobwatch/jobwatch/internal/amplify"
)

// checkSignature refuses a request that is not SigV4-signed for the
// service, with the errors AWS answers. The signature itself is not
// verified: the emulator knows no secret keys, and what matters to a
// client is that it signs, under the right service name.
func checkSignature(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return errMissingToken
	}
	algorithm, params, _ := strings.Cut(auth, " ")
	if algorithm != "AWS4-HMAC-SHA256" {
		return incompleteSignature("Authorization header requires the AWS4-HMAC-SHA256 algorithm")
	}
	fields := map[string]string{}
	for _, p := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return incompleteSignature("Authorization header requires '" + k + "' parameter")
		}
	}
	// Credential=AKID/20240102/us-east-1/amplifybackend/aws4_request
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return incompleteSignature("Credential must have the form AKID/date/region/service/aws4_request")
	}
	if scope[3] != amplify.SigningName {
		return &apiError{status: http.StatusForbidden, code: "InvalidSignatureException",
			message: "Credential should be scoped to correct service: '" + amplify.SigningName + "'. "}
	}
	return nil
}

func incompleteSignature(msg string) *apiError {
	return &apiError{status: http.StatusForbidden, code: "IncompleteSignatureException", message: msg}
}
