package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/slacktest"
)

// localStart runs every function of the local stack until ctx ends
// (Ctrl-C, SIGTERM), printing the functions' logs and what users receive.
func localStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("local start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	statePath := fs.String("state", defaultStatePath, "state `FILE` of the local stack")
	scheduleEvery := fs.Duration("schedule-every", 0, "run the scheduled functions (the discovery sweep) every `DURATION` (default: the template's schedule)")
	buildDir := fs.String("build-dir", "", "where to build the bootstraps (default: build/ beside the state file)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *scheduleEvery < 0 {
		return usagef("--schedule-every must not be negative, got %s", *scheduleEvery)
	}
	st, err := devstack.LoadState(*statePath)
	if err != nil {
		return err
	}
	if err := checkServers(st); err != nil {
		return err
	}
	release, err := claimStart(*statePath)
	if err != nil {
		return err
	}
	defer release()
	if *buildDir == "" {
		*buildDir = filepath.Join(filepath.Dir(*statePath), "build")
	}
	out := devstack.Locked(stdout)
	fmt.Fprintf(stderr, "building the functions of %s and starting them under the Lambda Runtime Interface Emulator…\n", st.Template)
	run, err := devstack.Start(ctx, st, devstack.StartOptions{BuildDir: *buildDir, Logs: out, ScheduleEvery: *scheduleEvery,
		Observe: printDeliveries(out)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "local stack %s is running: %s (Ctrl-C stops it)\n", st.Stack.StackName, strings.Join(functionNames(st), ", "))
	<-ctx.Done()
	fmt.Fprintf(stderr, "stopping local stack %s…\n", st.Stack.StackName)
	run.Close()
	fmt.Fprintf(out, "local stack %s stopped\n", st.Stack.StackName)
	return nil
}

func functionNames(st *devstack.State) []string { return slices.Sorted(maps.Keys(st.Stack.Functions)) }

// checkServers says which server of the stack does not answer.
func checkServers(st *devstack.State) error {
	if !devstack.MotoAlive(st.Moto.Endpoint) {
		return fmt.Errorf("the stack's moto server does not answer at %s: run 'jobwatch local down', then 'up'", st.Moto.Endpoint)
	}
	if !emulatorAlive(st.Emulator.Endpoint) {
		return fmt.Errorf("the stack's Admin API does not answer at %s: run 'jobwatch local down', then 'up'", st.Emulator.Endpoint)
	}
	return nil
}

// printDeliveries prints what users of the stack receive, one line each.
func printDeliveries(w io.Writer) devstack.Observer {
	return devstack.Observer{
		OnEvent:        func(ev devstack.Event) { fmt.Fprintf(w, "event | %s\n", devstack.EventLine(ev)) },
		OnNotification: func(n devstack.Notification) { fmt.Fprintf(w, "sns   | %s\n", devstack.NotificationLine(n)) },
		OnSlack:        func(p slacktest.Post) { fmt.Fprintf(w, "slack | %s\n", devstack.SlackLine(p)) },
	}
}

// startPIDFile is where a running `local start` notes its process id,
// beside the state file, so that a second one is refused and `local down`
// stops it.
func startPIDFile(statePath string) string { return statePath + ".start.pid" }

// claimStart notes this process as the stack's `local start`, unless one
// runs already.
func claimStart(statePath string) (release func(), err error) {
	if pid, ok := startedBy(statePath); ok {
		return nil, fmt.Errorf("jobwatch local start is already running for %s (pid %d)", statePath, pid)
	}
	path := startPIDFile(statePath)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(path) }, nil
}

// startedBy returns the process id of a running `local start` of the
// stack.
func startedBy(statePath string) (int, bool) {
	b, err := os.ReadFile(startPIDFile(statePath))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return pid, true
}

// stopProcess asks a process to stop (SIGTERM) and waits for it, killing
// it after grace.
func stopProcess(pid int, grace time.Duration) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	_ = p.Signal(syscall.SIGTERM)
	for end := time.Now().Add(grace); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
	if !errors.Is(p.Kill(), os.ErrProcessDone) {
		time.Sleep(200 * time.Millisecond)
	}
}
