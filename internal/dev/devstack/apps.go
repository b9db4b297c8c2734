package devstack

import (
	"slices"

	"github.com/jobwatch/jobwatch/internal/dev/emulator"
)

// AppID is the Amplify app the local emulator knows: the one the sample
// events in events/ and the demo act on.
const AppID = "d1abc23"

// DefaultApps is the local emulator's state: the app with the backend
// environments the sample events use, and the GraphQL APIs that
// UpdateBackendAPI and GenerateBackendAPIModels samples need.
const DefaultApps = `{"apps":[{"appId":"d1abc23","appName":"demo",
  "environments":["dev","staging","prod","qa","auth","api","models"],
  "apis":{"api":["main"],"models":["main"]}}]}`

// DefaultState parses DefaultApps.
func DefaultState() *emulator.State {
	s, err := emulator.ParseState([]byte(DefaultApps))
	if err != nil {
		panic("devstack.DefaultApps: " + err.Error()) // a constant: caught by tests
	}
	return s
}

// EnvName names the i-th (from 0) of many backend environments as Amplify
// allows them (2 to 10 lowercase letters): prefix and i written in letters,
// at least width of them (prefix "sk", width 3: skaaa, skaab, …).
func EnvName(prefix string, i, width int) string {
	var b []byte
	for ; i > 0 || len(b) < width; i /= 26 {
		b = append(b, byte('a'+i%26))
	}
	slices.Reverse(b)
	return prefix + string(b)
}
