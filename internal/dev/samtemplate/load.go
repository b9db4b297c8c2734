package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Load reads the SAM template at path.
func Load(path string) (*Application, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SAM template: %w", err)
	}
	app, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("SAM template %s: %w", path, err)
	}
	return app, nil
}

// Parse reads a SAM template, YAML or JSON; dir is the directory its CodeUri
// paths are relative to. The error names every resource that cannot be
// modelled.
func Parse(data []byte, dir string) (*Application, error) {
	doc, err := decode(data)
	if err != nil {
		return nil, err
	}
	t := newProps(doc, "")
	resources := t.sub("Resources")
	if len(resources.m) == 0 {
		return nil, errors.New("the template has no Resources")
	}
	app := &Application{
		Dir:        dir,
		Parameters: parametersOf(t.sub("Parameters")),
		Conditions: make(map[string]Expr),
		Resources:  make(map[string]string, len(resources.m)),
		Outputs:    outputsOf(t.sub("Outputs")),
	}
	for name, c := range t.sub("Conditions").m {
		app.Conditions[name] = Expr{c}
	}
	globals := t.sub("Globals").sub("Function").m
	errs := []error{t.err()}
	for _, id := range resources.names() {
		h, err := headOf(resources.m[id])
		if err != nil {
			errs = append(errs, fmt.Errorf("resource %s: %w", id, err))
			continue
		}
		app.Resources[id] = h.Type
		if err := app.add(id, h, globals); err != nil {
			errs = append(errs, fmt.Errorf("resource %s (%s): %w", id, h.Type, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := app.link(); err != nil {
		return nil, err
	}
	return app, nil
}

func parametersOf(section *props) map[string]Parameter {
	out := make(map[string]Parameter, len(section.m))
	for _, name := range section.names() {
		p := section.sub(name)
		param := Parameter{Name: name, Type: p.str("Type", false), AllowedPattern: p.str("AllowedPattern", false), Description: p.str("Description", false)}
		if v := p.m["Default"]; v != nil {
			param.Default, param.HasDefault = p.listString("Default", v), true
		}
		for _, v := range p.list("AllowedValues") {
			param.AllowedValues = append(param.AllowedValues, p.listString("AllowedValues", v))
		}
		out[name] = param
	}
	return out
}

// listString is a parameter value as CloudFormation takes it: a string, a
// number or a boolean as text, a list comma-joined.
func (p *props) listString(name string, v any) string {
	s, err := texts(v)
	if err != nil {
		p.fail(name, "is %s; want a string", Expr{v})
	}
	return strings.Join(s, ",")
}

func outputsOf(section *props) map[string]Output {
	out := make(map[string]Output, len(section.m))
	for _, name := range section.names() {
		o := section.sub(name)
		out[name] = Output{
			Name:        name,
			Value:       o.expr("Value", false),
			Description: o.str("Description", false),
			ExportName:  o.sub("Export").expr("Name", false),
		}
	}
	return out
}

// resourceHead is the part of a resource every type shares.
type resourceHead struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	Condition  string
}

// resourceAttributes are the keys of a resource, CloudFormation's and
// SAM's.
var resourceAttributes = []string{
	"Type", "Properties", "Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy",
	"CreationPolicy", "UpdatePolicy", "Connectors", "IgnoreGlobals",
}

func headOf(v any) (resourceHead, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return resourceHead{}, fmt.Errorf("is %s; want a map", Expr{v})
	}
	p := newProps(m, "")
	p.only(resourceAttributes, "a resource attribute")
	h := resourceHead{
		Type:       p.str("Type", false),
		Properties: p.sub("Properties").m,
		Metadata:   p.sub("Metadata").m,
		Condition:  p.str("Condition", false),
	}
	if err := p.err(); err != nil {
		return h, err
	}
	if h.Type == "" {
		return h, errors.New("no Type")
	}
	return h, nil
}

// link ties event sources and destinations to the template's resources by
// logical id, checks the ties hold, and orders the queues for creation.
func (a *Application) link() error {
	var errs []error
	must := func(where, id, typ string) {
		if got := a.Resources[id]; got != typ {
			if got == "" {
				got = "not in the template"
			}
			errs = append(errs, fmt.Errorf("%s names %s, which is %s; want an %s", where, id, got, typ))
		}
	}
	for _, f := range a.Functions {
		f.link(must)
	}
	depth := make(map[string]int, len(a.Queues))
	for _, q := range a.Queues {
		if q.DeadLetterQueueID != "" {
			must(q.LogicalID+" RedrivePolicy", q.DeadLetterQueueID, "AWS::SQS::Queue")
		}
		n, seen := 0, map[string]bool{q.LogicalID: true}
		for next, _ := a.Queue(q.DeadLetterQueueID); next != nil; next, _ = a.Queue(next.DeadLetterQueueID) {
			if seen[next.LogicalID] {
				errs = append(errs, fmt.Errorf("%s: the redrive policies form a cycle", q.LogicalID))
				break
			}
			seen[next.LogicalID] = true
			n++
		}
		depth[q.LogicalID] = n
	}
	sort.SliceStable(a.Queues, func(i, j int) bool {
		return depth[a.Queues[i].LogicalID] < depth[a.Queues[j].LogicalID]
	})
	return errors.Join(errs...)
}

// link ties the function's event sources and destinations to logical ids;
// must checks that id is of type typ.
func (f *Function) link(must func(where, id, typ string)) {
	for i := range f.SQSEvents {
		ev := &f.SQSEvents[i]
		if ev.QueueID = ev.Queue.Target("Arn"); ev.QueueID != "" {
			must(f.LogicalID+" event "+ev.Name+" Queue", ev.QueueID, "AWS::SQS::Queue")
		}
	}
	for i := range f.EventBridgeRules {
		r := &f.EventBridgeRules[i]
		if r.EventBusID = r.EventBus.Target(""); r.EventBusID != "" {
			must(f.LogicalID+" event "+r.Name+" EventBusName", r.EventBusID, "AWS::Events::EventBus")
		}
		if r.DeadLetterQueueID = r.DeadLetterQueue.Target("Arn"); r.DeadLetterQueueID != "" {
			must(f.LogicalID+" event "+r.Name+" DeadLetterConfig", r.DeadLetterQueueID, "AWS::SQS::Queue")
		}
	}
	if c := f.EventInvokeConfig; c != nil {
		for _, d := range []*Destination{c.OnSuccess, c.OnFailure} {
			if d != nil {
				d.DestinationID = d.Destination.Target("Arn")
			}
		}
	}
}

// mergeGlobal lays a resource's own value over its Globals value as SAM
// does: maps merge key by key, lists concatenate (globals first), and
// otherwise — intrinsic functions included — the resource's value wins.
func mergeGlobal(global, local any) any {
	if local == nil {
		return global
	}
	_, _, globalCall := intrinsic(global)
	_, _, localCall := intrinsic(local)
	if globalCall || localCall {
		return local
	}
	switch g := global.(type) {
	case map[string]any:
		l, ok := local.(map[string]any)
		if !ok {
			return local
		}
		out := make(map[string]any, len(g)+len(l))
		maps.Copy(out, g)
		for k, v := range l {
			out[k] = mergeGlobal(g[k], v)
		}
		return out
	case []any:
		if l, ok := local.([]any); ok {
			return slices.Concat(g, l)
		}
	}
	return local
}
