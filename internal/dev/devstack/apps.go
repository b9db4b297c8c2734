package devstack

import "github.com/jobwatch/jobwatch/internal/dev/emulator"

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
