package poll

import (
	"strings"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/settings"
)

func TestReadConfig(t *testing.T) {
	good := map[string]string{
		"JOBS_QUEUE_URL":        "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
		"COMPLETIONS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/completions",
		"WAITING_QUEUE_URL":     "https://sqs.us-east-1.amazonaws.com/123456789012/waiting",
		"ALLOWED_APP_IDS":       "d1abc23,d4def56",
	}
	cfg, err := ReadConfig(settings.FromMap(good), 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NotFoundGrace != 2*time.Minute || cfg.StillRunningAfter != 2*time.Hour || cfg.Policy.Name() != "jobwatch" {
		t.Errorf("defaults = %+v", cfg)
	}
	if len(cfg.AppIDs) != 2 || cfg.MetricsNamespace != "jobwatch" || cfg.DeadLetterQueueURL != "" {
		t.Errorf("apps %v, metrics namespace %q, dead-letter queue %q; want the two apps, jobwatch, none", cfg.AppIDs, cfg.MetricsNamespace, cfg.DeadLetterQueueURL)
	}
	tests := map[string]struct {
		set  map[string]string
		want []string
	}{
		"missing queue":         {map[string]string{"JOBS_QUEUE_URL": ""}, []string{"setting JOBS_QUEUE_URL: is required"}},
		"not a queue URL":       {map[string]string{"COMPLETIONS_QUEUE_URL": "completions"}, []string{"setting COMPLETIONS_QUEUE_URL"}},
		"unknown policy":        {map[string]string{"POLL_POLICY": "fixed-1s"}, []string{"setting POLL_POLICY", "jobwatch-economy"}},
		"grace not a duration":  {map[string]string{"NOT_FOUND_GRACE": "soon"}, []string{"setting NOT_FOUND_GRACE"}},
		"warning off is fine":   {map[string]string{"STILL_RUNNING_AFTER": "0"}, nil},
		"several bad at once":   {map[string]string{"LOG_LEVEL": "LOUD", "NOT_FOUND_RETRY": "1h"}, []string{"LOG_LEVEL", "NOT_FOUND_RETRY"}},
		"no allowed apps":       {map[string]string{"ALLOWED_APP_IDS": " , "}, []string{"setting ALLOWED_APP_IDS: is required"}},
		"bad dead-letter queue": {map[string]string{"JOBS_DEAD_LETTER_QUEUE_URL": "jobs-dlq"}, []string{"setting JOBS_DEAD_LETTER_QUEUE_URL"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			for k, v := range tc.set {
				env[k] = v
			}
			_, err := ReadConfig(settings.FromMap(env), 1)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
