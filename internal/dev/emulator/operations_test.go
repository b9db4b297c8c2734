package emulator_test

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/amplify/types"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// Inputs the cases share.
var (
	authConfig = &types.CreateBackendAuthResourceConfig{
		AuthResources: types.AuthResourcesUserPoolOnly,
		Service:       types.ServiceCognito,
		UserPoolConfigs: &types.CreateBackendAuthUserPoolConfig{
			RequiredSignUpAttributes: []types.RequiredSignUpAttributesElement{types.RequiredSignUpAttributesElementEmail},
			SignInMethod:             types.SignInMethodEmail,
			UserPoolName:             aws.String("demopool"),
		},
	}
	apiConfig = &types.BackendAPIResourceConfig{
		ApiName:         aws.String("demoapi"),
		TransformSchema: aws.String("type Todo @model { id: ID! name: String! }"),
		DefaultAuthType: &types.BackendAPIAuthType{Mode: types.ModeApiKey},
	}
	storageConfig = &types.CreateBackendStorageResourceConfig{
		BucketName:  aws.String("demo-files"),
		Permissions: &types.BackendStoragePermissions{Authenticated: []types.AuthenticatedElement{types.AuthenticatedElementRead}},
		ServiceName: types.ServiceNameS3,
	}
)

// The resources of dev the cases create, and read back.
func createAuth(f *fixture) (*amplify.CreateBackendAuthOutput, error) {
	return f.client.CreateBackendAuth(context.Background(), &amplify.CreateBackendAuthInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("demoauth"), ResourceConfig: authConfig})
}

func createAPI(f *fixture) (*amplify.CreateBackendAPIOutput, error) {
	return f.client.CreateBackendAPI(context.Background(), &amplify.CreateBackendAPIInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("demoapi"), ResourceConfig: apiConfig})
}

func createStorage(f *fixture) (*amplify.CreateBackendStorageOutput, error) {
	return f.client.CreateBackendStorage(context.Background(), &amplify.CreateBackendStorageInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("demostorage"), ResourceConfig: storageConfig})
}

// Setup steps: each leaves its job ended, so the case's call is not
// refused as pending.
func (f *fixture) addAuth(t *testing.T) {
	t.Helper()
	f.ok(t)(createAuth(f))
}

func (f *fixture) addAPI(t *testing.T) {
	t.Helper()
	f.ok(t)(createAPI(f))
}

func (f *fixture) addStorage(t *testing.T) {
	t.Helper()
	f.ok(t)(createStorage(f))
}

func (f *fixture) addConfig(t *testing.T) {
	t.Helper()
	f.ok(t)(f.client.CreateBackendConfig(context.Background(), &amplify.CreateBackendConfigInput{AppId: aws.String(demoApp)}))
}

func (f *fixture) addToken(t *testing.T) {
	t.Helper()
	out, err := f.client.CreateToken(context.Background(), &amplify.CreateTokenInput{AppId: aws.String(demoApp)})
	if err != nil {
		t.Fatal(err)
	}
	f.values["session"] = *out.SessionId
}

func (f *fixture) startClone(t *testing.T) {
	t.Helper()
	out, err := f.client.CloneBackend(context.Background(), &amplify.CloneBackendInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), TargetEnvironmentName: aws.String("pr-1")})
	if err != nil {
		t.Fatal(err)
	}
	f.values["job"] = *out.JobId
}

// ok fails the test on err and moves the clock past any job started.
func (f *fixture) ok(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(longAfter)
	}
}

// wire renders an output as the JSON the emulator sent.
func wire(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// getAuth reads back the demoauth resource the cases write.
func getAuth(f *fixture) (*amplify.GetBackendAuthOutput, error) {
	return f.client.GetBackendAuth(context.Background(), &amplify.GetBackendAuthInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("demoauth")})
}

// getAPI reads back the demoapi resource the cases write.
func getAPI(f *fixture) (*amplify.GetBackendAPIOutput, error) {
	return f.client.GetBackendAPI(context.Background(), &amplify.GetBackendAPIInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("demoapi")})
}

// getStorage reads back the demostorage resource the cases write.
func getStorage(f *fixture) (*amplify.GetBackendStorageOutput, error) {
	return f.client.GetBackendStorage(context.Background(), &amplify.GetBackendStorageInput{AppId: aws.String(demoApp),
		BackendEnvironmentName: aws.String("dev"), ResourceName: aws.String("demostorage")})
}

