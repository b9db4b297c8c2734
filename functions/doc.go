// Package functions holds the Lambda functions of jobwatch, one main
// package each (submit, poll, notify, sweep), which only wire: read the
// settings, build the clients, hand them to the product package's handler
// and start it. What they import is what is deployed; the layout test
// keeps development tooling (internal/dev) out of it.
package functions
