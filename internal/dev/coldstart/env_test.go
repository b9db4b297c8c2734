package coldstart

import (
	"testing"

	"github.com/jobwatch/jobwatch/internal/notify"
	"github.com/jobwatch/jobwatch/internal/poll"
	"github.com/jobwatch/jobwatch/internal/settings"
	"github.com/jobwatch/jobwatch/internal/submit"
)

// Every function measured starts with the settings Functions gives it:
// its configuration reader, the one its main calls, accepts them (a
// function that exits at init has no cold start to time).
func TestFunctionsHaveTheirSettings(t *testing.T) {
	read := map[string]func(*settings.Env) error{
		"submit": func(e *settings.Env) error { _, err := submit.ReadConfig(e); return err },
		"poll":   func(e *settings.Env) error { _, err := poll.ReadConfig(e, 1); return err },
		"notify": func(e *settings.Env) error { _, err := notify.LoadConfig(e); return err },
	}
	for _, f := range Functions() {
		if f.Name == Baseline {
			continue
		}
		r, ok := read[f.Name]
		if !ok {
			t.Errorf("function %s: no configuration reader in this test", f.Name)
			continue
		}
		if err := r(settings.FromMap(environ(f))); err != nil {
			t.Errorf("function %s does not start with its settings: %v", f.Name, err)
		}
	}
}
