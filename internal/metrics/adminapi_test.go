package metrics_test

import (
	"bytes"
	"testing"

	"github.com/jobwatch/jobwatch/internal/metrics"
)

// TestAdminAPIAttempt checks the observer amplify.ObserveAttempts takes:
// every attempt is a call, a throttled one a throttle too, by operation.
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
	got := map[string]float64{}
	for _, d := range docs {
		for name, vs := range d.Values {
			for _, v := range vs {
				got[name+" "+d.Dims["Operation"]] += v
			}
		}
	}
	want := map[string]float64{"AdminApiCalls GetBackendJob": 2, "AdminApiThrottled GetBackendJob": 1, "AdminApiCalls ListBackendJobs": 1}
	if len(got) != len(want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
