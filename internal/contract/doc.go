// Package contract holds the messages that pass between jobwatch's parts,
// as DESIGN.md describes them: the job request submit accepts, the tracking
// message poll consumes, the wake-up for a waiting line, and the
// status-change event notify publishes. Each is versioned JSON; decoders
// name the field that is wrong.
package contract