// backendOf reads back app appID's backend.
func backendOf(appID string) func(*fixture) (*amplify.GetBackendOutput, error) {
	return func(f *fixture) (*amplify.GetBackendOutput, error) {
		return f.client.GetBackend(context.Background(), &amplify.GetBackendInput{AppId: aws.String(appID)})
	}
}

// createdCase is the case of a Create* operation on a resource of dev:
// the job is dev's, and get reads back what create wrote.
func createdCase[C, G any](create func(*fixture) (*C, error), get func(*fixture) (*G, error), wrong func(*G) bool, want string) opCase {
	return opCase{
		call: func(f *fixture) (any, error) { return create(f) },
		want: map[string]any{"backendEnvironmentName": "dev"},
		then: readBack(get, wrong, want),
	}
}

// readBack checks the state a call left through get: wrong tells an
// output other than the call should have left, want says what it should.
func readBack[Out any](get func(*fixture) (*Out, error), wrong func(*Out) bool, want string) func(*testing.T, *fixture, map[string]any) {
	return func(t *testing.T, f *fixture, _ map[string]any) {
		out, err := get(f)
		if err != nil || wrong(out) {
			t.Errorf("%T read back: %v, %v; want %s", out, out, err, want)
		}
	}
}

// deletedCase is the case of a Delete* operation: setup adds the
// resource, del deletes it, and get answers NotFound after.
func deletedCase[D, G any](setup func(*fixture, *testing.T), del func(*fixture) (*D, error), get func(*fixture) (*G, error)) opCase {
	return opCase{
		setup: setup,
		call:  func(f *fixture) (any, error) { return del(f) },
		then: func(t *testing.T, f *fixture, _ map[string]any) {
			_, err := get(f)
			asError[*types.NotFoundException](t, err)
		},
	}
}

// opCase is the case of one operation in TestOperations.
type opCase struct {
	setup func(*fixture, *testing.T)
	call  func(*fixture) (any, error)
	// want are members the output must have, by wire name.
	want map[string]any
	// then checks the state the call left.
	then func(t *testing.T, f *fixture, got map[string]any)
}

// operationCases are the cases of TestOperations, one per operation.
func operationCases(t *testing.T) map[string]opCase {
	cases := map[string]opCase{}
	for _, family := range []map[string]opCase{backendCases(), authCases(t), apiCases(), storageCases(), jobCases(), configAndTokenCases()} {
		maps.Copy(cases, family)
	}
	return cases
}

// fixture starts an emulator for the case, set up.
func (tc opCase) fixture(t *testing.T) *fixture {
	t.Helper()
	f := start(t, emulator.Config{})
	if tc.setup != nil {
		tc.setup(f, t)
	}
	return f
}

// TestOperations calls every operation of the model through the Go
// client, on a fresh emulator each, and checks what a user would see: the
// output, the job a job-starting operation starts and the state it leaves.
func TestOperations(t *testing.T) {
	tests := operationCases(t)
	for _, op := range amplify.Operations() {
		if _, ok := tests[op.Name]; !ok {
			t.Errorf("no case for operation %s", op.Name)
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := tc.fixture(t)
			out, err := tc.call(f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := wire(t, out)
			for k, want := range tc.want {
				if g, w := jsonText(t, got[k]), jsonText(t, want); g != w {
					t.Errorf("%s = %s, want %s", k, g, w)
				}
			}
			op, _ := amplify.LookupOperation(name)
			if op.StartsJob {
				checkStartedJob(t, f, op, got)
			}
			if tc.then != nil {
				tc.then(t, f, got)
			}
		})
	}
}

