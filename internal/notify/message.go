package notify

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/notify/blockkit"
)

// What the Slack and SNS messages say about each status.
var outcomes = map[string]struct {
	emoji, phrase string
}{
	contract.StatusCompleted:    {":white_check_mark:", "completed"},
	contract.StatusFailed:       {":x:", "failed"},
	contract.StatusTimedOut:     {":hourglass:", "timed out"},
	contract.StatusLost:         {":grey_question:", "job lost"},
	contract.StatusStillRunning: {":hourglass_flowing_sand:", "still running"},
}

func outcome(status string) (emoji, phrase string) {
	if o, ok := outcomes[status]; ok {
		return o.emoji, o.phrase
	}
	return ":grey_exclamation:", status
}

// Block Kit's limits, in characters.
const (
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFallback    = 3000
	maxErrorInText = 300 // of the error, in the fallback text
)

// ConsoleURL is the Amplify console's page of an app's backend
// environment, where its jobs' effects show: the page `amplify console`
// opens for "AWS console" (amplify-cli's constructStatusURL; the
// YmFja2VuZA segment is base64 "backend").
func ConsoleURL(region, appID, env string) string {
	if region == "" || appID == "" || env == "" {
		return ""
	}
	return fmt.Sprintf("https://%[1]s.console.aws.amazon.com/amplify/home?region=%[1]s#/%[2]s/YmFja2VuZA/%[3]s",
		url.QueryEscape(region), linkSegment(appID), linkSegment(env))
}

// linkSegment escapes a path segment for a URL that also goes inside a
// Slack link, <url|label>, where &, <, > and | would break it.
func linkSegment(s string) string {
	return strings.NewReplacer("&", "%26", "|", "%7C").Replace(url.PathEscape(s))
}

// SlackMessage is the Block Kit message posted for a status change: a
// header with the outcome, fields for the app, environment, operation,
// job, duration and status, the error in a code block, a link to the
// Amplify console (region is the job's region), a context line, and
// a plain fallback text for notifications. Every value from the change is
// escaped for mrkdwn and set in code where formatting could break.
func SlackMessage(c contract.StatusChange, region string) blockkit.Message {
	emoji, phrase := outcome(c.Status)
	where := c.AppID + "/" + c.BackendEnvironmentName
	header := truncate(fmt.Sprintf("%s %s %s on %s", emoji, c.Operation, phrase, where), maxHeaderText)

	job := field("Job", codeSpan(c.JobID, maxFieldText-20))
	if c.JobID == "" {
		job = field("Request", codeSpan(c.RequestID, maxFieldText-40)+" (no job was started)")
	}
	status := escape(c.Status, 100)
	if c.PreviousStatus != "" {
		status += " (was " + escape(c.PreviousStatus, 100) + ")"
	}
	blocks := []blockkit.Block{
		blockkit.Header(blockkit.Plain(header)),
		blockkit.Fields(
			field("App", codeSpan(c.AppID, maxFieldText-20)),
			field("Environment", codeSpan(c.BackendEnvironmentName, maxFieldText-20)),
			field("Operation", codeSpan(c.Operation, maxFieldText-20)),
			job,
			field("Duration", HumanDuration(c.DurationSeconds)),
			field("Status", status),
		),
	}
	if c.Error != "" {
		blocks = append(blocks, blockkit.Section(blockkit.Mrkdwn("*Error*\n"+codeBlock(c.Error, maxSectionText-20))))
	}
	if link := ConsoleURL(region, c.AppID, c.BackendEnvironmentName); link != "" && len(link) < maxSectionText-100 {
		blocks = append(blocks, blockkit.Section(blockkit.Mrkdwn("<"+link+"|Open the backend environment in the Amplify console>")))
	}
	blocks = append(blocks, blockkit.Context(blockkit.Mrkdwn(contextLine(c))))
	return blockkit.Message{Text: fallbackText(c, emoji, phrase), Blocks: blocks}
}

func field(label, value string) blockkit.Text { return blockkit.Mrkdwn("*" + label + "*\n" + value) }

// contextLine gives the times, polls, request and event key.
func contextLine(c contract.StatusChange) string {
	parts := []string{"submitted " + escape(c.SubmittedAt, 40), "detected " + escape(c.DetectedAt, 40)}
	if c.Polls > 0 {
		parts = append(parts, fmt.Sprintf("%d polls", c.Polls))
	}
	if c.RequestID != "" && c.JobID != "" {
		parts = append(parts, "request "+codeSpan(c.RequestID, 200))
	}
	parts = append(parts, "event key "+codeSpan(c.EventKey, 400))
	return truncate(strings.Join(parts, " · "), maxSectionText)
}

// fallbackText is the message's text: what notifications and clients
// without Block Kit show.
func fallbackText(c contract.StatusChange, emoji, phrase string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s on %s/%s", emoji, escape(c.Operation, 100), phrase,
		escape(c.AppID, 100), escape(c.BackendEnvironmentName, 100))
	if c.JobID != "" {
		fmt.Fprintf(&b, " (job %s, %s)", escape(c.JobID, 100), HumanDuration(c.DurationSeconds))
	} else {
		fmt.Fprintf(&b, " (request %s, %s)", escape(c.RequestID, 100), HumanDuration(c.DurationSeconds))
	}
	if c.Error != "" {
		b.WriteString(": " + codeSpan(c.Error, maxErrorInText))
	}
	return truncate(b.String(), maxFallback)
}

// escape escapes s for mrkdwn (&, <, >, which also keeps mentions and
// links out), cut to at most max characters of escaped text.
func escape(s string, max int) string {
	full := mrkdwnEscaper.Replace(s)
	if utf8.RuneCountInString(full) <= max {
		return full
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		e := mrkdwnEscaper.Replace(string(r))
		k := utf8.RuneCountInString(e)
		if n+k > max-1 {
			break
		}
		b.WriteString(e)
		n += k
	}
	return b.String() + "…"
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// codeSpan sets s in inline code, where mrkdwn does not format; a
// backtick would close the span, so it becomes ˋ (U+02CB).
func codeSpan(s string, max int) string {
	if s == "" {
		return "–"
	}
	return "`" + escape(oneLine(strings.ReplaceAll(s, "`", "ˋ")), max-2) + "`"
}

// codeBlock sets s in a preformatted block; a ``` inside would end it.
func codeBlock(s string, max int) string {
	return "```\n" + escape(strings.ReplaceAll(s, "```", "ˋˋˋ"), max-8) + "\n```"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to max characters, ending it with … when cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// HumanDuration reads a job's durationSeconds the way people say it: 45s,
// 4m 30s, 2h 5m, 3d 4h.
func HumanDuration(seconds float64) string {
	if seconds < 0 || math.IsNaN(seconds) || math.IsInf(seconds, 0) {
		return "unknown"
	}
	s := int64(math.Round(seconds))
	d, h, m := s/86400, s/3600%24, s/60%60
	s %= 60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh", d, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
