package devstack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Server is a local server process started for the stack.
type Server struct {
	Endpoint string `json:"endpoint"`
	// PID is set when this program started the server (and so stops it).
	PID int `json:"pid,omitempty"`
	cmd *exec.Cmd
}

// Region and Account are the local identity: what moto answers with.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// AWSConfig is an SDK configuration for the moto server at endpoint, with
// static test credentials.
func AWSConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// MotoAlive reports whether a moto server answers at endpoint.
func MotoAlive(endpoint string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(endpoint + "/moto-api/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}

// motoMain runs moto server with two pure functions memoised. moto
// delivers each event to each EventBridge target through an input template
// whose JSONPath expressions it parses again every time (jsonpath_ng builds
// a parser for each, ~15 ms: some 120 ms of moto's single core per event
// and target), and it lists its own package directory on every request.
// Unpatched, moto paces a busy local run at about one job a second; each
// patch is skipped if the moto at hand lacks what it patches.
const motoMain = `import functools, sys
try:
    import jsonpath_ng.ext
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
except Exception:
    pass
try:
    import moto.backends
    _modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: _modules
except Exception:
    pass
from moto.server import main
main(sys.argv[1:])
`

// StartMoto starts moto server (python3 with moto, patched as motoMain says) on a free loopback port (or
// port, when not 0) and waits until it answers. Detached servers outlive
// this process (for `jobwatch local up`); others die with it.
func StartMoto(port int, logPath string, detached bool) (*Server, error) {
	if _, err := exec.LookPath("python3"); err != nil {
		return nil, fmt.Errorf("moto server needs python3: %w", err)
	}
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	cmd := exec.Command("python3", "-c", motoMain, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	return StartServer(cmd, fmt.Sprintf("http://127.0.0.1:%d", port), logPath, detached, MotoAlive,
		"moto server (python3 -m moto.server; install it with pip install 'moto[server]')")
}

// StartServer starts a server command that listens on endpoint and waits
// until alive says it answers; what names it in errors.
func StartServer(cmd *exec.Cmd, endpoint, logPath string, detached bool, alive func(string) bool, what string) (*Server, error) {
	out := io.Discard
	if logPath != "" {
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		out = f
	}
	cmd.Stdout, cmd.Stderr = out, out
	if detached {
		detach(cmd)
	} else {
		dieWithParent(cmd)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	s := &Server{Endpoint: endpoint, PID: cmd.Process.Pid, cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("%s exited at start: %w (log: %s)", what, err, logPath)
		default:
		}
		if alive(endpoint) {
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("%s did not answer on %s within 30s (log: %s)", what, endpoint, logPath)
}

// Stop stops a server this program started; a server it reused is left
// alone.
func (s *Server) Stop() {
	if s == nil || s.PID == 0 {
		return
	}
	p, err := os.FindProcess(s.PID)
	if err != nil {
		return
	}
	_ = p.Signal(os.Interrupt)
	for i := 0; i < 30 && processAlive(s.PID); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if processAlive(s.PID) {
		_ = p.Kill()
	}
}
