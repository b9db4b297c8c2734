// Package notify publishes the status changes that arrive on the
// completions queue: each message is decoded and handed to every sink —
// the project's EventBridge bus (every change), an SNS topic with
// filterable message attributes and a Slack incoming webhook (the
// statuses routed to each, see Only). A message some sink failed for the
// time being is replaced by a delayed copy, one that is malformed or that
// a sink refuses for good goes to the dead-letter queue at once (see
// Options); each sink delivers a change once (Deduplicate), and what
// reaches it is counted (Counted, EMF metrics). The Slack webhook URL is a
// secret read from SSM Parameter Store or Secrets Manager (WebhookSecret,
// through secretstore) and never printed (WebhookURL); the messages are
// blockkit's; slacktest stands in for Slack.
package notify
