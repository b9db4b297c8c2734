// Package testenv starts the real services tests run against on loopback:
// moto server (SQS, EventBridge, SNS, DynamoDB, SSM, Secrets Manager) and
// gives SDK clients a configuration pointing at it.
package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jobwatch/jobwatch/internal/dev/devstack"
)

// Region and Account are what moto answers with.
const (
	Region  = devstack.Region
	Account = devstack.Account
)

// StartMoto starts a moto server on a free loopback port that dies with
// this process, logging to logDir/moto.log.
func StartMoto(logDir string) (endpoint string, stop func(), err error) {
	logPath := ""
	if logDir != "" {
		logPath = filepath.Join(logDir, fmt.Sprintf("moto-%d.log", os.Getpid()))
	}
	s, err := devstack.StartMoto(logPath, false)
	if err != nil {
		return "", nil, err
	}
	return s.Endpoint, s.Stop, nil
}

var (
	motoOnce     sync.Once
	motoEndpoint string
	motoErr      error
)

// Moto returns the endpoint of a moto server shared by the tests of one
// package (started on first use, stopped when the test binary exits via
// the OS reaping the child). Tests isolate themselves by naming their
// resources uniquely (see Name). It skips when python3 or moto is absent;
// both are on CI.
func Moto(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: moto server unavailable")
	}
	motoOnce.Do(func() {
		if err := exec.Command("python3", "-c", "import moto.server").Run(); err != nil {
			motoErr = errSkip
			return
		}
		var stop func()
		motoEndpoint, stop, motoErr = StartMoto(os.TempDir())
		_ = stop // the server lives as long as the test binary
		if motoErr == nil {
			registerCleanup(stop)
		}
	})
	if errors.Is(motoErr, errSkip) {
		t.Skip("moto not installed")
	}
	if motoErr != nil {
		t.Fatal(motoErr)
	}
	return motoEndpoint
}

var errSkip = fmt.Errorf("skip")

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func registerCleanup(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

// Main runs a package's tests and stops what testenv started. Use it from
// TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	cleanupMu.Lock()
	for _, f := range cleanups {
		f()
	}
	cleanupMu.Unlock()
	os.Exit(code)
}

// AWSConfig returns an SDK configuration for endpoint with static test
// credentials, as the functions get from their environment locally.
//
// Its HTTP client hands net/http the SDK's request bodies through
// readOnlyBody: without it, under load (the whole suite on 2 busy cores),
// an answer was now and then cut off on this side and the SDK retried a
// call moto had already acted on (a receive that hid its messages, a
// create that found its own table) — see readOnlyBody. Requests that get
// no answer, a 5xx or a cut-off one are written to stderr (shown when a
// package fails).
func AWSConfig(endpoint string) aws.Config {
	cfg := devstack.AWSConfig(endpoint)
	cfg.HTTPClient = HTTPClient()
	return cfg
}

// HTTPClient is the HTTP client of AWSConfig, with opts applied to its
// transport.
func HTTPClient(opts ...func(*http.Transport)) aws.HTTPClient {
	return loggedHTTP{awshttp.NewBuildableClient().WithTransportOptions(opts...)}
}

// loggedHTTP is the SDK's HTTP client, telling stderr (shown when a
// package fails) of every request that got no answer or a 5xx: the SDK
// retries those, and a retry whose first attempt moto acted on explains a
// message that went missing or a create that found its own resource.
type loggedHTTP struct{ aws.HTTPClient }

func (c loggedHTTP) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readOnlyBody{req.Body}
	}
	resp, err := c.HTTPClient.Do(req)
	what := req.Header.Get("X-Amz-Target")
	switch {
	case err != nil:
		warn("%s %s: no answer: %v", req.URL.Host, what, err)
	case resp.StatusCode >= 500:
		warn("%s %s: HTTP %d", req.URL.Host, what, resp.StatusCode)
	default:
		resp.Body = loggedBody{ReadCloser: resp.Body, what: req.URL.Host + " " + what}
	}
	return resp, err
}

// readOnlyBody hides the WriteTo of the SDK's request body from net/http.
// The SDK closes a request's body once the answer came; net/http's write
// loop may not be done with it yet (under load it is descheduled between
// writing the body and reading past its end), and its last copy then
// calls smithy-go's WriteTo, which answers io.EOF as an error once the
// body is closed: the write loop fails and closes the connection, and
// the answer being read is cut off ("use of closed network connection").
// Through Read alone, a closed body's io.EOF is the end it expects.
type readOnlyBody struct{ io.ReadCloser }

// loggedBody tells stderr of an answer cut off while it was read.
type loggedBody struct {
	io.ReadCloser
	what string
}

func (b loggedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		warn("%s: answer cut off: %v", b.what, err)
	}
	return n, err
}

// warn writes a line to stderr, which go test shows for a failing package.
func warn(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s testenv: %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

var nameSeq struct {
	sync.Mutex
	n int
}

// Name returns a resource name unique within this test binary's run, for
// queues, buses and tables on a shared moto server.
func Name(t testing.TB, prefix string) string {
	nameSeq.Lock()
	defer nameSeq.Unlock()
	nameSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%100000, nameSeq.n)
}

// Table creates a table in moto keyed as the template's state table is
// (the string partition key pk), and returns a client and its name.
func Table(t testing.TB, prefix string) (*dynamodb.Client, string) {
	t.Helper()
	c := dynamodb.NewFromConfig(AWSConfig(Moto(t)))
	name := Name(t, prefix)
	if _, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	return c, name
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// Buffer collects output written from several goroutines or processes
// (a logger, a function's stdout) for a test to read.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// JSONLines decodes text written as JSON lines (a logger's output); a
// line that is not JSON fails the test.
func JSONLines(t testing.TB, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// BuildCLI builds the jobwatch command (cmd/jobwatch of the module at
// moduleDir) for a test and returns its path.
func BuildCLI(t testing.TB, moduleDir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jobwatch")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/jobwatch")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build jobwatch: %v\n%s", err, out)
	}
	return bin
}

// Lines starts cmd and streams the lines of its output (stdout and
// stderr); the process is killed when the test ends if it still runs.
func Lines(t testing.TB, cmd *exec.Cmd) <-chan string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 100000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// WaitLines reads lines until, for each of wants, a line contains it (in
// any order), and returns the lines read.
func WaitLines(t testing.TB, lines <-chan string, timeout time.Duration, wants ...string) []string {
	t.Helper()
	deadline := time.After(timeout)
	missing := map[string]bool{}
	for _, w := range wants {
		missing[w] = true
	}
	var seen []string
	for len(missing) > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended without %q; last lines:\n%s", slices.Sorted(maps.Keys(missing)), strings.Join(seen[max(0, len(seen)-40):], "\n"))
			}
			seen = append(seen, l)
			for w := range missing {
				if strings.Contains(l, w) {
					delete(missing, w)
				}
			}
		case <-deadline:
			t.Fatalf("no line with %q within %s; last lines:\n%s", slices.Sorted(maps.Keys(missing)), timeout, strings.Join(seen[max(0, len(seen)-40):], "\n"))
		}
	}
	return seen
}
