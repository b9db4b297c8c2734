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

// Names are the metrics jobwatch writes and their units.
var Names = map[string]Unit{
	JobsSubmitted: Count, JobsWaiting: Count, JobsEnded: Count, JobDurationSeconds: Seconds,
	DetectionLagSeconds: Seconds, AdminAPICalls: Count, AdminAPIThrottled: Count,
	Notifications: Count, NotificationsFailed: Count, Backoffs: Count,
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
// recorded under it.
type record struct {
	dims   Dims
	values map[string][]float64
	units  map[string]Unit
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
	unit, ok := Names[name]
	if !ok {
		unit = Count
	}
	key := dimsKey(dims)
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.records[key]
	if !ok {
		rec = &record{dims: maps.Clone(dims), values: map[string][]float64{}, units: map[string]Unit{}}
		r.records[key] = rec
		r.order = append(r.order, key)
	}
	rec.values[name] = append(rec.values[name], value)
	rec.units[name] = unit
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

// Flush writes what was recorded since the last Flush, one line per set of
// dimension values (at most 100 values of a metric a line), and forgets
// it. Call it at the end of each invocation.
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
		for _, line := range records[key].lines(r.namespace, r.now()) {
			b, err := json.Marshal(line)
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

// lines renders a record as EMF documents, splitting metrics with more
// than maxValues values over several.
func (rec *record) lines(namespace string, at time.Time) []map[string]any {
	var docs []map[string]any
	for part := 0; ; part++ {
		doc := map[string]any{}
		var defs []map[string]string
		for _, name := range slices.Sorted(maps.Keys(rec.values)) {
			vs := rec.values[name]
			if part*maxValues >= len(vs) {
				continue
			}
			chunk := vs[part*maxValues : min(len(vs), (part+1)*maxValues)]
			defs = append(defs, map[string]string{"Name": name, "Unit": string(rec.units[name])})
			if len(chunk) == 1 {
				doc[name] = chunk[0]
			} else {
				doc[name] = chunk
			}
		}
		if len(defs) == 0 {
			return docs
		}
		dimNames := slices.Sorted(maps.Keys(rec.dims))
		for k, v := range rec.dims {
			doc[k] = v
		}
		doc["_aws"] = map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace": namespace, "Dimensions": [][]string{dimNames}, "Metrics": defs,
			}},
		}
		docs = append(docs, doc)
	}
}
