package amplify

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/jobwatch/jobwatch/internal/amplify/internal/codec"
)

// URI labels come from outside (job requests, the CLI) and go into the
// request path. Escaping keeps "/" inside one segment, but "." and ".."
// pass escaping untouched and are dot segments: DeleteBackendAPI for the
// environment ".." is POST /backend/d1abc23/api/../remove, which a proxy
// on the way may resolve to RemoveAllBackends. "%", whitespace and control
// characters are no part of any id the service hands out; a label holding
// them is a mistake (or an attack) to refuse, not to escape. So every
// label is checked before a request is built: by the client's validation
// middleware and by Operation.DecodeInput, which submit uses to refuse a
// job request before it is queued.

// labelErrors returns one error per URI label member of in (a generated
// input) whose value may not go into a path, naming the member and never
// quoting its value. A body member named like a label member elsewhere
// (CreateBackend's AppId, CreateBackendAPI's BackendEnvironmentName) is
// held to the same rules: its value comes back as a label when the job it
// starts is looked up (GetBackendJob on that app and environment). An
// unset member is left to the required-member check.
func labelErrors(in any) []*codec.Error {
	var errs []*codec.Error
	for _, m := range codec.StringMembers(in) {
		if m.Value == nil || (m.Label == "" && !labelMembers()[m.Member]) {
			continue
		}
		if reason := checkLabel(m.Member, *m.Value); reason != "" {
			errs = append(errs, &codec.Error{Path: m.Member, Kind: codec.Invalid, Detail: reason})
		}
	}
	return errs
}

// labelMembers names the members some operation binds to a URI label:
// AppId, BackendEnvironmentName, JobId, SessionId.
var labelMembers = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	for _, op := range operations {
		for _, m := range codec.URIMembers(op.NewInput()) {
			names[m.Member] = true
		}
	}
	return names
})

// checkLabel says what is wrong with a label value, or "" if nothing is.
func checkLabel(member, v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case v == "." || v == "..":
		return `must not be "." or ".."`
	case strings.Contains(v, "/"):
		return `must not contain "/"`
	case strings.Contains(v, "%"):
		return `must not contain "%"`
	case strings.ContainsFunc(v, unicode.IsSpace):
		return "must not contain whitespace"
	case strings.ContainsFunc(v, unicode.IsControl):
		return "must not contain control characters"
	case member == "AppId" && strings.ContainsFunc(v, notInAppID):
		return "must be lowercase letters and digits only, as Amplify app ids are (d1abc23def)"
	}
	return ""
}

// notInAppID reports a rune no Amplify app id holds.
func notInAppID(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }

// labelParamError is a refused URI label as the validation middleware
// reports it: a smithy.InvalidParamError, like the SDK's required-member
// errors, reading "member CloneBackendInput.BackendEnvironmentName must
// not be "." or ".."".
type labelParamError struct {
	context, field, reason string
}

func (e *labelParamError) Error() string { return fmt.Sprintf("member %s %s", e.Field(), e.reason) }

// Field is the member's path under the input, e.g. CloneBackendInput.AppId.
func (e *labelParamError) Field() string {
	if e.context == "" {
		return e.field
	}
	return e.context + "." + e.field
}

// SetContext sets the input's name, as smithy.InvalidParamsError.Add does.
func (e *labelParamError) SetContext(ctx string) { e.context = ctx }

// AddNestedContext prefixes the member's path with an enclosing member.
func (e *labelParamError) AddNestedContext(ctx string) { e.field = ctx + "." + e.field }
