package amplify_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
)

// decodeInputErrorCases are bad inputs, each with the member and the text
// DecodeInput's refusal must carry.
var decodeInputErrorCases = map[string]struct {
	op, input  string
	wantMember string
	wantText   string
}{
	"unknown member": {
		op: "CloneBackend", input: `{"AppId":"d1","BackendEnvironmentName":"dev","TargetEnvironmentName":"pr","Force":true}`,
		wantMember: "Force", wantText: "CloneBackend input: unknown member Force",
	},
	"wire name instead of member name": {
		op: "CloneBackend", input: `{"AppId":"d1","BackendEnvironmentName":"dev","targetEnvironmentName":"pr"}`,
		wantMember: "targetEnvironmentName", wantText: "unknown member targetEnvironmentName",
	},
	"unknown nested member": {
		op:         "CreateBackendStorage",
		input:      `{"AppId":"d1","BackendEnvironmentName":"dev","ResourceName":"s3","ResourceConfig":{"ServiceName":"S3","Permissions":{"Authenticated":["READ"],"Guest":["READ"]}}}`,
		wantMember: "ResourceConfig.Permissions.Guest", wantText: "unknown member ResourceConfig.Permissions.Guest",
	},
	"wrong type": {
		op: "CloneBackend", input: `{"AppId":"d1","BackendEnvironmentName":"dev","TargetEnvironmentName":42}`,
		wantMember: "TargetEnvironmentName", wantText: "member TargetEnvironmentName: expected string, got number",
	},
	"wrong type in a list": {
		op:         "CreateBackendStorage",
		input:      `{"AppId":"d1","BackendEnvironmentName":"dev","ResourceName":"s3","ResourceConfig":{"ServiceName":"S3","Permissions":{"Authenticated":["READ",7]}}}`,
		wantMember: "ResourceConfig.Permissions.Authenticated[1]", wantText: "expected string, got number",
	},
	"integer expected": {
		op: "ListBackendJobs", input: `{"AppId":"d1","BackendEnvironmentName":"dev","MaxResults":2.5}`,
		wantMember: "MaxResults", wantText: "expected an integer",
	},
	"missing required member": {
		op: "CloneBackend", input: `{"AppId":"d1","BackendEnvironmentName":"dev"}`,
		wantMember: "TargetEnvironmentName", wantText: "CloneBackend input: missing required member TargetEnvironmentName",
	},
	"missing required nested member": {
		op:         "CreateBackendAuth",
		input:      `{"AppId":"d1","BackendEnvironmentName":"dev","ResourceName":"a","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO"}}`,
		wantMember: "ResourceConfig.UserPoolConfigs", wantText: "missing required member ResourceConfig.UserPoolConfigs",
	},
	"out of range": {
		op: "ListBackendJobs", input: `{"AppId":"d1","BackendEnvironmentName":"dev","MaxResults":26}`,
		wantMember: "MaxResults", wantText: "value 26 is out of range 1-25",
	},
	"not an object": {
		op: "CloneBackend", input: `["d1"]`, wantText: "expected object, got array",
	},
	"not JSON": {
		op: "CloneBackend", input: `{"AppId":`, wantText: "input is not valid JSON",
	},
	"dot-dot label": {
		op: "DeleteBackendAPI", input: `{"AppId":"d1abc23","BackendEnvironmentName":"..","ResourceName":"api"}`,
		wantMember: "BackendEnvironmentName", wantText: `DeleteBackendAPI input: member BackendEnvironmentName must not be "." or ".."`,
	},
	"slash in a label": {
		op: "GetBackendJob", input: `{"AppId":"d1abc23","BackendEnvironmentName":"dev","JobId":"../j1"}`,
		wantMember: "JobId", wantText: `GetBackendJob input: member JobId must not contain "/"`,
	},
	"empty label": {
		op: "CloneBackend", input: `{"AppId":"d1abc23","BackendEnvironmentName":"","TargetEnvironmentName":"pr"}`,
		wantMember: "BackendEnvironmentName", wantText: "CloneBackend input: member BackendEnvironmentName must not be empty",
	},
	"control character in a label": {
		op: "GetToken", input: `{"AppId":"d1abc23","SessionId":"s\u00071"}`,
		wantMember: "SessionId", wantText: "GetToken input: member SessionId must not contain control characters",
	},
	"environment in a body": {
		op: "CreateBackendStorage", input: `{"AppId":"d1abc23","BackendEnvironmentName":".","ResourceName":"s3","ResourceConfig":{"ServiceName":"S3","Permissions":{"Authenticated":["READ"]}}}`,
		wantMember: "BackendEnvironmentName", wantText: `CreateBackendStorage input: member BackendEnvironmentName must not be "." or ".."`,
	},
	"app id not lowercase": {
		op: "CloneBackend", input: `{"AppId":"D1abc23","BackendEnvironmentName":"dev","TargetEnvironmentName":"pr"}`,
		wantMember: "AppId", wantText: "CloneBackend input: member AppId must be lowercase letters and digits only",
	},
}

