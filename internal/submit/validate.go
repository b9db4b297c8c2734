package submit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/stacks"
)

// request is a validated job request.
type request struct {
	id          string
	op          *amplify.Operation
	input       any
	inputJSON   string // compact, as received
	appID, env  string
	target      string // the environment a clone creates
	fingerprint string
}

// Check validates a job request as submit does before calling the
// service — known operation, one that starts a job jobwatch can watch, a
// well-formed input — without the deployment's ALLOWED_APP_IDS; the CLI
// uses it to refuse a bad request before it is sent.
func Check(jr contract.JobRequest) error {
	_, err := parse(jr)
	return err
}

// validate parses jr and checks it against the deployment; a request
// that parses but is refused for this deployment comes with its error.
func (s *Submitter) validate(jr contract.JobRequest) (*request, error) {
	r, err := parse(jr)
	if err != nil {
		return nil, err
	}
	if !s.allowed[r.appID] {
		return r, &RefusedError{RequestID: jr.RequestID, Operation: r.op.Name,
			Reason: fmt.Sprintf("app id %q is not in ALLOWED_APP_IDS", r.appID)}
	}
	return r, nil
}

func parse(jr contract.JobRequest) (*request, error) {
	op, err := amplify.LookupOperation(jr.Operation)
	if err != nil {
		return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: err}
	}
	if !op.StartsJob {
		return nil, &RefusedError{RequestID: jr.RequestID, Operation: op.Name, Reason: fmt.Sprintf(
			"%s starts no backend job, so there is nothing for jobwatch to watch; call it directly (jobwatch call %s)",
			op.Name, op.Name)}
	}
	if _, ok := member(op.NewInput(), "BackendEnvironmentName"); !ok {
		return nil, &RefusedError{RequestID: jr.RequestID, Operation: op.Name, Reason: fmt.Sprintf(
			"%s starts an app-wide job that belongs to no backend environment; jobwatch follows a job with "+
				"GetBackendJob, which needs one, and lines requests up per environment, so it cannot watch "+
				"this job; call it directly (jobwatch call %s)", op.Name, op.Name)}
	}
	in, err := op.DecodeInput(jr.Input)
	if err != nil {
		return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: err}
	}
	appID, _ := member(in, "AppId")
	env, _ := member(in, "BackendEnvironmentName")
	for _, m := range []struct{ name, value string }{{"AppId", appID}, {"BackendEnvironmentName", env}} {
		if m.value == "" {
			return nil, &InvalidRequestError{RequestID: jr.RequestID,
				Err: fmt.Errorf("%s input: member %s must not be empty", op.Name, m.name)}
		}
	}
	for _, name := range []string{"BackendEnvironmentName", "TargetEnvironmentName"} {
		if v, ok := member(in, name); ok && !stacks.EnvNamePattern.MatchString(v) {
			return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: fmt.Errorf(
				"%s input: member %s must be an Amplify environment name: 2 to 10 lowercase letters", op.Name, name)}
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, jr.Input); err != nil {
		return nil, &InvalidRequestError{RequestID: jr.RequestID, Err: fmt.Errorf("%s input: %w", op.Name, err)}
	}
	sum := sha256.Sum256([]byte(op.Name + "\x00" + compact.String()))
	target, _ := member(in, "TargetEnvironmentName")
	return &request{id: jr.RequestID, op: op, input: in, inputJSON: compact.String(), appID: appID, env: env, target: target,
		fingerprint: hex.EncodeToString(sum[:])}, nil
}

// member reads the string member name of a typed input or output (all
// members are *string); ok is false when the shape has no such member.
func member(v any, name string) (value string, ok bool) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return "", false
	}
	f := rv.FieldByName(name)
	if !f.IsValid() {
		return "", false
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return "", true
		}
		f = f.Elem()
	}
	if f.Kind() != reflect.String {
		return "", false
	}
	return f.String(), true
}
