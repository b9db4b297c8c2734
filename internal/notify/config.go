package notify

import (
	"log/slog"
	"regexp"
	"strings"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/logging"
	"github.com/jobwatch/jobwatch/internal/settings"
)

// Config is the notify function's configuration.
type Config struct {
	// EventBusName is the name or ARN of the bus events go to (EVENT_BUS_NAME).
	EventBusName string
	// EventSource is the events' source (EVENT_SOURCE).
	EventSource string
	// AccountID and Region name the job ARN, the events' resource
	// (ACCOUNT_ID, AWS_REGION).
	AccountID, Region string
	// LogLevel is the lowest level logged (LOG_LEVEL).
	LogLevel slog.Level
}

// The shapes EventBridge and ARNs accept; a value that cannot work fails
// at start rather than on every message.
var (
	busNamePattern = regexp.MustCompile(`^(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus/)?[/.\-_A-Za-z0-9]{1,256}$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// LoadConfig reads the configuration from env, returning an error that
// names every missing or bad variable.
func LoadConfig(env *settings.Env) (Config, error) {
	c := Config{
		EventBusName: env.Required("EVENT_BUS_NAME"),
		EventSource:  env.String("EVENT_SOURCE", contract.DefaultEventSource),
		AccountID:    env.Required("ACCOUNT_ID"),
		Region:       env.Required("AWS_REGION"),
	}
	level := env.OneOf("LOG_LEVEL", "INFO", "DEBUG", "INFO", "WARN", "ERROR")

	bad := func(name, format string, args ...any) { env.Check(name, false, format, args...) }
	if c.EventBusName != "" && !busNamePattern.MatchString(c.EventBusName) {
		bad("EVENT_BUS_NAME", "is %q; want an event bus name or ARN", c.EventBusName)
	}
	switch {
	case len(c.EventSource) > 256:
		bad("EVENT_SOURCE", "is %d characters; EventBridge takes at most 256", len(c.EventSource))
	case strings.HasPrefix(c.EventSource, "aws."):
		bad("EVENT_SOURCE", "is %q; sources starting with \"aws.\" are reserved for AWS services", c.EventSource)
	}
	if c.AccountID != "" && !accountPattern.MatchString(c.AccountID) {
		bad("ACCOUNT_ID", "is %q; want the 12-digit AWS account id", c.AccountID)
	}
	if c.Region != "" && !regionPattern.MatchString(c.Region) {
		bad("AWS_REGION", "is %q; want a region such as us-east-1", c.Region)
	}
	var err error
	if c.LogLevel, err = logging.ParseLevel(level); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	return c, env.Err()
}
