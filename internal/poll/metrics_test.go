package poll

import (
	"fmt"
	"testing"
	"time"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
	"github.com/jobwatch/jobwatch/internal/dev/testenv"
	"github.com/jobwatch/jobwatch/internal/metrics"
)

// TestMetrics runs poll as main wires it, its recorder writing to a
// buffer for stdout, on a batch whose lookups the Admin API throttles,
// and decodes the EMF lines it printed: every Admin API attempt counted by
// operation, the throttled ones too, and the backoff by function and
// reason, each a number in Count with its dimensions, in the namespace
// METRICS_NAMESPACE names.
func TestMetrics(t *testing.T) {
	s := newStack(t, 2, 30*time.Minute, 30, emulator.Faults{})
	s.send(1, s.startJob("dev0"), s.startJob("dev1"))
	if err := s.emu.SetFaults(emulator.Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	var stdout testenv.Buffer
	p := s.poller(func(c *Config) { c.Metrics = metrics.New(&stdout, "jobwatch-test") })
	msgs := s.receive(s.jobs, 10)
	for len(msgs) < 2 {
		msgs = append(msgs, s.receive(s.jobs, 10)...)
	}
	s.invoke(s.ctx, p, msgs)
	records, err := metrics.ParseEMF([]byte(stdout.String()))
	if err != nil {
		t.Fatalf("poll printed invalid EMF: %v\n%s", err, stdout.String())
	}
	for _, r := range records {
		for name := range r.Values {
			if r.Namespace != "jobwatch-test" || r.Units[name] != metrics.Count {
				t.Errorf("%s: namespace %q, unit %q; want jobwatch-test, Count", name, r.Namespace, r.Units[name])
			}
		}
	}
	got := metrics.Totals(records)
	want := map[string]float64{
		"AdminApiCalls Operation=GetBackendJob": 6, "AdminApiThrottled Operation=GetBackendJob": 6,
		"Backoffs Function=poll,Reason=Throttled": 2,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics printed:\n %v\nwant\n %v", got, want)
	}
}
