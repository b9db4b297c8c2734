package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/events"
	"github.com/awslabs/goformation/v7/cloudformation/sns"
	"github.com/awslabs/goformation/v7/cloudformation/sqs"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Lambda's and SQS's defaults, for what a template leaves unset.
const (
	defaultTimeout          = 3 * time.Second
	defaultMemorySize       = 128
	defaultBatchSize        = 10
	defaultVisibility       = 30 * time.Second
	defaultMessageRetention = 4 * 24 * time.Hour
)

// goformationMu serializes goformation's YAML processing, which registers
// its tag handlers in a package-level map on every call.
var goformationMu sync.Mutex

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
	// goformation resolves intrinsic functions by default, against made-up
	// pseudo parameters and with resources' attributes dropped; keeping
	// every one encoded lets typed resources decode with them intact.
	keep := make(map[string]intrinsics.IntrinsicHandler, len(intrinsicNames))
	for name := range intrinsicNames {
		keep[name] = encodeIntrinsic
	}
	data, err := expandTags(data)
	if err != nil {
		return nil, err
	}
	goformationMu.Lock()
	processed, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: keep})
	goformationMu.Unlock()
	if err != nil {
		return nil, err
	}
	var raw struct {
		Parameters cloudformation.Parameters
		Conditions map[string]any
		Globals    struct{ Function map[string]any }
		Resources  map[string]json.RawMessage
		Outputs    cloudformation.Outputs
	}
	if err := json.Unmarshal(processed, &raw); err != nil {
		return nil, fmt.Errorf("template sections: %w", err)
	}
	if len(raw.Resources) == 0 {
		return nil, errors.New("the template has no Resources")
	}

	app := &Application{
		Dir:        dir,
		Parameters: make(map[string]Parameter, len(raw.Parameters)),
		Conditions: make(map[string]Expr, len(raw.Conditions)),
		Resources:  make(map[string]string, len(raw.Resources)),
		Outputs:    make(map[string]Output, len(raw.Outputs)),
	}
	var errs []error
	for name, p := range raw.Parameters {
		param, err := parameterOf(name, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		app.Parameters[name] = param
	}
	for name, c := range raw.Conditions {
		app.Conditions[name] = exprOf(c)
	}
	for name, o := range raw.Outputs {
		out := Output{Name: name, Value: exprOf(o.Value)}
		if o.Description != nil {
			out.Description = *o.Description
		}
		if o.Export != nil {
			out.ExportName = exprOf(o.Export.Name)
		}
		app.Outputs[name] = out
	}

	ids := sortedKeys(raw.Resources)
	heads := make(map[string]resourceHead, len(ids))
	for _, id := range ids {
		var h resourceHead
		if err := json.Unmarshal(raw.Resources[id], &h); err != nil {
			errs = append(errs, fmt.Errorf("resource %s: %w", id, err))
			continue
		}
		if h.Type == "" {
			errs = append(errs, fmt.Errorf("resource %s: no Type", id))
			continue
		}
		heads[id] = h
		app.Resources[id] = h.Type
	}
	for _, id := range ids {
		h, ok := heads[id]
		if !ok {
			continue
		}
		if err := app.add(id, h, raw.Resources[id], raw.Globals.Function); err != nil {
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

// resourceHead is the part of a resource every type shares.
type resourceHead struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	Condition  string
}

// add models one resource; types the model does not cover are only listed
// in Application.Resources.
func (a *Application) add(id string, h resourceHead, raw json.RawMessage, globals map[string]any) error {
	switch h.Type {
	case "AWS::Serverless::Function":
		f, err := functionOf(id, h, globals, a.Dir)
		if err != nil {
			return err
		}
		a.Functions = append(a.Functions, f)
	case "AWS::SQS::Queue":
		var q sqs.Queue
		if err := json.Unmarshal(raw, &q); err != nil {
			return err
		}
		m, err := queueOf(id, &q)
		if err != nil {
			return err
		}
		a.Queues = append(a.Queues, m)
	case "AWS::Events::EventBus":
		var b events.EventBus
		if err := json.Unmarshal(raw, &b); err != nil {
			return err
		}
		a.EventBuses = append(a.EventBuses, &EventBus{LogicalID: id, Name: exprOf(nonEmpty(b.Name)), Condition: b.AWSCloudFormationCondition})
	case "AWS::DynamoDB::Table":
		var t dynamodb.Table
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		m, err := tableOf(id, &t)
		if err != nil {
			return err
		}
		a.Tables = append(a.Tables, m)
	case "AWS::SNS::Topic":
		var t sns.Topic
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		a.Topics = append(a.Topics, &Topic{LogicalID: id, Name: exprOfPtr(t.TopicName), FIFO: deref(t.FifoTopic), Condition: t.AWSCloudFormationCondition})
	case "AWS::CloudWatch::Alarm":
		var al cloudwatch.Alarm
		if err := json.Unmarshal(raw, &al); err != nil {
			return err
		}
		a.Alarms = append(a.Alarms, alarmOf(id, &al))
	}
	return nil
}

func parameterOf(name string, p cloudformation.Parameter) (Parameter, error) {
	param := Parameter{Name: name, Type: p.Type, AllowedPattern: deref(p.AllowedPattern), Description: deref(p.Description)}
	if p.Default != nil {
		d, err := scalarString(p.Default)
		if err != nil {
			return param, fmt.Errorf("parameter %s: Default: %w", name, err)
		}
		param.Default, param.HasDefault = d, true
	}
	for _, v := range p.AllowedValues {
		s, err := scalarString(v)
		if err != nil {
			return param, fmt.Errorf("parameter %s: AllowedValues: %w", name, err)
		}
		param.AllowedValues = append(param.AllowedValues, s)
	}
	return param, nil
}

// scalarString is a parameter value as CloudFormation takes it: a string,
// a number or a boolean as text, a list comma-joined.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := scalarString(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a string, got %s", exprOf(v))
}

func functionOf(id string, h resourceHead, globals map[string]any, dir string) (*Function, error) {
	merged, _ := mergeGlobal(globals, h.Properties).(map[string]any)
	p := newProps(merged, "")
	f := &Function{
		LogicalID:     id,
		CodeURI:       p.str("CodeUri", true),
		Runtime:       p.str("Runtime", false),
		Handler:       p.str("Handler", false),
		Architectures: p.strs("Architectures"),
		Timeout:       p.seconds("Timeout", defaultTimeout),
		MemorySize:    p.integer("MemorySize", defaultMemorySize),
		Condition:     h.Condition,
	}
	if f.CodeURI != "" {
		if strings.HasPrefix(f.CodeURI, "s3://") {
			p.fail("CodeUri", "is %q; want a local path that sam build builds", f.CodeURI)
		}
		f.CodeDir = filepath.Join(dir, filepath.FromSlash(f.CodeURI))
	}
	if m, ok := h.Metadata["BuildMethod"].(string); ok {
		f.BuildMethod = m
	}
	if vars := p.sub("Environment").sub("Variables"); len(vars.m) > 0 {
		f.Environment = make(map[string]Expr, len(vars.m))
		for name, v := range vars.m {
			f.Environment[name] = exprOf(v)
		}
	}
	evs := p.sub("Events")
	for _, name := range sortedKeys(evs.m) {
		ev := evs.sub(name)
		switch typ := ev.str("Type", true); typ {
		case "SQS":
			f.SQSEvents = append(f.SQSEvents, sqsEventOf(name, ev.sub("Properties")))
		case "EventBridgeRule", "CloudWatchEvent":
			f.EventBridgeRules = append(f.EventBridgeRules, ruleOf(name, ev.sub("Properties")))
		case "Schedule", "ScheduleV2":
			f.Schedules = append(f.Schedules, scheduleOf(name, typ, ev.sub("Properties")))
		case "":
		default:
			ev.fail("Type", "is %s; the model has SQS, EventBridgeRule, CloudWatchEvent, Schedule and ScheduleV2 events", typ)
		}
	}
	if cfg := p.sub("EventInvokeConfig"); cfg.m != nil {
		c := &EventInvokeConfig{MaximumEventAge: cfg.seconds("MaximumEventAgeInSeconds", 0)}
		if cfg.has("MaximumRetryAttempts") {
			n := cfg.integer("MaximumRetryAttempts", 0)
			c.MaximumRetryAttempts = &n
		}
		dc := cfg.sub("DestinationConfig")
		c.OnSuccess = destinationOf(dc.sub("OnSuccess"))
		c.OnFailure = destinationOf(dc.sub("OnFailure"))
		f.EventInvokeConfig = c
	}
	return f, p.err()
}

func sqsEventOf(name string, p *props) SQSEvent {
	ev := SQSEvent{
		Name:                  name,
		Queue:                 p.expr("Queue", true),
		BatchSize:             p.integer("BatchSize", defaultBatchSize),
		MaximumBatchingWindow: p.seconds("MaximumBatchingWindowInSeconds", 0),
		MaximumConcurrency:    p.sub("ScalingConfig").integer("MaximumConcurrency", 0),
		Enabled:               p.boolean("Enabled", true),
	}
	ev.ReportBatchItemFailures = slices.Contains(p.strs("FunctionResponseTypes"), "ReportBatchItemFailures")
	return ev
}

func ruleOf(name string, p *props) EventBridgeRule {
	r := EventBridgeRule{
		Name:      name,
		EventBus:  p.expr("EventBusName", false),
		Pattern:   p.expr("Pattern", true),
		Input:     p.expr("Input", false),
		InputPath: p.str("InputPath", false),
		Enabled:   p.boolean("Enabled", true) && p.str("State", false) != "DISABLED",
	}
	retry := p.sub("RetryPolicy")
	if retry.has("MaximumRetryAttempts") {
		n := retry.integer("MaximumRetryAttempts", 0)
		r.MaximumRetryAttempts = &n
	}
	r.MaximumEventAge = retry.seconds("MaximumEventAgeInSeconds", 0)
	dlq := p.sub("DeadLetterConfig")
	if dlq.has("Type") {
		dlq.fail("Type", "asks SAM to create the dead-letter queue, which the model cannot see; declare the queue and give its Arn")
	}
	r.DeadLetterQueue = dlq.expr("Arn", false)
	return r
}

func scheduleOf(name, typ string, p *props) Schedule {
	s := Schedule{Name: name, Input: p.expr("Input", false)}
	if typ == "Schedule" {
		s.Expression = p.expr("Schedule", true)
		s.Enabled = p.boolean("Enabled", true) && p.str("State", false) != "DISABLED"
	} else {
		s.Expression = p.expr("ScheduleExpression", true)
		s.Enabled = p.str("State", false) != "DISABLED"
	}
	return s
}

func destinationOf(p *props) *Destination {
	if p.m == nil {
		return nil
	}
	return &Destination{Type: p.str("Type", true), Destination: p.expr("Destination", false)}
}

func queueOf(id string, q *sqs.Queue) (*Queue, error) {
	m := &Queue{
		LogicalID:                 id,
		Name:                      exprOfPtr(q.QueueName),
		FIFO:                      deref(q.FifoQueue),
		ContentBasedDeduplication: deref(q.ContentBasedDeduplication),
		VisibilityTimeout:         secondsOr(q.VisibilityTimeout, defaultVisibility),
		Delay:                     secondsOr(q.DelaySeconds, 0),
		MessageRetention:          secondsOr(q.MessageRetentionPeriod, defaultMessageRetention),
		ReceiveWaitTime:           secondsOr(q.ReceiveMessageWaitTimeSeconds, 0),
		SQSManagedSSE:             deref(q.SqsManagedSseEnabled),
		Condition:                 q.AWSCloudFormationCondition,
	}
	if q.RedrivePolicy == nil {
		return m, nil
	}
	policy := q.RedrivePolicy
	if s, ok := policy.(string); ok {
		// CloudFormation also takes the policy as a JSON string.
		if err := json.Unmarshal([]byte(s), &policy); err != nil {
			return nil, fmt.Errorf("RedrivePolicy: %w", err)
		}
	}
	pm, _ := plain(policy).(map[string]any)
	p := newProps(pm, "RedrivePolicy.")
	target := p.expr("deadLetterTargetArn", true)
	if m.DeadLetterQueueID = target.Target("Arn"); m.DeadLetterQueueID == "" && !target.IsZero() {
		p.fail("deadLetterTargetArn", "is %s; want !GetAtt <queue>.Arn of a queue in the template", target)
	}
	m.MaxReceiveCount = p.integer("maxReceiveCount", 0)
	if m.MaxReceiveCount < 1 {
		p.fail("maxReceiveCount", "is required and at least 1")
	}
	return m, p.err()
}

func tableOf(id string, t *dynamodb.Table) (*Table, error) {
	m := &Table{
		LogicalID:   id,
		Name:        exprOfPtr(t.TableName),
		BillingMode: "PROVISIONED",
		Condition:   t.AWSCloudFormationCondition,
	}
	if t.BillingMode != nil {
		m.BillingMode = *t.BillingMode
	}
	types := make(map[string]string, len(t.AttributeDefinitions))
	for _, d := range t.AttributeDefinitions {
		types[d.AttributeName] = d.AttributeType
	}
	for _, k := range t.KeySchema {
		typ, ok := types[k.AttributeName]
		if !ok {
			return nil, fmt.Errorf("KeySchema: %s is not among the AttributeDefinitions", k.AttributeName)
		}
		m.KeySchema = append(m.KeySchema, KeyElement{AttributeName: k.AttributeName, AttributeType: typ, KeyType: k.KeyType})
	}
	if ttl := t.TimeToLiveSpecification; ttl != nil && ttl.Enabled {
		m.TTLAttribute = deref(ttl.AttributeName)
	}
	if pitr := t.PointInTimeRecoverySpecification; pitr != nil {
		m.PointInTimeRecovery = deref(pitr.PointInTimeRecoveryEnabled)
	}
	if sse := t.SSESpecification; sse != nil {
		m.SSE = sse.SSEEnabled
	}
	return m, nil
}

func alarmOf(id string, al *cloudwatch.Alarm) *Alarm {
	m := &Alarm{
		LogicalID:          id,
		Namespace:          deref(al.Namespace),
		MetricName:         deref(al.MetricName),
		Statistic:          deref(al.Statistic),
		Period:             secondsOr(al.Period, 0),
		EvaluationPeriods:  al.EvaluationPeriods,
		Threshold:          deref(al.Threshold),
		ComparisonOperator: al.ComparisonOperator,
		TreatMissingData:   deref(al.TreatMissingData),
		Condition:          al.AWSCloudFormationCondition,
	}
	for _, d := range al.Dimensions {
		m.Dimensions = append(m.Dimensions, Dimension{Name: d.Name, Value: exprOf(d.Value)})
	}
	for _, a := range al.AlarmActions {
		m.AlarmActions = append(m.AlarmActions, exprOf(a))
	}
	return m
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

// mergeGlobal lays a resource's own value over its Globals value as SAM
// does: maps merge key by key, lists concatenate (globals first), and
// otherwise — intrinsic functions included — the resource's value wins.
func mergeGlobal(global, local any) any {
	if local == nil {
		return global
	}
	switch g := global.(type) {
	case map[string]any:
		l, ok := local.(map[string]any)
		if !ok {
			return local
		}
		out := make(map[string]any, len(g)+len(l))
		for k, v := range g {
			out[k] = v
		}
		for k, v := range l {
			out[k] = mergeGlobal(g[k], v)
		}
		return out
	case []any:
		if l, ok := local.([]any); ok {
			return append(append([]any{}, g...), l...)
		}
	}
	return local
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func exprOfPtr(s *string) Expr {
	if s == nil {
		return Expr{}
	}
	return exprOf(*s)
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func secondsOr(p *int, def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return time.Duration(*p) * time.Second
}
