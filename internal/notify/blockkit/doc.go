// Package blockkit holds the few Slack Block Kit types notify posts to an
// incoming webhook — a fallback text with header, section and context
// blocks of text objects — encoding to Slack's JSON
// (api.slack.com/reference/block-kit). They replace a full Slack client
// library, which the notify function would load for these types alone.
package blockkit
