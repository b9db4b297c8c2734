package devstack

import (
	"bytes"
	"io"
	"sync"
)

// prefixLogs writes the output of every function to one writer, each
// line prefixed with the function's logical id ("PollFunction | {…}"), as
// a developer reads several functions' logs in one terminal. Writes come
// in whole lines (lambdasim hands them over that way).
type prefixLogs struct {
	mu sync.Mutex
	w  io.Writer
}

func newPrefixLogs(w io.Writer) *prefixLogs {
	if w == nil {
		w = io.Discard
	}
	return &prefixLogs{w: w}
}

// LogPrefix is what precedes each line of a function's output.
func LogPrefix(function string) string { return function + " | " }

// For returns the writer for one function's output.
func (p *prefixLogs) For(function string) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		prefix := []byte(LogPrefix(function))
		var out bytes.Buffer
		for line := range bytes.Lines(b) {
			out.Write(prefix)
			out.Write(line)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		_, err := p.w.Write(out.Bytes())
		return len(b), err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
