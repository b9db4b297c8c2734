// Package testenv starts the real services tests run against on loopback:
// moto server (SQS, EventBridge, SNS, DynamoDB, SSM, Secrets Manager) and
// gives SDK clients a configuration pointing at it.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region and Account are what moto answers with.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMoto starts `python3 -m moto.server` on a free loopback port and
// waits until it answers. The caller stops it with the returned func.
func StartMoto(logDir string) (endpoint string, stop func(), err error) {
	port, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if logDir != "" {
		f, ferr := os.Create(filepath.Join(logDir, "moto.log"))
		if ferr == nil {
			cmd.Stdout, cmd.Stderr = f, f
		}
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start moto server (python3 -m moto.server): %w", err)
	}
	endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return endpoint, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("moto server on %s did not answer within 30s", endpoint)
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
	if motoErr == errSkip {
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
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
	}
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

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
