// Package settings reads a function's configuration from its environment
// once, at start, collecting every missing or bad setting into one error
// that names each variable.
package settings

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads settings from an environment.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// FromEnviron reads the process environment.
func FromEnviron() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads a map, for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (e *Env) fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("setting %s: %s", name, fmt.Sprintf(format, args...)))
}

// String returns the setting or def when it is unset.
func (e *Env) String(name, def string) string {
	if v, ok := e.get(name); ok {
		return v
	}
	return def
}

// Required returns the setting, recording an error when it is unset.
func (e *Env) Required(name string) string {
	v, ok := e.get(name)
	if !ok {
		e.fail(name, "is required")
	}
	return v
}

// OneOf returns the setting, which must be one of allowed, or def.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v := e.String(name, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	e.fail(name, "is %q; want one of %s", v, strings.Join(allowed, ", "))
	return def
}

// Duration reads a Go duration ("6h", "90s") or a number of seconds.
// It must lie in [lo, hi]; def is used when unset.
func (e *Env) Duration(name string, def, lo, hi time.Duration) time.Duration {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, serr := strconv.ParseFloat(v, 64)
		if serr != nil {
			e.fail(name, "is %q; want a duration such as 90s or 6h, or a number of seconds", v)
			return def
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < lo || d > hi {
		e.fail(name, "is %v; want between %v and %v", d, lo, hi)
		return def
	}
	return d
}

// QueueURL reads a required SQS queue URL.
func (e *Env) QueueURL(name string) string {
	v := e.Required(name)
	if v == "" {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		e.fail(name, "is %q; want a queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/jobs", v)
	}
	return v
}

// List reads a comma-separated list; empty items are dropped.
func (e *Env) List(name string) []string {
	v, ok := e.get(name)
	if !ok {
		return nil
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Check records a problem with a setting when ok is false, for checks
// beyond the readers' own (a pattern, a relation between settings).
func (e *Env) Check(name string, ok bool, format string, args ...any) {
	if !ok {
		e.fail(name, format, args...)
	}
}

// Err returns every problem found, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }
