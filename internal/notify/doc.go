// Package notify publishes the status changes that arrive on the
// completions queue: each message is decoded, handed to every sink (the
// project's EventBridge bus first; SNS and Slack later), and reported back
// for redelivery when it is malformed or any sink failed it.
package notify
