// Package logging builds the functions' JSON loggers: log/slog lines that
// carry the Lambda request id (awsRequestId, apart from a job request's own
// requestId) and, on every line about a job, its app,
// environment and job id, taken from the context.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// ParseLevel reads DEBUG, INFO, WARN or ERROR (any case).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(strings.TrimSpace(s)))); err != nil {
		return l, fmt.Errorf("log level %q: want DEBUG, INFO, WARN or ERROR", s)
	}
	return l, nil
}

// New returns a JSON logger writing to w at level.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(&contextHandler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

type attrsKey struct{}

// With returns a context whose log lines carry attrs (e.g. the job's
// appId, backendEnvironmentName and jobId) in addition to the parent's.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	all := append(append([]slog.Attr(nil), prev...), attrs...)
	return context.WithValue(ctx, attrsKey{}, all)
}

// Job returns the attributes identifying a job on log lines.
func Job(appID, env, jobID string) []slog.Attr {
	attrs := []slog.Attr{slog.String("appId", appID), slog.String("backendEnvironmentName", env)}
	if jobID != "" {
		attrs = append(attrs, slog.String("jobId", jobID))
	}
	return attrs
}

// contextHandler adds the Lambda request id and the context's attributes
// to each record.
type contextHandler struct{ slog.Handler }

func (h *contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("awsRequestId", lc.AwsRequestID))
	}
	if attrs, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h *contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h *contextHandler) WithGroup(name string) slog.Handler {
	return &contextHandler{h.Handler.WithGroup(name)}
}
