package emulator_test

import (
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// TestStrictRequests sends requests the way a careless client might and
// checks the answers the service would give: status, error type header,
// a message naming what is wrong, and a request id on every answer.
func TestStrictRequests(t *testing.T) {
	f := start(t, emulator.Config{})
	clonePath := f.srv.URL + "/backend/d1abc23/environments/dev/clone"
	tests := map[string]struct {
		method, url, body, service string
		wantStatus                 int
		wantType                   string // X-Amzn-ErrorType; "" for a success
		wantMessage                string
	}{
		"signed request": {method: "POST", url: clonePath, body: `{"targetEnvironmentName":"pr-1"}`, service: "amplifybackend",
			wantStatus: 200},
		"unsigned request": {method: "POST", url: clonePath, body: `{"targetEnvironmentName":"pr-1"}`,
			wantStatus: 403, wantType: "MissingAuthenticationTokenException", wantMessage: "Missing Authentication Token"},
		"signed for another service": {method: "POST", url: clonePath, body: `{"targetEnvironmentName":"pr-1"}`, service: "amplify",
			wantStatus: 403, wantType: "InvalidSignatureException", wantMessage: "'amplifybackend'"},
		"unknown path": {method: "POST", url: f.srv.URL + "/backend/d1abc23/nothing", service: "amplifybackend",
			wantStatus: 404, wantType: "UnknownOperationException", wantMessage: "/backend/d1abc23/nothing"},
		"wrong method": {method: "GET", url: clonePath, service: "amplifybackend",
			wantStatus: 404, wantType: "UnknownOperationException", wantMessage: "GET"},
		"empty label": {method: "POST", url: f.srv.URL + "/backend//details", service: "amplifybackend",
			wantStatus: 404, wantType: "UnknownOperationException"},
		"wrong JSON type": {method: "POST", url: clonePath, body: `{"targetEnvironmentName":42}`, service: "amplifybackend",
			wantStatus: 400, wantType: "BadRequestException", wantMessage: "targetEnvironmentName: expected string, got number"},
		"missing required member": {method: "POST", url: clonePath, body: `{}`, service: "amplifybackend",
			wantStatus: 400, wantType: "BadRequestException", wantMessage: "missing required member TargetEnvironmentName"},
		"no body at all": {method: "POST", url: clonePath, service: "amplifybackend",
			wantStatus: 400, wantType: "BadRequestException", wantMessage: "TargetEnvironmentName"},
		"not JSON": {method: "POST", url: clonePath, body: `{"targetEnvironmentName":`, service: "amplifybackend",
			wantStatus: 400, wantType: "BadRequestException", wantMessage: "not valid JSON"},
		"nested wrong type": {method: "POST", url: f.srv.URL + "/backend/d1abc23/storage", service: "amplifybackend",
			body:       `{"backendEnvironmentName":"dev","resourceName":"s","resourceConfig":{"serviceName":"S3","permissions":{"authenticated":"READ"}}}`,
			wantStatus: 400, wantType: "BadRequestException", wantMessage: "resourceConfig.permissions.authenticated: expected array"},
		"unknown members are ignored": {method: "POST", url: f.srv.URL + "/backend/d1abc23/details", body: `{"futureMember":1}`, service: "amplifybackend",
			wantStatus: 200},
		"label with an escaped slash": {method: "POST", url: f.srv.URL + "/backend/d1abc23%2Fx/details", service: "amplifybackend",
			wantStatus: 404, wantType: "NotFoundException", wantMessage: "appId d1abc23/x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := do(t, tc.method, tc.url, tc.body, tc.service)
			if r.status != tc.wantStatus {
				t.Errorf("status %d, want %d (body %v)", r.status, tc.wantStatus, r.body)
			}
			if got := r.header.Get("X-Amzn-ErrorType"); got != tc.wantType {
				t.Errorf("X-Amzn-ErrorType %q, want %q", got, tc.wantType)
			}
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, tc.wantMessage) || (tc.wantType != "" && msg == "") {
				t.Errorf("message %q, want it to contain %q", msg, tc.wantMessage)
			}
			if r.header.Get("X-Amzn-Requestid") == "" {
				t.Error("no x-amzn-RequestId header")
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
}
