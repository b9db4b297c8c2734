package devstack

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// motoMain runs moto server with its DynamoDB requests one at a time and
// two pure functions memoised. moto serves requests on threads and its
// DynamoDB backend takes no lock: two conditional writes of one item can
// both pass their condition, which DynamoDB never allows (jobwatch's
// optimistic concurrency rests on it), so DynamoDB's requests are
// serialized (SQS long polls are not held up). moto
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
try:
    import threading
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication as _app
    _lock, _call = threading.Lock(), _app.__call__
    def _serialized(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _lock:
                return list(_call(self, environ, start_response))
        return _call(self, environ, start_response)
    _app.__call__ = _serialized
except Exception:
    pass
from moto.server import main
main(sys.argv[1:])
`

// StartMoto starts moto server (python3 with moto, patched as motoMain
// says) on a port the kernel picks and waits until it answers. Detached
// servers outlive this process (for `jobwatch local up`); others die with
// it. The log goes to logPath (a temporary file when empty).
func StartMoto(logPath string, detached bool) (*Server, error) {
	if _, err := exec.LookPath("python3"); err != nil {
		return nil, fmt.Errorf("moto server needs python3: %w", err)
	}
	cmd := exec.Command("python3", "-c", motoMain, "-H", "127.0.0.1", "-p", "0")
	return StartServer(cmd, motoAnnounce, logPath, detached, MotoAlive,
		"moto server (python3 -m moto.server; install it with pip install 'moto[server]')")
}

// motoAnnounce is the line in which moto (werkzeug) tells its address.
var motoAnnounce = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

// StartServer starts a server command that binds a port of its choosing
// and announces its endpoint in its output (the first group of announce),
// then waits until alive says it answers there; what names it in errors.
// Letting the server bind the port itself leaves no window in which
// another process may take it. The output goes to logPath (a temporary
// file when empty), which a detached server keeps writing after this
// process ends.
func StartServer(cmd *exec.Cmd, announce *regexp.Regexp, logPath string, detached bool, alive func(string) bool, what string) (*Server, error) {
	log, err := createLog(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if detached {
		detach(cmd)
	} else {
		dieWithParent(cmd)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	s := &Server{PID: cmd.Process.Pid, cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("%s exited at start: %w (log: %s)", what, err, log.Name())
		default:
		}
		if s.Endpoint == "" {
			b, _ := os.ReadFile(log.Name())
			if m := announce.FindSubmatch(b); m != nil {
				s.Endpoint = string(m[1])
			}
		}
		if s.Endpoint != "" && alive(s.Endpoint) {
			return s, nil
		}
	}
	s.Stop()
	return nil, fmt.Errorf("%s did not answer within 30s (log: %s)", what, log.Name())
}

// createLog creates a server's log file, or a temporary one.
func createLog(path string) (*os.File, error) {
	if path == "" {
		return os.CreateTemp("", "jobwatch-server-*.log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.Create(path)
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