// backendCases are the cases of the backend and its environments.
func backendCases() map[string]opCase {
	ctx, app, dev := context.Background(), aws.String(demoApp), aws.String("dev")
	return map[string]opCase{
		"CloneBackend": {
			call: func(f *fixture) (any, error) {
				return f.client.CloneBackend(ctx, &amplify.CloneBackendInput{AppId: app, BackendEnvironmentName: dev, TargetEnvironmentName: aws.String("pr-1")})
			},
			want: map[string]any{"appId": demoApp, "backendEnvironmentName": "dev"},
			then: readBack(backendOf(demoApp), func(out *amplify.GetBackendOutput) bool {
				return !slices.Equal(out.BackendEnvironmentList, []string{"dev", "pr-1", "staging"})
			}, "dev, pr-1, staging"),
		},
		"CreateBackend": {
			call: func(f *fixture) (any, error) {
				return f.client.CreateBackend(ctx, &amplify.CreateBackendInput{AppId: aws.String("newapp1"), AppName: aws.String("fresh"), BackendEnvironmentName: aws.String("main")})
			},
			want: map[string]any{"appId": "newapp1", "backendEnvironmentName": "main"},
			then: readBack(backendOf("newapp1"), func(out *amplify.GetBackendOutput) bool {
				return aws.ToString(out.AppName) != "fresh" || !slices.Equal(out.BackendEnvironmentList, []string{"main"})
			}, "fresh with main"),
		},
		"DeleteBackend": {
			call: func(f *fixture) (any, error) {
				return f.client.DeleteBackend(ctx, &amplify.DeleteBackendInput{AppId: app, BackendEnvironmentName: aws.String("staging")})
			},
			want: map[string]any{"backendEnvironmentName": "staging"},
			then: readBack(backendOf(demoApp), func(out *amplify.GetBackendOutput) bool {
				return !slices.Equal(out.BackendEnvironmentList, []string{"dev"})
			}, "dev only"),
		},
		"GetBackend": {
			call: func(f *fixture) (any, error) { return f.client.GetBackend(ctx, &amplify.GetBackendInput{AppId: app}) },
			want: map[string]any{"appId": demoApp, "appName": "demo", "backendEnvironmentList": []any{"dev", "staging"}, "backendEnvironmentName": "dev"},
		},
		"RemoveAllBackends": {
			call: func(f *fixture) (any, error) {
				return f.client.RemoveAllBackends(ctx, &amplify.RemoveAllBackendsInput{AppId: app})
			},
			want: map[string]any{"appId": demoApp},
			then: readBack(backendOf(demoApp), func(out *amplify.GetBackendOutput) bool {
				return len(out.BackendEnvironmentList) != 0
			}, "the app, no environments"),
		},
	}
}

// authCases are the cases of auth resources.
func authCases(t *testing.T) map[string]opCase {
	ctx, app, dev := context.Background(), aws.String(demoApp), aws.String("dev")
	return map[string]opCase{
		"CreateBackendAuth": createdCase(createAuth, getAuth, func(out *amplify.GetBackendAuthOutput) bool {
			return out.ResourceConfig.UserPoolConfigs.SignInMethod != types.SignInMethodEmail
		}, "the config written"),
		"DeleteBackendAuth": deletedCase((*fixture).addAuth, func(f *fixture) (*amplify.DeleteBackendAuthOutput, error) {
			return f.client.DeleteBackendAuth(ctx, &amplify.DeleteBackendAuthInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoauth")})
		}, getAuth),
		"GetBackendAuth": {
			setup: (*fixture).addAuth,
			call:  func(f *fixture) (any, error) { return getAuth(f) },
			want:  map[string]any{"resourceName": "demoauth", "resourceConfig": wire(t, authConfig)},
		},
		"ImportBackendAuth": {
			call: func(f *fixture) (any, error) {
				return f.client.ImportBackendAuth(ctx, &amplify.ImportBackendAuthInput{AppId: app, BackendEnvironmentName: dev,
					UserPoolId: aws.String("us-east-1_Abc"), WebClientId: aws.String("web"), NativeClientId: aws.String("native"), IdentityPoolId: aws.String("us-east-1:pool")})
			},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				out, err := f.client.GetBackendAuth(ctx, &amplify.GetBackendAuthInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("us-east-1_Abc")})
				if err != nil || out.ResourceConfig.AuthResources != types.AuthResourcesIdentityPoolAndUserPool {
					t.Errorf("GetBackendAuth of the imported pool: %v, %v; want IDENTITY_POOL_AND_USER_POOL", out, err)
				}
			},
		},
		"UpdateBackendAuth": {
			setup: (*fixture).addAuth,
			call: func(f *fixture) (any, error) {
				return f.client.UpdateBackendAuth(ctx, &amplify.UpdateBackendAuthInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoauth"),
					ResourceConfig: &types.UpdateBackendAuthResourceConfig{AuthResources: types.AuthResourcesUserPoolOnly, Service: types.ServiceCognito,
						UserPoolConfigs: &types.UpdateBackendAuthUserPoolConfig{Mfa: &types.UpdateBackendAuthMFAConfig{MFAMode: types.MFAModeOn}}}})
			},
			then: readBack(getAuth, func(out *amplify.GetBackendAuthOutput) bool {
				return out.ResourceConfig.UserPoolConfigs.Mfa == nil || out.ResourceConfig.UserPoolConfigs.Mfa.MFAMode != types.MFAModeOn ||
					out.ResourceConfig.UserPoolConfigs.SignInMethod != types.SignInMethodEmail
			}, "MFA ON, sign-in EMAIL kept"),
		},
	}
}

