package main

import (
	"strings"
	"testing"
)

// TestSoakUsage: bad flags are refused before anything starts, with exit
// status 2 and a message naming the problem; -h prints the flags.
func TestSoakUsage(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"too few jobs":     {[]string{"soak", "--jobs", "5"}, 2, "--jobs must be from 10"},
		"no timeout":       {[]string{"soak", "--timeout", "0s"}, 2, "--timeout must be positive"},
		"no schedule":      {[]string{"soak", "--schedule-every", "0s"}, 2, "--schedule-every must be positive"},
		"an argument":      {[]string{"soak", "now"}, 2, `unexpected argument "now"`},
		"an unknown flag":  {[]string{"soak", "--jbos", "10"}, 2, "flag provided but not defined"},
		"help, with flags": {[]string{"soak", "-h"}, 0, "-work-dir"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}
