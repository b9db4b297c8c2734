package notify

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/jobwatch/jobwatch/internal/settings"
)

func TestLoadConfig(t *testing.T) {
	valid := map[string]string{
		"EVENT_BUS_NAME": "jobwatch", "ACCOUNT_ID": "123456789012", "AWS_REGION": "eu-west-1",
	}
	with := func(kv ...string) map[string]string {
		m := make(map[string]string)
		for k, v := range valid {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, tc := range map[string]struct {
		env      map[string]string
		want     Config
		wantErrs []string // each must appear in the error
	}{
		"defaults": {
			env:  valid,
			want: Config{EventBusName: "jobwatch", EventSource: "jobwatch.amplifybackend", AccountID: "123456789012", Region: "eu-west-1", LogLevel: slog.LevelInfo},
		},
		"everything set": {
			env: with("EVENT_BUS_NAME", "arn:aws:events:eu-west-1:123456789012:event-bus/ops", "EVENT_SOURCE", "acme.jobs", "LOG_LEVEL", "debug"),
			want: Config{EventBusName: "arn:aws:events:eu-west-1:123456789012:event-bus/ops", EventSource: "acme.jobs",
				AccountID: "123456789012", Region: "eu-west-1", LogLevel: slog.LevelDebug},
		},
		"nothing set": {
			env:      map[string]string{},
			wantErrs: []string{"setting EVENT_BUS_NAME: is required", "setting ACCOUNT_ID: is required", "setting AWS_REGION: is required"},
		},
		"blank bus name": {
			env:      with("EVENT_BUS_NAME", "  "),
			wantErrs: []string{"setting EVENT_BUS_NAME: is required"},
		},
		"bad bus name": {
			env:      with("EVENT_BUS_NAME", "my bus!"),
			wantErrs: []string{`setting EVENT_BUS_NAME: is "my bus!"`},
		},
		"source reserved for AWS": {
			env:      with("EVENT_SOURCE", "aws.amplifybackend"),
			wantErrs: []string{`setting EVENT_SOURCE: is "aws.amplifybackend"; sources starting with "aws." are reserved`},
		},
		"source too long": {
			env:      with("EVENT_SOURCE", strings.Repeat("s", 257)),
			wantErrs: []string{"setting EVENT_SOURCE: is 257 characters; EventBridge takes at most 256"},
		},
		"account not 12 digits": {
			env:      with("ACCOUNT_ID", "12345"),
			wantErrs: []string{`setting ACCOUNT_ID: is "12345"; want the 12-digit AWS account id`},
		},
		"bad region": {
			env:      with("AWS_REGION", "Europe"),
			wantErrs: []string{`setting AWS_REGION: is "Europe"`},
		},
		"bad log level": {
			env:      with("LOG_LEVEL", "verbose"),
			wantErrs: []string{`setting LOG_LEVEL: is "verbose"; want one of DEBUG, INFO, WARN, ERROR`},
		},
		"several at once": {
			env:      with("ACCOUNT_ID", "abc", "EVENT_SOURCE", "aws.x", "LOG_LEVEL", "loud"),
			wantErrs: []string{"ACCOUNT_ID", "EVENT_SOURCE", "LOG_LEVEL"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := LoadConfig(settings.FromMap(tc.env))
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				if got != tc.want {
					t.Errorf("config = %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadConfig = %+v, want an error naming %v", got, tc.wantErrs)
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
