package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/jobwatch/jobwatch/internal/contract"
	"github.com/jobwatch/jobwatch/internal/dev/devstack"
	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
)

// injector stands in front of the Admin API and produces the faults of
// the world, not the ones the code expects: an answer lost after the job
// started (the service answered 200 with a jobId; the caller gets a 504),
// and an outage (every call answered 503) from outageAt for outageFor. It
// knows nothing of jobwatch.
type injector struct {
	target    *url.URL
	lostRate  float64
	outageAt  time.Time
	outageFor time.Duration

	mu   sync.Mutex
	rnd  *rand.Rand
	lost int
	down int
}

func (in *injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if now := time.Now(); !now.Before(in.outageAt) && now.Before(in.outageAt.Add(in.outageFor)) {
		in.count(&in.down)
		w.Header().Set("X-Amzn-ErrorType", "ServiceUnavailableException")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"message":"Service Unavailable"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, in.target.String()+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if r.Method == http.MethodPost && resp.StatusCode == http.StatusOK && bytes.Contains(answer, []byte(`"jobId"`)) && in.draw() < in.lostRate {
		in.count(&in.lost)
		w.Header().Set("X-Amzn-ErrorType", "GatewayTimeoutException")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = io.WriteString(w, `{"message":"Endpoint request timed out"}`)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (in *injector) draw() float64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rnd.Float64()
}

func (in *injector) count(n *int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	*n++
}

// TestFaultsThroughLocalStack runs the faults of issue 12 through the
// interfaces a user has — jobwatch local up with servers of its own
// (--moto, --emulator pointing at an injector in front of the Admin API),
// jobwatch local start, job requests on the bus — and checks what matters:
// every request ends once, COMPLETED, with exactly one job at the Admin
// API, and every dead-letter and on-failure queue is empty. A fifth of the
// job-starting answers are lost after the job started, and the Admin API is
// down for 75 s, 15 times the local visibility timeout.
func TestFaultsThroughLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	const requests = 40
	envs := make([]string, requests)
	for i := range envs {
		envs[i] = devstack.EnvName("ft", i, 3)
	}
	emu, err := emulator.Start(emulator.Config{Seed: 3, JobDurations: emulator.FixedDurations(3*time.Second, nil),
		State: &emulator.State{Apps: []emulator.StateApp{{AppId: appID, AppName: "faults", Environments: envs}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	target, _ := url.Parse(emu.URL)
	in := &injector{target: target, lostRate: 0.2, outageAt: time.Now().Add(time.Hour), outageFor: 75 * time.Second, rnd: rand.New(rand.NewPCG(5, 6))}
	proxy := httptest.NewServer(in)
	t.Cleanup(proxy.Close)

	bin := testenv.BuildCLI(t, "..")
	state := filepath.Join(t.TempDir(), "local.json")
	jobwatch := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("jobwatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	jobwatch("local", "up", "--template", "../template.yaml", "--state", state, "--stack-name", testenv.Name(t, "faults"),
		"--moto", testenv.Moto(t), "--emulator", proxy.URL, "--param", "AllowedAppIds="+appID)
	t.Cleanup(func() { jobwatch("local", "down", "--state", state) })
	start := exec.Command(bin, "local", "start", "--state", state)
	lines := testenv.Lines(t, start)
	testenv.WaitLines(t, lines, 10*time.Minute, "is running")

	st, err := devstack.LoadState(state)
	if err != nil {
		t.Fatal(err)
	}
	in.mu.Lock()
	in.outageAt = time.Now().Add(10 * time.Second)
	in.mu.Unlock()
	putRequests(t, st, envs)

	var want []string
	for i := range envs {
		want = append(want, fmt.Sprintf("COMPLETED CloneBackend %s/%s job", appID, envs[i]))
	}
	seen := testenv.WaitLines(t, lines, 8*time.Minute, want...)
	time.Sleep(10 * time.Second) // a late second announcement would show now
	seen = append(seen, drain(lines)...)
	checkOnceEach(t, seen, envs)
	checkOneJobEach(t, emu, envs)
	checkNoDeadLetters(t, st)
	t.Logf("injected: %d answers lost after the job started, %d calls answered 503 in the outage", in.lost, in.down)
	if in.lost == 0 || in.down == 0 {
		t.Errorf("the injector lost %d answers and refused %d calls; want both faults to have happened", in.lost, in.down)
	}
}

// putRequests puts one clone request per environment on the stack's bus.
func putRequests(t *testing.T, st *devstack.State, envs []string) {
	t.Helper()
	eb := eventbridge.NewFromConfig(st.AWS())
	for i := 0; i < len(envs); i += 10 {
		var entries []ebtypes.PutEventsRequestEntry
		for j := i; j < min(i+10, len(envs)); j++ {
			detail := fmt.Sprintf(`{"operation":"CloneBackend","input":{"AppId":%q,"BackendEnvironmentName":%q,"TargetEnvironmentName":%q},"requestId":"faults-%d"}`,
				appID, envs[j], devstack.EnvName("cp", j, 3), j)
			entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(st.Stack.Buses["EventBus"].Name),
				Source: aws.String("e2e.faults"), DetailType: aws.String(contract.DetailTypeJobRequested), Detail: aws.String(detail)})
		}
		out, err := eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("put job requests: %v %+v", err, out)
		}
	}
}

// drain returns the lines already written.
func drain(lines <-chan string) []string {
	var out []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return out
			}
			out = append(out, l)
		default:
			return out
		}
	}
}

var eventLine = regexp.MustCompile(`^event \| Amplify Backend Job Status Change: (\S+) \S+ ` + appID + `/(\S+) job (\S+) request (\S+)`)

// checkOnceEach checks each environment's request got exactly one status
// change, COMPLETED.
func checkOnceEach(t *testing.T, seen []string, envs []string) {
	t.Helper()
	got := map[string][]string{}
	for _, l := range seen {
		if m := eventLine.FindStringSubmatch(l); m != nil {
			got[m[2]] = append(got[m[2]], m[1]+" "+m[3]+" "+m[4])
		}
	}
	for i, env := range envs {
		if evs := got[env]; len(evs) != 1 || !strings.HasPrefix(evs[0], "COMPLETED ") || !strings.HasSuffix(evs[0], fmt.Sprintf(" faults-%d", i)) {
			t.Errorf("%s: status changes %q; want one COMPLETED for request faults-%d", env, evs, i)
		}
	}
}

// checkOneJobEach checks the Admin API started exactly one job per request.
func checkOneJobEach(t *testing.T, emu *emulator.Server, envs []string) {
	t.Helper()
	for _, env := range envs {
		jobs, _ := emu.Jobs().List(appID, env, emulator.JobFilter{}, 0, 100)
		if len(jobs) != 1 {
			t.Errorf("%s: the Admin API started %d jobs; want exactly one", env, len(jobs))
		}
	}
}

// checkNoDeadLetters checks every queue no function consumes is empty.
func checkNoDeadLetters(t *testing.T, st *devstack.State) {
	t.Helper()
	counts, samples, err := st.DeadLetters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range counts {
		if n != 0 {
			t.Errorf("%s holds %d messages (first: %s)", id, n, samples[id])
		}
	}
}
