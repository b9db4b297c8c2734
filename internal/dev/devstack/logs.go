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
type prefixLogs struct{ w io.Writer }

func newPrefixLogs(w io.Writer) *prefixLogs {
	if w == nil {
		return &prefixLogs{w: io.Discard}
	}
	return &prefixLogs{w: Locked(w)}
}

// LogPrefix is what precedes each line of a function's output.
func LogPrefix(function string) string { return function + " | " }

// For returns the writer for one function's output.
func (p *prefixLogs) For(function string) io.Writer {
	prefix := []byte(LogPrefix(function))
	return writerFunc(func(b []byte) (int, error) {
		var out bytes.Buffer
		for line := range bytes.Lines(b) {
			out.Write(prefix)
			out.Write(line)
		}
		_, err := p.w.Write(out.Bytes())
		return len(b), err
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// lockedWriter serialises the writes of several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Locked returns w with its writes serialised, for output that several
// goroutines share (the functions' logs and the observers' lines).
func Locked(w io.Writer) io.Writer {
	if l, ok := w.(*lockedWriter); ok {
		return l
	}
	return &lockedWriter{w: w}
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
