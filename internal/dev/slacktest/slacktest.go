// Package slacktest is a stand-in for Slack's incoming webhooks, for tests
// and local runs: an HTTP server on 127.0.0.1 that checks and records the
// Block Kit messages posted to it, answers like Slack ("ok", or an error
// code), and can be told to rate-limit (429 with Retry-After) or refuse.
package slacktest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/jobwatch/jobwatch/internal/notify/blockkit"
)

// Post is one request to the webhook and the stand-in's answer.
type Post struct {
	// Received is when the request arrived.
	Received time.Time
	// Body is the request body as sent.
	Body []byte
	// Message is the body decoded; zero when it did not decode.
	Message blockkit.Message
	// Status and Answer are the HTTP status and body of the reply: 200
	// "ok", or Slack's error code.
	Status int
	Answer string
}

// Accepted reports whether the stand-in took the message, as Slack would
// have shown it in the channel.
func (p Post) Accepted() bool { return p.Status == http.StatusOK }

// Server is the stand-in. Its zero value is not usable; call NewServer.
type Server struct {
	srv  *httptest.Server
	path string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each post
	posts   []Post
	plan    []answer
	closed  bool
}

// answer is a planned reply.
type answer struct {
	status     int
	code       string
	retryAfter string
}

// NewServer starts a stand-in on a free loopback port. Its webhook URL
// (URL) has a random token, like Slack's; posts to any other path get
// 404 no_service.
func NewServer() *Server {
	s := &Server{path: "/services/T0LOCAL00/B0LOCAL00/" + token(), changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func token() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// URL is the webhook URL to post to: http://127.0.0.1:<port>/services/….
// Notify accepts it only with SLACK_WEBHOOK_ALLOW_INSECURE_LOCAL=true.
func (s *Server) URL() string { return s.srv.URL + s.path }

// Token is the secret part of URL, for tests that check it leaks nowhere.
func (s *Server) Token() string { return s.path[len("/services/T0LOCAL00/B0LOCAL00/"):] }

// Close stops the server and ends every Watch.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.changed)
	}
}

// RateLimit makes the next n posts answer 429 with Retry-After: retryAfter
// (whole seconds, as Slack sends it).
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.queue(n, answer{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: strconv.Itoa(int(retryAfter.Round(time.Second) / time.Second))})
}

// Fail makes the next n posts answer status with Slack's error code, e.g.
// Fail(1, 404, "no_service") or Fail(1, 410, "channel_is_archived").
func (s *Server) Fail(n, status int, code string) {
	s.queue(n, answer{status: status, code: code})
}

func (s *Server) queue(n int, a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.plan = append(s.plan, a)
	}
}

// Posts returns every post so far, in order, with the answers given.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// Messages returns the messages accepted so far, in order: what the
// channel would show.
func (s *Server) Messages() []blockkit.Message {
	var out []blockkit.Message
	for _, p := range s.Posts() {
		if p.Accepted() {
			out = append(out, p.Message)
		}
	}
	return out
}

// Watch streams every post, those before the call first, until ctx ends
// or the server closes; then the channel closes.
func (s *Server) Watch(ctx context.Context) <-chan Post {
	ch := make(chan Post)
	go func() {
		defer close(ch)
		next := 0
		for {
			s.mu.Lock()
			posts := append([]Post(nil), s.posts[next:]...)
			changed, closed := s.changed, s.closed
			s.mu.Unlock()
			for _, p := range posts {
				select {
				case ch <- p:
					next++
				case <-ctx.Done():
					return
				}
			}
			if len(posts) > 0 {
				continue
			}
			if closed {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// WaitFor waits until n messages were accepted, or ctx ends.
func (s *Server) WaitFor(ctx context.Context, n int) ([]blockkit.Message, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Messages(), fmt.Errorf("%d of %d Slack messages arrived: %w", len(s.Messages()), n, ctx.Err())
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := Post{Received: time.Now()}
	p.Body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
	p.Status, p.Answer = s.check(r, &p)
	if p.Status == http.StatusOK {
		s.mu.Lock()
		if len(s.plan) > 0 {
			a := s.plan[0]
			s.plan = s.plan[1:]
			p.Status, p.Answer = a.status, a.code
			if a.retryAfter != "" {
				w.Header().Set("Retry-After", a.retryAfter)
			}
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.posts = append(s.posts, p)
	if !s.closed {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(p.Status)
	_, _ = io.WriteString(w, p.Answer)
}

// check answers as Slack would for the request alone.
func (s *Server) check(r *http.Request, p *Post) (int, string) {
	if r.URL.Path != s.path {
		return http.StatusNotFound, "no_service"
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "invalid_method"
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return http.StatusBadRequest, "invalid_payload"
	}
	if err := json.Unmarshal(p.Body, &p.Message); err != nil {
		return http.StatusBadRequest, "invalid_payload"
	}
	if p.Message.Text == "" && len(p.Message.Blocks) == 0 {
		return http.StatusBadRequest, "no_text"
	}
	if err := CheckBlocks(p.Body); err != nil {
		return http.StatusBadRequest, "invalid_blocks"
	}
	return http.StatusOK, "ok"
}
