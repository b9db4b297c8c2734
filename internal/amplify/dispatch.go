package amplify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jobwatch/jobwatch/internal/amplify/internal/codec"
)

// Operation describes one operation of the service model: its names, its
// HTTP binding and whether it starts a backend job.
type Operation struct {
	// Name is the API name, e.g. CloneBackend.
	Name string
	// SnakeName is the boto3 method name, e.g. clone_backend.
	SnakeName string
	// Method and Path are the HTTP binding; Path holds {label}s.
	Method, Path string
	// StartsJob is true for operations that start a backend job, whose
	// output carries the JobId to track.
	StartsJob bool

	newInput func() any
	call     func(ctx context.Context, c *Client, in any, optFns []func(*Options)) (any, error)
}

// Operations returns every operation of the service model, sorted by name.
func Operations() []*Operation { return append([]*Operation(nil), operations...) }

// LookupOperation finds an operation by its API name (CloneBackend), its
// boto3 name (clone_backend) or its aws CLI name (clone-backend).
func LookupOperation(name string) (*Operation, error) {
	for _, op := range operations {
		if name == op.Name || name == op.SnakeName || name == op.CLIName() {
			return op, nil
		}
	}
	return nil, &UnknownOperationError{Name: name}
}

// CLIName is the aws CLI command name, e.g. clone-backend.
func (op *Operation) CLIName() string { return strings.ReplaceAll(op.SnakeName, "_", "-") }

// UnknownOperationError says an operation name is not in the model.
type UnknownOperationError struct{ Name string }

func (e *UnknownOperationError) Error() string {
	return fmt.Sprintf("unknown operation %q: use an AmplifyBackend operation name such as CloneBackend, clone_backend or clone-backend", e.Name)
}

// InputError says what is wrong with an operation's input, naming the
// operation and the member. It never includes a member's value.
type InputError struct {
	Operation string
	// Member is the dotted member path, e.g. ResourceConfig.Service; empty
	// when the input as a whole is malformed.
	Member string
	Err    error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s input: %v", e.Operation, e.Err) }

func (e *InputError) Unwrap() error { return e.Err }

// NewInput returns a new, empty input of the operation, e.g.
// *CloneBackendInput.
func (op *Operation) NewInput() any { return op.newInput() }

// DecodeInput reads an input as JSON with the member names of the boto3
// "Request Syntax" (PascalCase, nested too) into the operation's typed
// input. Unknown members, wrong JSON types, missing required members,
// out-of-range values and URI labels that may not go into a path (see
// labelErrors) are errors naming the member; nothing is sent.
func (op *Operation) DecodeInput(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	in := op.newInput()
	if err := codec.Decode(data, in, codec.Options{Naming: codec.MemberNames}); err != nil {
		return nil, op.inputError(err)
	}
	if errs := codec.Validate(in); len(errs) > 0 {
		return nil, op.inputError(errs[0])
	}
	if errs := labelErrors(in); len(errs) > 0 {
		return nil, op.inputError(errs[0])
	}
	return in, nil
}

func (op *Operation) inputError(err error) error {
	ie := &InputError{Operation: op.Name, Err: err}
	var ce *codec.Error
	if errors.As(err, &ce) {
		ie.Member = ce.Path
	}
	return ie
}

// Call sends a typed input (as from DecodeInput) and returns the typed
// output, e.g. *CloneBackendOutput.
func (op *Operation) Call(ctx context.Context, c *Client, input any, optFns ...func(*Options)) (any, error) {
	return op.call(ctx, c, input, optFns)
}

// Invoke decodes a Request Syntax JSON input, calls the operation and
// returns its output as Response Syntax JSON: the one path from
// (operation, input JSON) to the typed call that the CLI and the submit
// function share.
func (op *Operation) Invoke(ctx context.Context, c *Client, input []byte, optFns ...func(*Options)) ([]byte, error) {
	in, err := op.DecodeInput(input)
	if err != nil {
		return nil, err
	}
	out, err := op.Call(ctx, c, in, optFns...)
	if err != nil {
		return nil, err
	}
	return EncodeOutput(out)
}

// EncodeOutput writes an output (or any shape) as JSON with the member
// names of the boto3 "Response Syntax", unset members omitted.
func EncodeOutput(v any) ([]byte, error) { return codec.Encode(v, codec.MemberNames) }