// apiCases are the cases of GraphQL APIs and their models.
func apiCases() map[string]opCase {
	ctx, app, dev := context.Background(), aws.String(demoApp), aws.String("dev")
	return map[string]opCase{
		"CreateBackendAPI": createdCase(createAPI, getAPI, func(out *amplify.GetBackendAPIOutput) bool {
			return out.ResourceConfig.DefaultAuthType.Mode != types.ModeApiKey || *out.ResourceConfig.ApiName != "demoapi"
		}, "the config written"),
		"DeleteBackendAPI": deletedCase((*fixture).addAPI, func(f *fixture) (*amplify.DeleteBackendAPIOutput, error) {
			return f.client.DeleteBackendAPI(ctx, &amplify.DeleteBackendAPIInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoapi")})
		}, getAPI),
		"GenerateBackendAPIModels": {
			setup: (*fixture).addAPI,
			call: func(f *fixture) (any, error) {
				return f.client.GenerateBackendAPIModels(ctx, &amplify.GenerateBackendAPIModelsInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoapi")})
			},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				out, err := f.client.GetBackendAPIModels(ctx, &amplify.GetBackendAPIModelsInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoapi")})
				if err != nil || out.Status != types.StatusLatest || !strings.Contains(aws.ToString(out.Models), "type Todo") {
					t.Errorf("GetBackendAPIModels after generating: %v, %v; want LATEST models from the schema", out, err)
				}
			},
		},
		"GetBackendAPI": {
			setup: (*fixture).addAPI,
			call:  func(f *fixture) (any, error) { return getAPI(f) },
			want: map[string]any{"resourceName": "demoapi", "resourceConfig": map[string]any{"apiName": "demoapi",
				"transformSchema": *apiConfig.TransformSchema, "defaultAuthType": map[string]any{"mode": "API_KEY"}}},
		},
		"GetBackendAPIModels": {
			setup: (*fixture).addAPI,
			call: func(f *fixture) (any, error) {
				return f.client.GetBackendAPIModels(ctx, &amplify.GetBackendAPIModelsInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoapi")})
			},
			want: map[string]any{"status": "STALE"}, // never generated
		},
		"UpdateBackendAPI": {
			setup: (*fixture).addAPI,
			call: func(f *fixture) (any, error) {
				return f.client.UpdateBackendAPI(ctx, &amplify.UpdateBackendAPIInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demoapi"),
					ResourceConfig: &types.BackendAPIResourceConfig{TransformSchema: aws.String("type Note @model { id: ID! }")}})
			},
			then: readBack(getAPI, func(out *amplify.GetBackendAPIOutput) bool {
				return !strings.Contains(*out.ResourceConfig.TransformSchema, "Note") || *out.ResourceConfig.ApiName != "demoapi"
			}, "the new schema, the name kept"),
		},
	}
}

// storageCases are the cases of storage and the account's buckets.
func storageCases() map[string]opCase {
	ctx, app, dev := context.Background(), aws.String(demoApp), aws.String("dev")
	return map[string]opCase{
		"CreateBackendStorage": createdCase(createStorage, getStorage, func(out *amplify.GetBackendStorageOutput) bool {
			return *out.ResourceConfig.BucketName != "demo-files" || *out.ResourceConfig.Imported
		}, "bucket demo-files, not imported"),
		"DeleteBackendStorage": deletedCase((*fixture).addStorage, func(f *fixture) (*amplify.DeleteBackendStorageOutput, error) {
			return f.client.DeleteBackendStorage(ctx, &amplify.DeleteBackendStorageInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demostorage"), ServiceName: types.ServiceNameS3})
		}, getStorage),
		"GetBackendStorage": {
			setup: (*fixture).addStorage,
			call:  func(f *fixture) (any, error) { return getStorage(f) },
			want: map[string]any{"resourceName": "demostorage", "resourceConfig": map[string]any{"bucketName": "demo-files",
				"imported": false, "serviceName": "S3", "permissions": map[string]any{"authenticated": []any{"READ"}}}},
		},
		"ImportBackendStorage": {
			call: func(f *fixture) (any, error) {
				return f.client.ImportBackendStorage(ctx, &amplify.ImportBackendStorageInput{AppId: app, BackendEnvironmentName: dev, BucketName: aws.String("existing"), ServiceName: types.ServiceNameS3})
			},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				out, err := f.client.GetBackendStorage(ctx, &amplify.GetBackendStorageInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("existing")})
				if err != nil || !*out.ResourceConfig.Imported {
					t.Errorf("GetBackendStorage of the imported bucket: %v, %v; want imported", out, err)
				}
			},
		},
		"ListS3Buckets": {
			call: func(f *fixture) (any, error) { return f.client.ListS3Buckets(ctx, &amplify.ListS3BucketsInput{}) },
			then: func(t *testing.T, f *fixture, got map[string]any) {
				var names []string
				in := &amplify.ListS3BucketsInput{}
				for page := 0; page < 10; page++ {
					out, err := f.client.ListS3Buckets(ctx, in)
					if err != nil {
						t.Fatal(err)
					}
					for _, b := range out.Buckets {
						names = append(names, *b.Name)
					}
					if in.NextToken = out.NextToken; in.NextToken == nil {
						break
					}
				}
				if len(names) != 5 || names[0] != "amplify-demo-dev-deployment" {
					t.Errorf("paged buckets = %v, want the 5 fixed ones", names)
				}
			},
		},
		"UpdateBackendStorage": {
			setup: (*fixture).addStorage,
			call: func(f *fixture) (any, error) {
				return f.client.UpdateBackendStorage(ctx, &amplify.UpdateBackendStorageInput{AppId: app, BackendEnvironmentName: dev, ResourceName: aws.String("demostorage"),
					ResourceConfig: &types.UpdateBackendStorageResourceConfig{ServiceName: types.ServiceNameS3, Permissions: &types.BackendStoragePermissions{
						Authenticated: []types.AuthenticatedElement{types.AuthenticatedElementRead, types.AuthenticatedElementDelete}}}})
			},
			then: readBack(getStorage, func(out *amplify.GetBackendStorageOutput) bool {
				return len(out.ResourceConfig.Permissions.Authenticated) != 2 || *out.ResourceConfig.BucketName != "demo-files"
			}, "2 permissions, bucket kept"),
		},
	}
}

// jobCases are the cases of jobs.
func jobCases() map[string]opCase {
	ctx, app, dev := context.Background(), aws.String(demoApp), aws.String("dev")
	return map[string]opCase{
		"GetBackendJob": {
			setup: (*fixture).startClone,
			call: func(f *fixture) (any, error) {
				return f.client.GetBackendJob(ctx, &amplify.GetBackendJobInput{AppId: app, BackendEnvironmentName: dev, JobId: aws.String(f.values["job"])})
			},
			want: map[string]any{"operation": "CloneBackend", "status": "RUNNING", "createTime": "2026-03-04T05:06:07.000Z", "updateTime": "2026-03-04T05:06:07.000Z"},
		},
		"ListBackendJobs": {
			setup: (*fixture).startClone,
			call: func(f *fixture) (any, error) {
				return f.client.ListBackendJobs(ctx, &amplify.ListBackendJobsInput{AppId: app, BackendEnvironmentName: dev})
			},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				jobs, _ := got["jobs"].([]any)
				if len(jobs) != 1 || jobs[0].(map[string]any)["jobId"] != f.values["job"] || got["nextToken"] != nil {
					t.Errorf("ListBackendJobs = %v, want the one clone job and no nextToken", got)
				}
			},
		},
		"UpdateBackendJob": {
			setup: (*fixture).startClone,
			call: func(f *fixture) (any, error) {
				return f.client.UpdateBackendJob(ctx, &amplify.UpdateBackendJobInput{AppId: app, BackendEnvironmentName: dev, JobId: aws.String(f.values["job"]), Status: aws.String("COMPLETED")})
			},
			want: map[string]any{"status": "COMPLETED", "operation": "CloneBackend"},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				// The job ended, so the environment takes another at once.
				if _, err := f.client.CloneBackend(ctx, &amplify.CloneBackendInput{AppId: app, BackendEnvironmentName: dev, TargetEnvironmentName: aws.String("pr-2")}); err != nil {
					t.Errorf("CloneBackend after the job was set COMPLETED: %v", err)
				}
			},
		},
	}
}

