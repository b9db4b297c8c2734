// Package samtemplate reads jobwatch's SAM template (template.yaml) into a
// model of the application — functions with their event sources, queues,
// buses, tables, topics, alarms — and resolves the template's intrinsic
// functions against the facts of a deployment, so that `jobwatch local` can
// recreate the resources and run the functions from the one description.
//
// Load decodes the template with yaml.v3 into its JSON form, the short-form
// tags (!Ref, !GetAtt, !Sub, ...) turned into their long forms, and reads the
// properties the model needs; a misspelt property of a modelled resource is
// an error rather than a silent default. Values that may hold intrinsic
// functions are kept as Expr, unresolved; a Resolver turns them into strings
// given Facts.
package samtemplate
