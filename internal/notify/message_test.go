package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
	"github.com/jobwatch/jobwatch/internal/notify/blockkit"
)

// untrusted is the status change of events/notify/failed-untrusted-text.json,
// whose error holds markup, a mention, a link and a secret-looking value.
func untrusted(t *testing.T) contract.StatusChange {
	t.Helper()
	ev := readBatch(t, "failed-untrusted-text.json")
	s, err := contract.DecodeStatusChange([]byte(ev.Records[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blockTexts returns every text of a message's blocks, in order.
func blockTexts(m blockkit.Message) (header string, fields, texts []string) {
	for _, b := range m.Blocks {
		switch b.Type {
		case blockkit.TypeHeader:
			header = b.Text.Text
		case blockkit.TypeSection:
			if b.Text != nil {
				texts = append(texts, b.Text.Text)
			}
			for _, f := range b.Fields {
				fields = append(fields, f.Text)
			}
		case blockkit.TypeContext:
			for _, e := range b.Elements {
				texts = append(texts, e.Text)
			}
		}
	}
	return header, fields, texts
}

// checkBlocks checks m's JSON as the Slack stand-in does.
func checkBlocks(t *testing.T, m blockkit.Message) {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := slacktest.CheckBlocks(body); err != nil {
		t.Fatalf("Block Kit limits: %v", err)
	}
}

func TestSlackMessage(t *testing.T) {
	timedOut := noJob(7)
	timedOut.DurationSeconds = 21600
	for name, tc := range map[string]struct {
		change     contract.StatusChange
		wantHeader string
		wantFields []string
		wantText   string // the fallback
	}{
		"completed": {
			change:     change(1, contract.StatusCompleted),
			wantHeader: ":white_check_mark: CloneBackend completed on d1abc23/dev",
			wantFields: []string{"*App*\n`d1abc23`", "*Environment*\n`dev`", "*Operation*\n`CloneBackend`",
				"*Job*\n`00000000-0000-4000-8000-000000000001`", "*Duration*\n5m 0s", "*Status*\nCOMPLETED (was RUNNING)"},
			wantText: ":white_check_mark: CloneBackend completed on d1abc23/dev (job 00000000-0000-4000-8000-000000000001, 5m 0s)",
		},
		"failed": {
			change:     untrusted(t),
			wantHeader: ":x: UpdateBackendAuth failed on d1abc23/staging",
			wantFields: []string{"*App*\n`d1abc23`", "*Environment*\n`staging`", "*Operation*\n`UpdateBackendAuth`",
				"*Job*\n`3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f`", "*Duration*\n4m 31s", "*Status*\nFAILED (was RUNNING)"},
			wantText: ":x: UpdateBackendAuth failed on d1abc23/staging (job 3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f, 4m 31s): " +
				"`Invalid identity provider &lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;!channel&gt; &lt;https://evil.example|click&gt; " +
				"*not bold* _not italic_ ~not struck~ ˋtickˋ ˋˋˋfenceˋˋˋ ClientSecret=Zm9vYmFyLXNlY3JldC12YWx1ZQ`",
		},
		"timed out before a job": {
			change:     timedOut,
			wantHeader: ":hourglass: CloneBackend timed out on d1abc23/dev",
			wantFields: []string{"*App*\n`d1abc23`", "*Environment*\n`dev`", "*Operation*\n`CloneBackend`",
				"*Request*\n`nightly-7` (no job was started)", "*Duration*\n6h 0m", "*Status*\nTIMED_OUT (was RUNNING)"},
			wantText: ":hourglass: CloneBackend timed out on d1abc23/dev (request nightly-7, 6h 0m)",
		},
		"lost": {
			change:     change(2, contract.StatusLost),
			wantHeader: ":grey_question: CloneBackend job lost on d1abc23/dev",
		},
		"still running": {
			change:     change(3, contract.StatusStillRunning),
			wantHeader: ":hourglass_flowing_sand: CloneBackend still running on d1abc23/dev",
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := SlackMessage(tc.change, "eu-west-1")
			checkBlocks(t, m)
			header, fields, texts := blockTexts(m)
			if header != tc.wantHeader {
				t.Errorf("header = %q, want %q", header, tc.wantHeader)
			}
			if tc.wantFields != nil && strings.Join(fields, "|") != strings.Join(tc.wantFields, "|") {
				t.Errorf("fields =\n%q\nwant\n%q", fields, tc.wantFields)
			}
			if tc.wantText != "" && m.Text != tc.wantText {
				t.Errorf("text =\n%s\nwant\n%s", m.Text, tc.wantText)
			}
			link := "<https://eu-west-1.console.aws.amazon.com/amplify/home?region=eu-west-1#/d1abc23/YmFja2VuZA/" +
				tc.change.BackendEnvironmentName + "|Open the backend environment in the Amplify console>"
			if !containsString(texts, link) {
				t.Errorf("no console link %s in %q", link, texts)
			}
			if !strings.Contains(texts[len(texts)-1], "event key `"+tc.change.EventKey+"`") {
				t.Errorf("context %q lacks the event key", texts[len(texts)-1])
			}
		})
	}
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// The error is shown as it is, in a code block: escaped so that no tag,
// mention or link comes alive, and set where formatting does not apply.
func TestSlackMessageEscapesTheError(t *testing.T) {
	m := SlackMessage(untrusted(t), "us-east-1")
	_, _, texts := blockTexts(m)
	want := "*Error*\n```\nInvalid identity provider &lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;!channel&gt; " +
		"&lt;https://evil.example|click&gt; *not bold* _not italic_ ~not struck~ `tick` ˋˋˋfenceˋˋˋ " +
		"ClientSecret=Zm9vYmFyLXNlY3JldC12YWx1ZQ\n```"
	if texts[0] != want {
		t.Errorf("error section =\n%s\nwant\n%s", texts[0], want)
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(body, &raw)
	for _, bad := range []string{"<script>", "<!channel>", "<https://evil.example|click>"} {
		if strings.Contains(mustJSONText(t, raw), bad) {
			t.Errorf("message carries %s unescaped", bad)
		}
	}
}

// mustJSONText is every string of a decoded JSON value, joined.
func mustJSONText(t *testing.T, v any) string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x + "\n"
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(mustJSONText(t, e))
		}
		return b.String()
	case map[string]any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(mustJSONText(t, e))
		}
		return b.String()
	}
	return ""
}

// However long the values, the message stays within Block Kit's limits.
func TestSlackMessageWithinLimits(t *testing.T) {
	c := change(1, contract.StatusFailed)
	c.Error = strings.Repeat("<&>", 5000)
	c.Operation = strings.Repeat("Op", 200)
	c.BackendEnvironmentName = strings.Repeat("e", 3000)
	m := SlackMessage(c, "us-east-1")
	checkBlocks(t, m)
	if n := utf8.RuneCountInString(m.Text); n > maxFallback {
		t.Errorf("text has %d characters", n)
	}
	_, _, texts := blockTexts(m)
	if !strings.HasSuffix(texts[0], "…\n```") {
		t.Errorf("a cut error does not end with …: %q", texts[0][len(texts[0])-20:])
	}
}

func TestEscape(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		max  int
		want string
	}{
		"plain":                    {"dev", 10, "dev"},
		"markup":                   {"a<b>&c", 100, "a&lt;b&gt;&amp;c"},
		"cut":                      {"abcdefghij", 5, "abcd…"},
		"an escape is never split": {"ab&cd", 6, "ab…"},
		"multibyte":                {"ééééé", 3, "éé…"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := escape(tc.in, tc.max); got != tc.want {
				t.Errorf("escape(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0s", 0.4: "0s", 45: "45s", 59.6: "1m 0s", 270: "4m 30s", 3600: "1h 0m", 7505: "2h 5m",
		86400 + 4*3600 + 59: "1d 4h", -1: "unknown",
	} {
		if got := HumanDuration(in); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestConsoleURL(t *testing.T) {
	for name, tc := range map[string]struct {
		region, app, env, want string
	}{
		"backend environment": {"eu-west-1", "d1abc23", "dev",
			"https://eu-west-1.console.aws.amazon.com/amplify/home?region=eu-west-1#/d1abc23/YmFja2VuZA/dev"},
		"odd names stay inside the link": {"us-east-1", "d1", "a&b|c d",
			"https://us-east-1.console.aws.amazon.com/amplify/home?region=us-east-1#/d1/YmFja2VuZA/a%26b%7Cc%20d"},
		"no region": {"", "d1", "dev", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ConsoleURL(tc.region, tc.app, tc.env); got != tc.want {
				t.Errorf("ConsoleURL = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSNSSubject(t *testing.T) {
	long := change(1, contract.StatusFailed)
	long.BackendEnvironmentName = strings.Repeat("x", 200)
	odd := change(1, contract.StatusCompleted)
	odd.BackendEnvironmentName = "dév\nnext"
	for name, tc := range map[string]struct {
		change contract.StatusChange
		want   string
	}{
		"failed":            {change(1, contract.StatusFailed), "jobwatch: CloneBackend FAILED on d1abc23/dev"},
		"cut below 100":     {long, "jobwatch: CloneBackend FAILED on d1abc23/" + strings.Repeat("x", 55) + "..."},
		"ASCII on one line": {odd, "jobwatch: CloneBackend COMPLETED on d1abc23/d??v?next"},
		"timed out, no job": {change(2, contract.StatusTimedOut), "jobwatch: CloneBackend TIMED_OUT on d1abc23/dev"},
	} {
		t.Run(name, func(t *testing.T) {
			got := SNSSubject(tc.change)
			if got != tc.want {
				t.Errorf("subject = %q, want %q", got, tc.want)
			}
			if len(got) >= 100 {
				t.Errorf("subject has %d characters; SNS wants fewer than 100", len(got))
			}
		})
	}
}

func TestSNSMessage(t *testing.T) {
	c := untrusted(t)
	msg, err := SNSMessage(c, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	assertContains(t, "message", msg,
		"UpdateBackendAuth failed on Amplify app d1abc23, backend environment staging.\n",
		"Job:        3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\n",
		"Status:     FAILED (was RUNNING)\n",
		"Duration:   4m 31s, 5 polls\n",
		"Request:    nightly-auth-7\n",
		"Error:      Invalid identity provider <script>",
		"Console:    https://us-east-1.console.aws.amazon.com/amplify/home?region=us-east-1#/d1abc23/YmFja2VuZA/staging\n",
		"Detail (as in the \"Amplify Backend Job Status Change\" event):\n{\n",
	)
	_, detail, _ := strings.Cut(msg, "event):\n")
	got, err := contract.DecodeStatusChange([]byte(detail))
	if err != nil || got != c {
		t.Errorf("the detail does not decode to the change: %v\n%s", err, detail)
	}
}
