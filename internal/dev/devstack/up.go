package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jobwatch/jobwatch/internal/dev/samtemplate"
)

// State is a local stack that is up: the servers it runs on, the
// template's resources in moto and what watches them. `jobwatch local
// up` saves it in a state file that `local start`, `local invoke`,
// `submit --local` and `local down` read; the demo, the soak and the
// end-to-end tests keep it in memory.
type State struct {
	Template string `json:"template"`
	Moto     Server `json:"moto"`
	Emulator Server `json:"emulator"`
	Stack    *Stack `json:"stack"`
	// Watch is what shows a developer the stack's output: a queue on the
	// status changes of the bus, one subscribed to the topic, and the
	// Slack stand-in the webhook parameter points at.
	Watch   Watch             `json:"watch"`
	Started time.Time         `json:"started"`
	Logs    map[string]string `json:"logs,omitempty"`
}

// UpOptions say how to stand a stack up.
type UpOptions struct {
	// Template is the SAM template (default template.yaml); its directory
	// is the Go module the functions are built from.
	Template  string
	StackName string
	// Parameters override the template's defaults; AllowedAppIds defaults
	// to AppID, the emulator's app.
	Parameters map[string]string
	// Moto is the endpoint of a moto server to use; empty starts one
	// (logging to MotoLog), which outlives this process when Detach is
	// set (jobwatch local up) and dies with it otherwise.
	Moto    string
	MotoLog string
	Detach  bool
	// Emulator is the Admin API the functions call (required).
	Emulator Server
	// VisibilityTimeout replaces every queue's visibility timeout (default
	// 5s): locally a failed message returns in seconds, not minutes.
	VisibilityTimeout time.Duration
	// Env is added to every function's environment, over LocalEnv.
	Env map[string]string
	// NoWatch leaves out the observers and the Slack stand-in (a stack
	// only invoked function by function).
	NoWatch bool
}

// LocalEnv is what every local function gets besides its template
// environment: region, test credentials, the endpoints of moto and the
// Admin API, and local timings (seconds where the deployed defaults are
// minutes).
func LocalEnv(moto, emulator string) map[string]string {
	return map[string]string{
		"AWS_REGION": Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_ENDPOINT_URL": moto, "AWS_ENDPOINT_URL_AMPLIFYBACKEND": emulator,
		"INITIAL_POLL_DELAY": "2s", "WAIT_RETRY_DELAY": "3s", "NOT_FOUND_GRACE": "30s", "BACKOFF_LIMIT": "30s",
		// The Slack stand-in listens on plain HTTP on loopback.
		"SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL": "true",
	}
}

// Up starts moto unless given one, creates the template's resources in it
// with the functions' environments resolved for local servers, and, unless
// NoWatch, the observers and the Slack stand-in's webhook parameter. The
// returned state is to be torn down with Down even when Up fails.
func Up(ctx context.Context, o UpOptions) (*State, error) {
	if o.Template == "" {
		o.Template = "template.yaml"
	}
	if o.Emulator.Endpoint == "" {
		return nil, errors.New("an Admin API endpoint is required")
	}
	app, err := samtemplate.Load(o.Template)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", o.Template, err)
	}
	st := &State{Template: o.Template, Emulator: o.Emulator, Started: time.Now().UTC(), Logs: map[string]string{}}
	if err := st.startMoto(o); err != nil {
		return st, err
	}
	params := map[string]string{"AllowedAppIds": AppID}
	maps.Copy(params, o.Parameters)
	if !o.NoWatch {
		if st.Watch.Slack, err = newSlackStandIn(ctx, st.AWS(), o.StackName); err != nil {
			return st, err
		}
		if _, set := params["SlackWebhookParameter"]; !set {
			params["SlackWebhookParameter"] = "ssm:" + st.Watch.Slack.Parameter
		}
	}
	env := LocalEnv(st.Moto.Endpoint, o.Emulator.Endpoint)
	maps.Copy(env, o.Env)
	if o.VisibilityTimeout <= 0 {
		o.VisibilityTimeout = 5 * time.Second
	}
	st.Stack, err = Deploy(ctx, Options{App: app, AWS: st.AWS(), StackName: o.StackName, Region: Region, AccountID: Account,
		Parameters: params, VisibilityTimeout: o.VisibilityTimeout, FunctionEnv: env})
	if err != nil {
		return st, err
	}
	if !o.NoWatch {
		if err := st.Watch.create(ctx, st.AWS(), st.Stack); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (st *State) startMoto(o UpOptions) error {
	if o.Moto != "" {
		if !MotoAlive(o.Moto) {
			return fmt.Errorf("no moto server answers at %s", o.Moto)
		}
		st.Moto = Server{Endpoint: o.Moto}
		return nil
	}
	st.Logs["moto"] = o.MotoLog
	m, err := StartMoto(o.MotoLog, o.Detach)
	if err != nil {
		return err
	}
	st.Moto = *m
	return nil
}

// AWS is the SDK configuration for the stack's moto server.
func (st *State) AWS() aws.Config { return AWSConfig(st.Moto.Endpoint) }

// ModuleDir is the Go module the functions are built from: the
// template's directory.
func (st *State) ModuleDir() string { return filepath.Dir(st.Template) }

// Down removes what Up created in a moto server it did not start, and
// stops the servers it started (moto; the emulator when its PID is set).
func (st *State) Down(ctx context.Context) error {
	var err error
	if st.Moto.PID == 0 && st.Moto.Endpoint != "" && st.Stack != nil {
		// A reused moto server keeps running: remove what Up created in it.
		err = errors.Join(st.Watch.delete(ctx, st.AWS(), st.Stack), st.Stack.Delete(ctx, st.AWS()))
	}
	st.Moto.Stop()
	st.Emulator.Stop()
	return err
}

// Save writes the state to path (mode 0600: it holds the Slack
// stand-in's webhook URL), creating its directory.
func (st *State) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ErrNoStack says no state file is at the path given: no local stack is
// up there.
var ErrNoStack = errors.New("no local stack is up")

// LoadState reads a state file written by Save.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (no state %s): run 'jobwatch local up' first", ErrNoStack, path)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.Stack == nil {
		return nil, fmt.Errorf("state %s holds no stack: run 'jobwatch local down', then 'up'", path)
	}
	return &st, nil
}
