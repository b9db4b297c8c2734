package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Event names and defaults shared by the template, the functions and users.
const (
	// DetailTypeJobRequested is the detail-type of an EventBridge event
	// asking jobwatch to run an Admin API operation.
	DetailTypeJobRequested = "Amplify Backend Job Requested"
	// DetailTypeStatusChange is the detail-type of the events jobwatch
	// publishes, mirroring aws.amplify's "Amplify Deployment Status Change".
	DetailTypeStatusChange = "Amplify Backend Job Status Change"
	// DefaultEventSource is the source of published events unless
	// configured otherwise.
	DefaultEventSource = "jobwatch.amplifybackend"
)

// JobRequest asks for one Admin API operation: the detail of an
// "Amplify Backend Job Requested" event, or a direct-invocation payload.
type JobRequest struct {
	// Operation is the API name (CloneBackend); clone_backend and
	// clone-backend are accepted too.
	Operation string `json:"operation"`
	// Input uses the member names of the boto3 Request Syntax.
	Input json.RawMessage `json:"input"`
	// RequestID is the caller's id for correlation and de-duplication;
	// submit assigns one when it is empty.
	RequestID string `json:"requestId,omitempty"`
}

// FieldError names a field of a message that is missing or wrong.
type FieldError struct {
	Message string // which message, e.g. "job request"
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: field %q %s", e.Message, e.Field, e.Problem)
}

// DecodeJobRequest reads a job request, refusing unknown fields so that a
// misspelt "opertion" is reported instead of ignored.
func DecodeJobRequest(data []byte) (JobRequest, error) {
	var r JobRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("job request: %w", describeJSONError(err))
	}
	if r.Operation == "" {
		return r, &FieldError{"job request", "operation", "is required (an Admin API operation such as CloneBackend)"}
	}
	if len(bytes.TrimSpace(r.Input)) == 0 || bytes.Equal(bytes.TrimSpace(r.Input), []byte("null")) {
		return r, &FieldError{"job request", "input", "is required (the operation's input, e.g. {\"AppId\": ...})"}
	}
	if trimmed := bytes.TrimSpace(r.Input); trimmed[0] != '{' {
		return r, &FieldError{"job request", "input", "must be a JSON object"}
	}
	if len(r.RequestID) > 128 {
		return r, &FieldError{"job request", "requestId", "is longer than 128 characters"}
	}
	return r, nil
}

// describeJSONError turns encoding/json's errors into ones naming the
// field without echoing values.
func describeJSONError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case asError(err, &typeErr) && typeErr.Field == "":
		return fmt.Errorf("not valid here: want a JSON object, not %s", typeErr.Value)
	case asError(err, &typeErr):
		return fmt.Errorf("field %q must be %s, not %s", typeErr.Field, typeErr.Type.String(), typeErr.Value)
	case asError(err, &syntaxErr):
		return fmt.Errorf("not valid JSON (offset %d)", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return errors.New("is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not valid JSON (it ends too early)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// DisallowUnknownFields: name the field without the json: prefix.
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return err
}
