package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Record is one EMF document as CloudWatch reads it.
type Record struct {
	Timestamp int64
	Namespace string
	// Dims are the values of every dimension the sets name, and
	// DimensionSets the sets the metrics are written under.
	Dims          Dims
	DimensionSets [][]string
	Values        map[string][]float64
	Units         map[string]Unit
}

// units are the units CloudWatch accepts.
var units = map[Unit]bool{}

func init() {
	for _, u := range []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
		"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
		"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
		"Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"} {
		units[Unit(u)] = true
	}
}

// ParseEMF reads EMF documents, one a line, and checks each against the
// format: an _aws block with a Timestamp and CloudWatchMetrics directives
// naming a namespace, dimension sets whose every dimension is a string
// member, and metrics whose every one is a member holding a number or an
// array of numbers, with a CloudWatch unit.
func ParseEMF(data []byte) ([]Record, error) {
	var out []Record
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		rec, err := parseLine(line)
		if err != nil {
			return out, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, rec...)
	}
	return out, nil
}

// ScanEMF reads the EMF documents among a function's log lines (lines
// that hold an "_aws" member, after any prefix up to the first "{"),
// returning them and the problems of those that are not valid EMF.
func ScanEMF(r io.Reader) ([]Record, []error) {
	var out []Record
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		if i := bytes.IndexByte(line, '{'); i > 0 {
			line = line[i:]
		}
		rec, err := parseLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		out = append(out, rec...)
	}
	return out, errs
}

func parseLine(line []byte) ([]Record, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(line, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit Unit   `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if raw, ok := doc["_aws"]; !ok {
		return nil, errors.New("no _aws member")
	} else if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil || len(meta.CloudWatchMetrics) == 0 {
		return nil, errors.New("_aws needs a Timestamp and CloudWatchMetrics")
	}
	var out []Record
	for _, d := range meta.CloudWatchMetrics {
		rec := Record{Timestamp: *meta.Timestamp, Namespace: d.Namespace, Dims: Dims{}, DimensionSets: d.Dimensions,
			Values: map[string][]float64{}, Units: map[string]Unit{}}
		if d.Namespace == "" || len(d.Metrics) == 0 || len(d.Dimensions) == 0 {
			return nil, errors.New("a CloudWatchMetrics directive needs a Namespace, Dimensions and Metrics")
		}
		for _, set := range d.Dimensions {
			for _, name := range set {
				var v string
				if err := json.Unmarshal(doc[name], &v); err != nil {
					return nil, fmt.Errorf("dimension %s: not a string member", name)
				}
				rec.Dims[name] = v
			}
		}
		for _, m := range d.Metrics {
			vs, err := numbers(doc[m.Name])
			if err != nil {
				return nil, fmt.Errorf("metric %s: %w", m.Name, err)
			}
			if !units[m.Unit] {
				return nil, fmt.Errorf("metric %s: unit %q is not a CloudWatch unit", m.Name, m.Unit)
			}
			rec.Values[m.Name], rec.Units[m.Name] = vs, m.Unit
		}
		out = append(out, rec)
	}
	return out, nil
}

// numbers reads a metric member: a number, or an array of at most 100.
func numbers(raw json.RawMessage) ([]float64, error) {
	var one float64
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, errors.New("want a number, got null")
	}
	if err := json.Unmarshal(raw, &one); err == nil && raw != nil {
		return []float64{one}, nil
	}
	var many []float64
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 || len(many) > maxValues {
		return nil, errors.New("want a number or an array of 1 to 100 numbers")
	}
	return many, nil
}

// Totals sums the values of records by metric and dimension values, under
// keys such as "JobsEnded Operation=CloneBackend,Status=COMPLETED": the
// metric's name and its own (first) dimension set, names in the set's
// order. A summary of what a function printed, for tests and tools.
func Totals(records []Record) map[string]float64 {
	out := map[string]float64{}
	for _, r := range records {
		var dims []string
		if len(r.DimensionSets) > 0 {
			for _, d := range r.DimensionSets[0] {
				dims = append(dims, d+"="+r.Dims[d])
			}
		}
		for name, values := range r.Values {
			for _, v := range values {
				out[name+" "+strings.Join(dims, ",")] += v
			}
		}
	}
	return out
}
