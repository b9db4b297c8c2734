package slacktest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// webhookPrefix is the path of a stand-in webhook before its token.
const webhookPrefix = "/services/T0LOCAL00/B0LOCAL00/"

// WebhookURL makes a webhook URL for a stand-in on addr (host:port), with
// a random token: what Listen serves later, in this process or another.
func WebhookURL(addr string) string { return "http://" + addr + webhookPrefix + token() }

// Listen starts a stand-in serving the webhook URL made by WebhookURL, so
// that a stack set up earlier (its URL stored where notify reads it)
// posts to it.
func Listen(webhook string) (*Server, error) {
	u, err := url.Parse(webhook)
	if err != nil || u.Scheme != "http" || !strings.HasPrefix(u.Path, webhookPrefix) {
		return nil, fmt.Errorf("not a stand-in webhook URL (http://HOST:PORT%s…)", webhookPrefix)
	}
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("Slack stand-in: %w", err)
	}
	s := &Server{path: u.Path, changed: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	return s, nil
}