// configAndTokenCases are the cases of the app's backend config and Admin UI tokens.
func configAndTokenCases() map[string]opCase {
	ctx, app := context.Background(), aws.String(demoApp)
	return map[string]opCase{
		"CreateBackendConfig": {
			call: func(f *fixture) (any, error) {
				return f.client.CreateBackendConfig(ctx, &amplify.CreateBackendConfigInput{AppId: app})
			},
			want: map[string]any{"appId": demoApp},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				out, err := f.client.UpdateBackendConfig(ctx, &amplify.UpdateBackendConfigInput{AppId: app})
				if err != nil || aws.ToString(out.BackendManagerAppId) != demoApp {
					t.Errorf("UpdateBackendConfig after creating it: %v, %v; want backendManagerAppId %s", out, err, demoApp)
				}
			},
		},
		"RemoveBackendConfig": {
			setup: (*fixture).addConfig,
			call: func(f *fixture) (any, error) {
				return f.client.RemoveBackendConfig(ctx, &amplify.RemoveBackendConfigInput{AppId: app})
			},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				_, err := f.client.UpdateBackendConfig(ctx, &amplify.UpdateBackendConfigInput{AppId: app})
				asError[*types.NotFoundException](t, err)
			},
		},
		"UpdateBackendConfig": {
			setup: (*fixture).addConfig,
			call: func(f *fixture) (any, error) {
				return f.client.UpdateBackendConfig(ctx, &amplify.UpdateBackendConfigInput{AppId: app,
					LoginAuthConfig: &types.LoginAuthConfigReqObj{AwsCognitoRegion: aws.String("eu-west-1")}})
			},
			want: map[string]any{"appId": demoApp, "backendManagerAppId": demoApp, "loginAuthConfig": map[string]any{"aws_cognito_region": "eu-west-1"}},
		},
		"CreateToken": {
			call: func(f *fixture) (any, error) { return f.client.CreateToken(ctx, &amplify.CreateTokenInput{AppId: app}) },
			want: map[string]any{"appId": demoApp, "ttl": "3600"},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				code, _ := got["challengeCode"].(string)
				if !regexp.MustCompile(`^\d{6}$`).MatchString(code) {
					t.Errorf("challengeCode = %q, want 6 digits", code)
				}
				tok, err := f.client.GetToken(ctx, &amplify.GetTokenInput{AppId: app, SessionId: aws.String(got["sessionId"].(string))})
				if err != nil || aws.ToString(tok.ChallengeCode) != code {
					t.Errorf("GetToken of the new session: %v, %v; want challenge code %s", tok, err, code)
				}
			},
		},
		"DeleteToken": {
			setup: (*fixture).addToken,
			call: func(f *fixture) (any, error) {
				return f.client.DeleteToken(ctx, &amplify.DeleteTokenInput{AppId: app, SessionId: aws.String(f.values["session"])})
			},
			want: map[string]any{"isSuccess": true},
			then: func(t *testing.T, f *fixture, got map[string]any) {
				_, err := f.client.GetToken(ctx, &amplify.GetTokenInput{AppId: app, SessionId: aws.String(f.values["session"])})
				if nf := asError[*types.NotFoundException](t, err); aws.ToString(nf.ResourceType) != "Token" {
					t.Errorf("resourceType = %v, want Token", aws.ToString(nf.ResourceType))
				}
			},
		},
		"GetToken": {
			setup: (*fixture).addToken,
			call: func(f *fixture) (any, error) {
				return f.client.GetToken(ctx, &amplify.GetTokenInput{AppId: app, SessionId: aws.String(f.values["session"])})
			},
			want: map[string]any{"appId": demoApp, "ttl": "3600"},
		},
	}
}

// checkStartedJob checks a job-starting output: a RUNNING job of the
// operation that GetBackendJob finds.
func checkStartedJob(t *testing.T, f *fixture, op *amplify.Operation, out map[string]any) {
	t.Helper()
	jobID, _ := out["jobId"].(string)
	if jobID == "" || out["status"] != "RUNNING" {
		t.Fatalf("%s output %v: want a jobId and status RUNNING", op.Name, out)
	}
	if o, has := out["operation"]; has && o != op.Name {
		t.Errorf("operation = %v, want %s", o, op.Name)
	}
	appID, _ := out["appId"].(string)
	env, _ := out["backendEnvironmentName"].(string)
	if env == "" {
		env = "dev" // app-wide jobs are read under any environment name
	}
	job, err := f.client.GetBackendJob(context.Background(), &amplify.GetBackendJobInput{AppId: aws.String(cmp.Or(appID, demoApp)),
		BackendEnvironmentName: aws.String(env), JobId: aws.String(jobID)})
	if err != nil || *job.Operation != op.Name || *job.Status != "RUNNING" || *job.BackendEnvironmentName != env {
		t.Errorf("GetBackendJob of the new job: %v, %v; want %s RUNNING in %s", job, err, op.Name, env)
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
