// Package metrics writes the functions' metrics to their log in CloudWatch
// Embedded Metric Format (EMF): CloudWatch Logs extracts them into
// CloudWatch metrics, with no API call and no agent. A Recorder collects
// values during an invocation and Flush writes one JSON line per set of
// dimension values.
package metrics

import (
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units jobwatch's metrics use.
const (
	Count        Unit = "Count"
	Seconds      Unit = "Seconds"
	Milliseconds Unit = "Milliseconds"
)

// The metrics jobwatch writes, by name; Names lists them with their units.
const (
	JobsSubmitted       = "JobsSubmitted"       // a job started for a request (Operation)
	JobsWaiting         = "JobsWaiting"         // requests waiting in their environment's line, as a line changes
	JobsEnded           = "JobsEnded"           // a status change announced (Operation, Status)
	JobDurationSeconds  = "JobDurationSeconds"  // how long an ended job ran (Operation, Status)
	DetectionLagSeconds = "DetectionLagSeconds" // from a job's end to its status change (Operation)
	AdminAPICalls       = "AdminApiCalls"       // Admin API requests sent, retries included (Operation)
	AdminAPIThrottled   = "AdminApiThrottled"   // of those, answered 429 (Operation)
	Notifications       = "Notifications"       // status changes delivered to a sink (Sink)
	NotificationsFailed = "NotificationsFailed" // deliveries that failed and will be retried (Sink)
	Backoffs            = "Backoffs"            // work put off for a transient failure, to be retried (Function, Reason)
)

// Metric says how a metric is written: its unit, and the dimension sets
// it is rolled up to besides its own full set and none at all (which
// alarms use).
type Metric struct {
	Unit    Unit
	Rollups [][]string
}

// Names are the metrics jobwatch writes.
var Names = map[string]Metric{
	JobsSubmitted:       {Unit: Count},
	JobsWaiting:         {Unit: Count},
	JobsEnded:           {Unit: Count, Rollups: [][]string{{"Status"}}},
	JobDurationSeconds:  {Unit: Seconds},
	DetectionLagSeconds: {Unit: Seconds},
	AdminAPICalls:       {Unit: Count},
	AdminAPIThrottled:   {Unit: Count},
	Notifications:       {Unit: Count},
	NotificationsFailed: {Unit: Count},
	Backoffs:            {Unit: Count},
}

// DefaultNamespace is the CloudWatch namespace unless METRICS_NAMESPACE
// names another.
const DefaultNamespace = "jobwatch"

// Dims are a metric's dimensions: name to value.
type Dims map[string]string

// maxValues is how many values EMF takes for one metric in one record.
const maxValues = 100

// Recorder collects metric values and writes them as EMF lines. It is
// safe for concurrent use; the zero value (and nil) records nothing.
type Recorder struct {
	w         io.Writer
	namespace string
	now       func() time.Time

	mu      sync.Mutex
	records map[string]*record // by dimension set and values
	order   []string
}

// record is one EMF line: a set of dimension values and the metrics
// recorded under it (one metric each: the set's rollups follow from it).
type record struct {
	dims   Dims
	name   string
	values []float64
}

// New returns a Recorder writing to w (the function's stdout) in
// namespace.
func New(w io.Writer, namespace string) *Recorder {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Recorder{w: w, namespace: namespace, now: time.Now, records: map[string]*record{}}
}

// Add records one value of a metric under dims.
func (r *Recorder) Add(name string, value float64, dims Dims) {
	if r == nil || r.w == nil {
		return
	}
	key := name + "\x00" + dimsKey(dims)
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	if !ok {
		rec = &record{dims: maps.Clone(dims), name: name}
		r.records[key] = rec
		r.order = append(r.order, key)
	}
	rec.values = append(rec.values, value)
}

// Count records one occurrence of a counting metric under dims.
func (r *Recorder) Count(name string, dims Dims) { r.Add(name, 1, dims) }

func dimsKey(d Dims) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(d)) {
		b.WriteString(k + "=" + d[k] + "\x00")
	}
	return b.String()
}

// Flush writes what was recorded since the last Flush, one line per
// metric and set of dimension values (at most 100 values a line), and
// forgets it. Call it at the end of each invocation.
func (r *Recorder) Flush() error {
	if r == nil || r.w == nil {
		return nil
	}
	r.mu.Lock()
	records, order := r.records, r.order
	r.records, r.order = map[string]*record{}, nil
	r.mu.Unlock()
	var out []byte
	for _, key := range order {
		rec := records[key]
		for start := 0; start < len(rec.values); start += maxValues {
			b, err := json.Marshal(rec.doc(r.namespace, r.now(), rec.values[start:min(len(rec.values), start+maxValues)]))
			if err != nil {
				return err
			}
			out = append(append(out, b...), '\n')
		}
	}
	if len(out) == 0 {
		return nil
	}
	_, err := r.w.Write(out) // one write: the lines stay whole among other output
	return err
}

// doc renders values of a record as an EMF document: the metric under its
// full set of dimensions, its rollups and none.
func (rec *record) doc(namespace string, at time.Time, values []float64) map[string]any {
	m, ok := Names[rec.name]
	if !ok {
		m = Metric{Unit: Count}
	}
	sets := [][]string{slices.Sorted(maps.Keys(rec.dims))}
	for _, rollup := range m.Rollups {
		if hasAll(rec.dims, rollup) {
			sets = append(sets, rollup)
		}
	}
	if len(rec.dims) > 0 {
		sets = append(sets, []string{})
	}
	doc := map[string]any{}
	for k, v := range rec.dims {
		doc[k] = v
	}
	if len(values) == 1 {
		doc[rec.name] = values[0]
	} else {
		doc[rec.name] = values
	}
	doc["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": namespace, "Dimensions": sets, "Metrics": []map[string]string{{"Name": rec.name, "Unit": string(m.Unit)}},
		}},
	}
	return doc
}

func hasAll(d Dims, names []string) bool {
	for _, n := range names {
		if _, ok := d[n]; !ok {
			return false
		}
	}
	return len(names) < len(d)
}

// AdminAPIAttempt records one Admin API request, of operation, in
// AdminApiCalls, and in AdminApiThrottled too when the service throttled
// it: the observer amplify.ObserveAttempts takes.
func (r *Recorder) AdminAPIAttempt(operation string, throttled bool) {
	dims := Dims{"Operation": operation}
	r.Count(AdminAPICalls, dims)
	if throttled {
		r.Count(AdminAPIThrottled, dims)
	}
}
