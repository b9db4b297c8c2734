package amplify

import (
	"errors"
	"strings"

	smithy "github.com/aws/smithy-go"
)

// IsPendingJobError reports whether err is the service refusing a job
// because another job is pending on the same app and environment ("There
// is already a pending job for the requested appId ... wait for it to
// complete"). The service sends it as BadRequestException, and has been
// seen to send ValidationException; only its message tells it apart from
// other bad requests, so that test lives here, in one place.
func IsPendingJobError(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "BadRequestException", "ValidationException":
	default:
		return false
	}
	return strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "pending job")
}
