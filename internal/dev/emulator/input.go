package emulator

import "github.com/jobwatch/jobwatch/internal/amplify"

// decodeInput builds the operation's typed input from the request as the
// service does (amplify.Operation.DecodeRequest); a bad request is a
// BadRequestException naming the member.
func decodeInput(op *amplify.Operation, body []byte, labels map[string]string) (any, *apiError) {
	in, err := op.DecodeRequest(body, labels)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return in, nil
}