// TestDecodeInputErrors checks every kind of bad input is refused before
// anything is sent, with an error naming the operation and the member.
func TestDecodeInputErrors(t *testing.T) {
	for name, tc := range decodeInputErrorCases {
		t.Run(name, func(t *testing.T) {
			op, err := amplify.LookupOperation(tc.op)
			if err != nil {
				t.Fatal(err)
			}
			_, err = op.DecodeInput([]byte(tc.input))
			var ie *amplify.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *amplify.InputError", err)
			}
			if ie.Operation != tc.op || ie.Member != tc.wantMember {
				t.Errorf("operation, member = %q, %q; want %q, %q", ie.Operation, ie.Member, tc.op, tc.wantMember)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
		})
	}
}

func TestLookupOperation(t *testing.T) {
	for _, name := range []string{"CreateBackendAPI", "create_backend_api", "create-backend-api"} {
		op, err := amplify.LookupOperation(name)
		if err != nil || op.Name != "CreateBackendAPI" {
			t.Errorf("LookupOperation(%q) = %v, %v", name, op, err)
		}
	}
	_, err := amplify.LookupOperation("CloneBackends")
	var unknown *amplify.UnknownOperationError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), `"CloneBackends"`) {
		t.Errorf("err = %v, want an UnknownOperationError naming the operation", err)
	}
}

// TestStartsJob pins which operations start a backend job: submit relies
// on it to refuse the others.
func TestStartsJob(t *testing.T) {
	var starts, not []string
	for _, op := range amplify.Operations() {
		if op.StartsJob {
			starts = append(starts, op.Name)
		} else {
			not = append(not, op.Name)
		}
	}
	wantNot := "CreateToken DeleteToken GetBackend GetBackendAPI GetBackendAPIModels GetBackendAuth GetBackendJob GetBackendStorage GetToken ListBackendJobs ListS3Buckets RemoveBackendConfig UpdateBackendConfig UpdateBackendJob"
	if got := strings.Join(not, " "); got != wantNot {
		t.Errorf("operations starting no job:\n got %s\nwant %s", got, wantNot)
	}
	if len(starts) != 17 {
		t.Errorf("%d operations start a job, want 17: %v", len(starts), starts)
	}
}

// secretAuthInput is a CreateBackendAuth input carrying every kind of
// secret the model has.
func secretAuthInput() *amplify.CreateBackendAuthInput {
	return &amplify.CreateBackendAuthInput{
		AppId: aws.String("d1"), BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("auth"),
		ResourceConfig: &types.CreateBackendAuthResourceConfig{
			AuthResources: types.AuthResourcesUserPoolOnly,
			Service:       types.ServiceCognito,
			UserPoolConfigs: &types.CreateBackendAuthUserPoolConfig{
				UserPoolName: aws.String("pool"),
				SignInMethod: types.SignInMethodEmail,
				OAuth: &types.CreateBackendAuthOAuthConfig{
					OAuthGrantType: types.OAuthGrantTypeCode,
					SocialProviderSettings: &types.SocialProviderSettings{
						Google:          &types.BackendAuthSocialProviderConfig{ClientId: aws.String("gid"), ClientSecret: aws.String("TOPSECRET-google")},
						SignInWithApple: &types.BackendAuthAppleProviderConfig{KeyId: aws.String("k"), PrivateKey: aws.String("TOPSECRET-apple")},
					},
				},
			},
		},
	}
}

