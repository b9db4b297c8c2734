package metrics_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/jobwatch/jobwatch/internal/metrics"
)

// TestAdminAPIAttempt checks the observer amplify.ObserveAttempts takes,
// read back with Totals: every attempt is a call, a throttled one a
// throttle too, by operation.
func TestAdminAPIAttempt(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, "")
	r.AdminAPIAttempt("GetBackendJob", true)
	r.AdminAPIAttempt("GetBackendJob", false)
	r.AdminAPIAttempt("ListBackendJobs", false)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	docs, err := metrics.ParseEMF(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"AdminApiCalls Operation=GetBackendJob": 2, "AdminApiThrottled Operation=GetBackendJob": 1,
		"AdminApiCalls Operation=ListBackendJobs": 1}
	if got := metrics.Totals(docs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("totals %v, want %v", got, want)
	}
}
