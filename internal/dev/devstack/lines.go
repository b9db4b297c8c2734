package devstack

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// EventLine is a status change on one line: its gist, then its detail as
// the event carries it.
func EventLine(ev Event) string {
	d := ev.Detail
	detail, _ := json.Marshal(d)
	return fmt.Sprintf("%s: %s %s %s/%s job %s request %s %s", ev.DetailType, d.Status, d.Operation,
		d.AppID, d.BackendEnvironmentName, orNone(d.JobID), orNone(d.RequestID), detail)
}

// NotificationLine is an SNS message on one line: its subject and the
// attributes subscriptions filter on.
func NotificationLine(n Notification) string {
	return fmt.Sprintf("%q [status=%s operation=%s appId=%s backendEnvironmentName=%s]", n.Subject,
		n.Attributes["status"], n.Attributes["operation"], n.Attributes["appId"], n.Attributes["backendEnvironmentName"])
}

// SlackLine is the gist of a Slack post as a channel shows it: its
// header, and the error when there is one.
func SlackLine(p slacktest.Post) string {
	if !p.Accepted() {
		return fmt.Sprintf("refused (%d %s)", p.Status, p.Answer)
	}
	lines := strings.Split(strings.TrimSpace(slacktest.Render(p.Message)), "\n")
	text := lines[0]
	for i, l := range lines {
		if strings.TrimSpace(l) == "Error" && i+1 < len(lines) {
			text += " — " + strings.TrimSpace(lines[i+1])
		}
	}
	return text + fmt.Sprintf(" (Block Kit, %d blocks)", len(p.Message.Blocks))
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
