package emulator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is an Emulator listening on a local address, for tests and
// tools that run it in process.
type Server struct {
	*Emulator
	// URL is the base URL to give clients, e.g. http://127.0.0.1:43121.
	URL string

	http *http.Server
}

// Start listens on cfg.Addr (default 127.0.0.1:0) and serves an emulator
// for cfg until Close.
func Start(cfg Config) (*Server, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	s := &Server{Emulator: e, URL: "http://" + ln.Addr().String(),
		http: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.http.Serve(ln) }() // Serve returns ErrServerClosed on Close
	return s, nil
}

// Close stops the server at once, dropping requests in flight.
func (s *Server) Close() error { return s.http.Close() }

// Shutdown stops the server once the requests in flight are answered, or
// when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }
