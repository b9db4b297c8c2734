// Package notify publishes the status changes that arrive on the
// completions queue: each message is decoded and handed to every sink —
// the project's EventBridge bus (every change), an SNS topic with
// filterable message attributes and a Slack incoming webhook (the
// statuses routed to each, see Only) — and reported back for redelivery
// when it is malformed or any sink failed it. The Slack webhook URL is a
// secret read from SSM Parameter Store or Secrets Manager (WebhookSecret,
// through secretstore) and never printed (WebhookURL); the messages are
// blockkit's; slacktest stands in for Slack.
package notify
