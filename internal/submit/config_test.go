package submit

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/amplify"
	"github.com/jobwatch/jobwatch/internal/settings"
)

func goodEnv() map[string]string {
	return map[string]string{
		"JOBS_QUEUE_URL":            "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
		"WAITING_QUEUE_URL":         "https://sqs.us-east-1.amazonaws.com/123456789012/waiting",
		"COMPLETIONS_QUEUE_URL":     "https://sqs.us-east-1.amazonaws.com/123456789012/completions",
		"SUBMIT_FAILURES_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/submit-failures",
		"STATE_TABLE":               "jobwatch-state",
		"ALLOWED_APP_IDS":           "d1abc23",
	}
}

func TestReadConfigDefaults(t *testing.T) {
	cfg, err := ReadConfig(settings.FromMap(goodEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		JobsQueueURL:           "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
		WaitingQueueURL:        "https://sqs.us-east-1.amazonaws.com/123456789012/waiting",
		CompletionsQueueURL:    "https://sqs.us-east-1.amazonaws.com/123456789012/completions",
		SubmitFailuresQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/submit-failures",
		StateTable:             "jobwatch-state",
		AllowedAppIDs:          []string{"d1abc23"},
		Deadline:               6 * time.Hour, WaitDeadline: 6 * time.Hour,
		InitialPollDelay: 10 * time.Second, WaitRetryDelay: 2 * time.Minute,
		BackoffBase: 5 * time.Second, BackoffLimit: 5 * time.Minute,
		MaxLine: DefaultMaxLine, MetricsNamespace: "jobwatch", LogLevel: slog.LevelInfo,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config = %+v\nwant %+v", cfg, want)
	}
}

func TestReadConfig(t *testing.T) {
	tests := map[string]struct {
		set   map[string]string // changes to goodEnv; "" unsets
		want  []string          // in the error; none: success
		check func(*testing.T, Config)
	}{
		"all set": {set: map[string]string{"ALLOWED_APP_IDS": " d1abc23, d2second,,", "DEADLINE": "12h",
			"WAIT_DEADLINE": "3600", "INITIAL_POLL_DELAY": "900s", "WAIT_RETRY_DELAY": "1m", "LOG_LEVEL": "debug"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c.AllowedAppIDs, []string{"d1abc23", "d2second"}) || c.Deadline != 12*time.Hour ||
					c.WaitDeadline != time.Hour || c.InitialPollDelay != 900*time.Second || c.WaitRetryDelay != time.Minute ||
					c.LogLevel != slog.LevelDebug {
					t.Errorf("config = %+v", c)
				}
			}},
		"required missing": {set: map[string]string{"JOBS_QUEUE_URL": "", "WAITING_QUEUE_URL": "", "COMPLETIONS_QUEUE_URL": "", "STATE_TABLE": ""},
			want: []string{"setting JOBS_QUEUE_URL: is required", "setting WAITING_QUEUE_URL: is required", "setting COMPLETIONS_QUEUE_URL: is required", "setting STATE_TABLE: is required"}},
		// An empty allow-list must not allow every app.
		"allowed apps missing": {set: map[string]string{"ALLOWED_APP_IDS": ""}, want: []string{"setting ALLOWED_APP_IDS: is required"}},
		"allowed apps blank":   {set: map[string]string{"ALLOWED_APP_IDS": " , "}, want: []string{"setting ALLOWED_APP_IDS: is required"}},
		"backoff": {set: map[string]string{"BACKOFF_BASE": "1s", "BACKOFF_LIMIT": "20s"}, check: func(t *testing.T, c Config) {
			if c.BackoffBase != time.Second || c.BackoffLimit != 20*time.Second {
				t.Errorf("backoff = %v..%v", c.BackoffBase, c.BackoffLimit)
			}
		}},
		"backoff limit over SQS delay": {set: map[string]string{"BACKOFF_LIMIT": "16m"}, want: []string{"setting BACKOFF_LIMIT"}},
		"failures queue missing":       {set: map[string]string{"SUBMIT_FAILURES_QUEUE_URL": ""}, want: []string{"setting SUBMIT_FAILURES_QUEUE_URL: is required"}},
		"metrics namespace": {set: map[string]string{"METRICS_NAMESPACE": "acme"}, check: func(t *testing.T, c Config) {
			if c.MetricsNamespace != "acme" {
				t.Errorf("namespace = %q", c.MetricsNamespace)
			}
		}},
		"queue URL not a URL":       {set: map[string]string{"WAITING_QUEUE_URL": "jobwatch-waiting"}, want: []string{"setting WAITING_QUEUE_URL"}},
		"poll delay over SQS limit": {set: map[string]string{"INITIAL_POLL_DELAY": "901s"}, want: []string{"setting INITIAL_POLL_DELAY"}},
		"wait retry delay zero":     {set: map[string]string{"WAIT_RETRY_DELAY": "0"}, want: []string{"setting WAIT_RETRY_DELAY"}},
		"deadline not a duration":   {set: map[string]string{"DEADLINE": "six hours"}, want: []string{"setting DEADLINE"}},
		"wait deadline too short":   {set: map[string]string{"WAIT_DEADLINE": "500ms"}, want: []string{"setting WAIT_DEADLINE"}},
		"log level unknown":         {set: map[string]string{"LOG_LEVEL": "LOUD"}, want: []string{"setting LOG_LEVEL"}},
		"several at once": {set: map[string]string{"STATE_TABLE": "", "LOG_LEVEL": "LOUD", "WAIT_RETRY_DELAY": "1h"},
			want: []string{"STATE_TABLE", "LOG_LEVEL", "WAIT_RETRY_DELAY"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := goodEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			cfg, err := ReadConfig(settings.FromMap(env))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, cfg)
				return
			}
			if err == nil {
				t.Fatalf("no error, want one naming %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// New refuses configurations built by hand that cannot work.
func TestNewChecksConfig(t *testing.T) {
	clients := Clients{AdminAPI: ClientCall(nil), Jobs: amplify.New(amplify.Options{Region: "us-east-1"}), SQS: &recordingSQS{}, State: fakeStore{}}
	good, _ := ReadConfig(settings.FromMap(goodEnv()))
	tests := map[string]struct {
		change func(*Config)
		want   string
	}{
		"delay over 900s":   {func(c *Config) { c.WaitRetryDelay = time.Hour }, "WaitRetryDelay"},
		"no state table":    {func(c *Config) { c.StateTable = "" }, "StateTable is required"},
		"no deadline":       {func(c *Config) { c.Deadline = 0 }, "Deadline"},
		"negative maxline":  {func(c *Config) { c.MaxLine = -1 }, "MaxLine"},
		"no allowed apps":   {func(c *Config) { c.AllowedAppIDs = nil }, "AllowedAppIDs is required"},
		"no failures queue": {func(c *Config) { c.SubmitFailuresQueueURL = "" }, "SubmitFailuresQueueURL is required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			if _, err := New(cfg, clients, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if _, err := New(good, Clients{}, nil, nil); err == nil {
		t.Error("New without clients succeeded")
	}
	if _, err := New(good, clients, nil, nil); err != nil {
		t.Errorf("New(good config): %v", err)
	}
}

// fakeStore stands for a state table that is never used.
type fakeStore struct{ Store }