// TestRedaction checks secrets never show when an input or output is
// printed or logged, in any of the ways Go code prints values.
func TestRedaction(t *testing.T) {
	in := secretAuthInput()
	token := &amplify.CreateTokenOutput{AppId: aws.String("d1"), ChallengeCode: aws.String("TOPSECRET-challenge"), SessionId: aws.String("s1")}

	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("calling", "input", in, "token", token)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("calling", "input", in, "token", token)

	renders := map[string]string{
		"%v":        fmt.Sprintf("%v", in),
		"%+v":       fmt.Sprintf("%+v", in),
		"%#v":       fmt.Sprintf("%#v", in),
		"String":    in.String(),
		"%v output": fmt.Sprintf("%v", token),
		"slog json": jsonLog.String(),
		"slog text": textLog.String(),
	}
	for name, s := range renders {
		if strings.Contains(s, "TOPSECRET") {
			t.Errorf("%s shows a secret: %s", name, s)
		}
		if !strings.Contains(s, "d1") {
			t.Errorf("%s lost the non-secret members: %s", name, s)
		}
	}
	if !strings.Contains(renders["%v"], "*** sensitive ***") || !strings.Contains(jsonLog.String(), `"ChallengeCode":"*** sensitive ***"`) {
		t.Errorf("redaction marker missing: %s / %s", renders["%v"], jsonLog.String())
	}

	// The output a user asked for is printed whole.
	out, err := amplify.EncodeOutput(token)
	if err != nil || !strings.Contains(string(out), "TOPSECRET-challenge") {
		t.Errorf("EncodeOutput = %s, %v; want the challenge code the caller asked for", out, err)
	}
}

// TestInputErrorsNeverCarryValues checks an error about a secret member
// names it without its value.
func TestInputErrorsNeverCarryValues(t *testing.T) {
	op, _ := amplify.LookupOperation("UpdateBackendAuth")
	_, err := op.DecodeInput([]byte(`{"AppId":"d1","BackendEnvironmentName":"dev","ResourceName":"a","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO","UserPoolConfigs":{"OAuth":{"SocialProviderSettings":{"Google":{"ClientSecret":"TOPSECRET","Extra":"x"}}}}}}`))
	if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
		t.Errorf("err = %v", err)
	}
}

// TestInvokeRoundTrip checks the dispatch path end to end on one
// operation with nested members, lists, enums, booleans and numbers.
func TestInvokeRoundTrip(t *testing.T) {
	op, _ := amplify.LookupOperation("update-backend-auth")
	in, err := op.DecodeInput([]byte(`{"AppId":"d1","BackendEnvironmentName":"dev","ResourceName":"auth","ResourceConfig":{"AuthResources":"IDENTITY_POOL_AND_USER_POOL","Service":"COGNITO","IdentityPoolConfigs":{"UnauthenticatedLogin":false},"UserPoolConfigs":{"PasswordPolicy":{"MinimumLength":12,"AdditionalConstraints":["REQUIRE_DIGIT"]},"Mfa":{"MFAMode":"OPTIONAL","Settings":{"MfaTypes":["TOTP"]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := in.(*amplify.UpdateBackendAuthInput)
	cfg := got.ResourceConfig
	if cfg.AuthResources != types.AuthResourcesIdentityPoolAndUserPool || aws.ToBool(cfg.IdentityPoolConfigs.UnauthenticatedLogin) ||
		cfg.IdentityPoolConfigs.UnauthenticatedLogin == nil || aws.ToFloat64(cfg.UserPoolConfigs.PasswordPolicy.MinimumLength) != 12 ||
		cfg.UserPoolConfigs.Mfa.MFAMode != types.MFAModeOptional || cfg.UserPoolConfigs.Mfa.Settings.MfaTypes[0] != types.MfaTypesElementTotp {
		t.Errorf("decoded input = %v", got)
	}
}
