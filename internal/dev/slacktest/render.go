package slacktest

import (
	"regexp"
	"strings"

	"github.com/jobwatch/jobwatch/internal/notify/blockkit"
)

// Render shows a message as plain text, about as Slack lays it out: the
// header, each section's text and fields ("Label: value"), context lines
// after a "·", and the fallback text last, marked "text:". Emoji codes
// jobwatch uses become their characters; mrkdwn markup is removed and
// links read "label <url>".
func Render(m blockkit.Message) string {
	var b strings.Builder
	for _, bl := range m.Blocks {
		switch bl.Type {
		case blockkit.TypeHeader:
			if bl.Text != nil {
				b.WriteString(plain(*bl.Text) + "\n")
			}
		case blockkit.TypeSection:
			if bl.Text != nil {
				b.WriteString(indent(plain(*bl.Text)) + "\n")
			}
			for _, f := range bl.Fields {
				label, value, ok := strings.Cut(plain(f), "\n")
				if ok {
					b.WriteString("  " + label + ": " + strings.ReplaceAll(value, "\n", " ") + "\n")
				} else {
					b.WriteString("  " + label + "\n")
				}
			}
		case blockkit.TypeContext:
			var parts []string
			for _, e := range bl.Elements {
				parts = append(parts, plain(e))
			}
			b.WriteString("  · " + strings.Join(parts, " ") + "\n")
		case blockkit.TypeDivider:
			b.WriteString("  ----\n")
		}
	}
	if m.Text != "" {
		b.WriteString("  text: " + demarkdown(m.Text) + "\n")
	}
	return b.String()
}

// emoji are the codes jobwatch's messages use.
var emoji = strings.NewReplacer(
	":white_check_mark:", "✅", ":x:", "❌", ":hourglass:", "⌛",
	":grey_question:", "❔", ":hourglass_flowing_sand:", "⏳", ":grey_exclamation:", "❕",
)

func plain(t blockkit.Text) string {
	if t.Type == blockkit.PlainText {
		return emoji.Replace(t.Text)
	}
	return demarkdown(t.Text)
}

var (
	linkPattern = regexp.MustCompile(`<([^<>|]+)\|([^<>]+)>`)
	codeBlock   = regexp.MustCompile("(?s)```\n?(.*?)\n?```")
	boldPattern = regexp.MustCompile(`\*([^*\n]+)\*`)
	codePattern = regexp.MustCompile("`([^`\n]*)`")
	unescape    = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// demarkdown turns mrkdwn into the text a reader sees.
func demarkdown(s string) string {
	// Code keeps its text as it is: set it aside while the markup around
	// it is removed.
	var code []string
	s = codeBlock.ReplaceAllStringFunc(s, func(block string) string {
		code = append(code, "  "+strings.ReplaceAll(codeBlock.FindStringSubmatch(block)[1], "\n", "\n  "))
		return "\x00"
	})
	s = codePattern.ReplaceAllStringFunc(s, func(span string) string {
		code = append(code, codePattern.FindStringSubmatch(span)[1])
		return "\x00"
	})
	s = linkPattern.ReplaceAllString(s, "$2 <$1>")
	s = boldPattern.ReplaceAllString(s, "$1")
	for _, c := range code {
		s = strings.Replace(s, "\x00", c, 1)
	}
	return emoji.Replace(unescape.Replace(s))
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }
