// Command jobwatch is the command line of jobwatch: call the Amplify Admin
// API, run the local emulator and stack, the demo and the benchmark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// command is one subcommand of jobwatch.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands holds the subcommands; each file registers its own in init.
var commands = map[string]command{}

// usageError is a mistake in how jobwatch was invoked: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, mainUsage())
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "jobwatch: unknown command %q\n\n%s", args[0], mainUsage())
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "jobwatch %s: %s\n", args[0], ue.msg)
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintln(stderr, ee.msg)
		return ee.code
	}
	fmt.Fprintf(stderr, "jobwatch %s: %v\n", args[0], err)
	return 1
}

// exitError ends the program with a message and a given status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func mainUsage() string {
	var b strings.Builder
	b.WriteString("usage: jobwatch <command> [arguments]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, commands[n].summary)
	}
	b.WriteString("\nRun 'jobwatch <command> -h' for a command's flags.\n")
	return b.String()
}

// errHelp says a command printed its usage because -h asked for it: the
// program exits 0.
var errHelp = errors.New("usage shown")

// parseArgs parses flags that may come before or after positional
// arguments (jobwatch call CloneBackend --input ... and jobwatch call
// --input ... CloneBackend both work) and returns the positional ones. A
// bad flag is a usage error, told in one line; -h prints the usage and
// is errHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard) // the flag package would print the whole usage with a bad flag
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			if usage != nil {
				usage()
			} else {
				fs.PrintDefaults()
			}
			return nil, errHelp
		} else if err != nil {
			return nil, usagef("%v (-h lists the flags)", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseFlags parses the flags of a command that takes no positional
// argument.
func parseFlags(fs *flag.FlagSet, args []string) error {
	positional, err := parseArgs(fs, args)
	if err == nil && len(positional) > 0 {
		err = usagef("unexpected argument %q", positional[0])
	}
	return err
}

// httpGet fetches a URL with a short timeout, for liveness checks.
func httpGet(url string) (*http.Response, error) {
	c := http.Client{Timeout: 2 * time.Second}
	return c.Get(url)
}
