package soak

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// AppID is the Amplify app the soak's requests act on.
const AppID = "d1abc23"

// request is one job request the soak submits.
type request struct {
	ID, Operation, Env string
	// Input is the operation's input as JSON (boto3 member names).
	Input string
}

// detail is the request as the detail of an "Amplify Backend Job
// Requested" event.
func (r request) detail() string {
	return fmt.Sprintf(`{"operation":%q,"input":%s,"requestId":%q}`, r.Operation, r.Input, r.ID)
}

// operations are the job-starting operations the soak mixes, each with an
// input the emulator accepts on any of the soak's environments (the
// environments have a GraphQL API named main for the API operations).
// seq makes names unique where the service refuses a repeat (a clone's
// target environment).
var operations = []struct {
	name  string
	input func(env string, seq int) string
}{
	{"CloneBackend", func(env string, seq int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"TargetEnvironmentName":"cl%s"}`, AppID, env, letters(seq))
	}},
	{"CreateBackendAPI", func(env string, seq int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"ResourceName":"api%d","ResourceConfig":{"ApiName":"api%d","Service":"AppSync"}}`, AppID, env, seq, seq)
	}},
	{"UpdateBackendAPI", func(env string, seq int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"ResourceName":"main","ResourceConfig":{"TransformSchema":"type Todo%d @model { id: ID! }"}}`, AppID, env, seq)
	}},
	{"GenerateBackendAPIModels", func(env string, _ int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"ResourceName":"main"}`, AppID, env)
	}},
	{"CreateBackendAuth", func(env string, seq int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"ResourceName":"auth%d","ResourceConfig":{"AuthResources":"USER_POOL_ONLY","Service":"COGNITO","UserPoolConfigs":{"RequiredSignUpAttributes":["EMAIL"],"SignInMethod":"EMAIL","UserPoolName":"users%d"}}}`, AppID, env, seq, seq)
	}},
	{"CreateBackendStorage", func(env string, seq int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"ResourceName":"files%d","ResourceConfig":{"ServiceName":"S3","Permissions":{"Authenticated":["READ"]}}}`, AppID, env, seq)
	}},
	{"ImportBackendStorage", func(env string, seq int) string {
		return fmt.Sprintf(`{"AppId":%q,"BackendEnvironmentName":%q,"BucketName":"soak-bucket-%d","ServiceName":"S3"}`, AppID, env, seq)
	}},
}

// envName names the i-th environment (from 0), in Amplify's rule for
// environment names (2 to 10 lowercase letters).
func envName(i int) string { return "soak" + letters(i+1) }

// letters writes n (≥ 0) in base 26 with the letters a to z.
func letters(n int) string {
	b := []byte{byte('a' + n%26)}
	for n /= 26; n > 0; n /= 26 {
		b = append(b, byte('a'+n%26))
	}
	return string(b)
}

// workload returns n requests spread round-robin over envs environments,
// in submission order: consecutive requests go to different environments,
// and each environment gets a request every envs requests, so lines form
// where jobs outlast that interval. The operations are drawn from seed.
func workload(n, envs int, seed uint64) []request {
	r := rand.New(rand.NewPCG(seed, 3))
	reqs := make([]request, n)
	for i := range reqs {
		env := envName(i % envs)
		op := operations[r.IntN(len(operations))]
		reqs[i] = request{ID: fmt.Sprintf("soak-%05d", i+1), Operation: op.name, Env: env, Input: op.input(env, i+1)}
	}
	return reqs
}

// emulatorState is the app with the soak's environments, each with the
// GraphQL API the API operations act on.
func emulatorState(envs int) *emulator.State {
	app := emulator.StateApp{AppId: AppID, AppName: "soak", APIs: map[string][]string{}}
	for i := range envs {
		app.Environments = append(app.Environments, envName(i))
		app.APIs[envName(i)] = []string{"main"}
	}
	return &emulator.State{Apps: []emulator.StateApp{app}}
}

// jobDurations gives jobs a few seconds each, from shortest to longest,
// drawn from the emulator's seeded source (one draw per job, so a seed
// repeats the same outcomes).
func jobDurations(shortest, longest time.Duration) emulator.DurationFunc {
	return func(_ string, r *rand.Rand) time.Duration {
		return shortest + time.Duration(r.Int64N(int64(longest-shortest)+1))
	}
}
