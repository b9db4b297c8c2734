package metrics

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Summary is what a run's metrics say, from the EMF documents the
// functions printed: jobs by outcome, the detection lag, and the Admin
// API's calls and throttles.
type Summary struct {
	// Ended counts JobsEnded by Status.
	Ended map[string]int
	// Lags are the DetectionLagSeconds values, sorted.
	Lags []float64
	// APICalls and APIThrottled sum AdminApiCalls and AdminApiThrottled.
	APICalls, APIThrottled int
}

// Summarize sums records into a Summary.
func Summarize(records []Record) Summary {
	s := Summary{Ended: map[string]int{}}
	for _, r := range records {
		for name, values := range r.Values {
			for _, v := range values {
				switch name {
				case JobsEnded:
					s.Ended[r.Dims["Status"]] += int(v)
				case DetectionLagSeconds:
					s.Lags = append(s.Lags, v)
				case AdminAPICalls:
					s.APICalls += int(v)
				case AdminAPIThrottled:
					s.APIThrottled += int(v)
				}
			}
		}
	}
	slices.Sort(s.Lags)
	return s
}

// LagPercentile is the q-th (0 < q ≤ 1) nearest-rank percentile of the
// detection lags; 0 without any.
func (s Summary) LagPercentile(q float64) float64 {
	if len(s.Lags) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(s.Lags)))) - 1
	return s.Lags[min(max(i, 0), len(s.Lags)-1)]
}

// Lines tells the summary in three lines.
func (s Summary) Lines() []string {
	var ended []string
	for _, st := range slices.Sorted(maps.Keys(s.Ended)) {
		ended = append(ended, fmt.Sprintf("%d %s", s.Ended[st], st))
	}
	return []string{
		"jobs ended: " + strings.Join(ended, ", "),
		fmt.Sprintf("detection lag: p50 %.1fs, p95 %.1fs (%d jobs)", s.LagPercentile(0.5), s.LagPercentile(0.95), len(s.Lags)),
		fmt.Sprintf("Admin API: %d calls, %d throttled", s.APICalls, s.APIThrottled),
	}
}
