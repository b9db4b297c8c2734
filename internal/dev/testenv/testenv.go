// Package testenv starts the real services tests run against on loopback:
// moto server (SQS, EventBridge, SNS, DynamoDB, SSM, Secrets Manager) and
// gives SDK clients a configuration pointing at it.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
func AWSConfig(endpoint string) aws.Config { return devstack.AWSConfig(endpoint) }

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
