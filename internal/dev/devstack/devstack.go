// Package devstack stands a SAM application up on local servers: it
// creates the template's queues (with redrive), event buses, rules, tables
// and topics in moto, resolves each function's environment against them,
// and runs the functions' event sources with lambdasim. The template is
// the one description of the resources; nothing here names a queue.
package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/jobwatch/jobwatch/internal/dev/samtemplate"
)

// Options say where and how to stand the application up.
type Options struct {
	App *samtemplate.Application
	// AWS is the SDK configuration for moto (endpoint, region, test
	// credentials).
	AWS                          aws.Config
	StackName, Region, AccountID string
	// Parameters override the template's parameter defaults.
	Parameters map[string]string
	// VisibilityTimeout, when set, replaces every queue's visibility
	// timeout: locally a failed message should return in seconds, not the
	// minutes a deployed function's timeout calls for.
	VisibilityTimeout time.Duration
	// FunctionEnv is added to every function's environment: region,
	// credentials and the endpoints of moto and the Admin API emulator.
	FunctionEnv map[string]string
}

// Queue is a created queue.
type Queue struct {
	LogicalID, Name, URL, ARN string
}

// SQSSource is a function's SQS event source.
type SQSSource struct {
	Event          string
	Queue          Queue
	BatchSize      int
	MaxConcurrency int
}

// Rule is an EventBridge rule whose target is a function: the rule
// delivers to a stand-in queue, from which the function is invoked
// asynchronously with Lambda's retries and on-failure destination.
type Rule struct {
	Function, Event, Name, Bus string
	Pattern                    string
	Target                     Queue
	Retries                    int
	OnFailure                  *Queue
}

// Schedule is a function's Schedule event: it is invoked every Every.
type Schedule struct {
	Event, Expression string
	Every             time.Duration
}

// Function is a function with its resolved environment and triggers.
type Function struct {
	LogicalID string
	Package   string
	Timeout   time.Duration
	MemoryMB  int
	Env       map[string]string
	SQS       []SQSSource
	Schedules []Schedule
}

// Stack is what Deploy created; it is saved in the state file of
// `jobwatch local`.
type Stack struct {
	StackName string               `json:"stackName"`
	Region    string               `json:"region"`
	Queues    map[string]Queue     `json:"queues"`
	Buses     map[string]Bus       `json:"buses"`
	Tables    map[string]string    `json:"tables"`
	Topics    map[string]Topic     `json:"topics"`
	Rules     []Rule               `json:"rules"`
	Functions map[string]*Function `json:"functions"`
}

// Bus is a created event bus.
type Bus struct{ Name, ARN string }

// Topic is a created SNS topic.
type Topic struct{ Name, ARN string }

// Deploy creates the template's resources and resolves the functions.
// Resources that already exist are reused, so Deploy can run again over a
// stack that is up.
func Deploy(ctx context.Context, o Options) (*Stack, error) {
	d := &deployer{o: o, s: &Stack{StackName: o.StackName, Region: o.Region, Queues: map[string]Queue{}, Buses: map[string]Bus{},
		Tables: map[string]string{}, Topics: map[string]Topic{}, Functions: map[string]*Function{}},
		facts: samtemplate.Facts{Region: o.Region, AccountID: o.AccountID, StackName: o.StackName,
			Parameters: o.Parameters, Refs: map[string]string{}, Attrs: map[string]string{}},
		sqs: sqs.NewFromConfig(o.AWS), eb: eventbridge.NewFromConfig(o.AWS)}
	var err error
	if d.names, err = o.App.NewResolver(d.facts); err != nil {
		return nil, fmt.Errorf("template parameters: %w", err)
	}
	for _, step := range []func(context.Context) error{d.queues, d.buses, d.tables, d.topics, d.functions} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return d.s, nil
}

// deployer creates one stack's resources in order, noting in facts what
// later resources and the functions' environments refer to.
type deployer struct {
	o     Options
	s     *Stack
	facts samtemplate.Facts
	names *samtemplate.Resolver
	sqs   *sqs.Client
	eb    *eventbridge.Client
}

func (d *deployer) queues(ctx context.Context) error {
	for _, q := range d.o.App.Queues {
		created, err := createQueue(ctx, d.sqs, d.names, d.o, q, d.s)
		if err != nil {
			return err
		}
		d.s.Queues[q.LogicalID] = created
		d.facts.Refs[q.LogicalID] = created.URL
		d.facts.Attrs[q.LogicalID+".Arn"] = created.ARN
		d.facts.Attrs[q.LogicalID+".QueueName"] = created.Name
		d.facts.Attrs[q.LogicalID+".QueueUrl"] = created.URL
	}
	return nil
}

func (d *deployer) buses(ctx context.Context) error {
	for _, b := range d.o.App.EventBuses {
		name, err := nameOf(d.names, b.Name, d.o.StackName, b.LogicalID)
		if err != nil {
			return err
		}
		arn := fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", d.o.Region, d.o.AccountID, name)
		if _, err := d.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil && !alreadyExists(err) {
			return fmt.Errorf("create event bus %s: %w", b.LogicalID, err)
		}
		d.s.Buses[b.LogicalID] = Bus{Name: name, ARN: arn}
		d.facts.Refs[b.LogicalID] = name
		d.facts.Attrs[b.LogicalID+".Arn"] = arn
		d.facts.Attrs[b.LogicalID+".Name"] = name
	}
	return nil
}

func (d *deployer) tables(ctx context.Context) error {
	ddb := dynamodb.NewFromConfig(d.o.AWS)
	for _, t := range d.o.App.Tables {
		name, err := nameOf(d.names, t.Name, d.o.StackName, t.LogicalID)
		if err != nil {
			return err
		}
		if err := createTable(ctx, ddb, name, t); err != nil {
			return err
		}
		d.s.Tables[t.LogicalID] = name
		d.facts.Refs[t.LogicalID] = name
		d.facts.Attrs[t.LogicalID+".Arn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", d.o.Region, d.o.AccountID, name)
	}
	return nil
}

func (d *deployer) topics(ctx context.Context) error {
	snsc := sns.NewFromConfig(d.o.AWS)
	for _, t := range d.o.App.Topics {
		name, err := nameOf(d.names, t.Name, d.o.StackName, t.LogicalID)
		if err != nil {
			return err
		}
		attrs := map[string]string{}
		if t.FIFO {
			name = strings.TrimSuffix(name, ".fifo") + ".fifo"
			attrs["FifoTopic"] = "true"
		}
		out, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs})
		if err != nil {
			return fmt.Errorf("create topic %s: %w", t.LogicalID, err)
		}
		arn := aws.ToString(out.TopicArn)
		d.s.Topics[t.LogicalID] = Topic{Name: name, ARN: arn}
		d.facts.Refs[t.LogicalID] = arn
		d.facts.Attrs[t.LogicalID+".TopicArn"] = arn
		d.facts.Attrs[t.LogicalID+".TopicName"] = name
	}
	return nil
}

// functions resolves each function's environment and event sources
// against what was created, and creates its rules.
func (d *deployer) functions(ctx context.Context) error {
	for _, f := range d.o.App.Functions {
		name := d.o.StackName + "-" + f.LogicalID
		d.facts.Refs[f.LogicalID] = name
		d.facts.Attrs[f.LogicalID+".Arn"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", d.o.Region, d.o.AccountID, name)
	}
	r, err := d.o.App.NewResolver(d.facts)
	if err != nil {
		return err
	}
	for _, f := range d.o.App.Functions {
		fn, err := resolveFunction(r, f, d.o, d.s)
		if err != nil {
			return err
		}
		d.s.Functions[f.LogicalID] = fn
		for _, rule := range f.EventBridgeRules {
			created, err := createRule(ctx, d.eb, d.sqs, r, d.o, d.s, f, rule)
			if err != nil {
				return err
			}
			d.s.Rules = append(d.s.Rules, created)
		}
	}
	return nil
}

// nameOf resolves a resource's name, or names it as CloudFormation would
// (stack-LogicalId) when the template leaves it unnamed.
func nameOf(r *samtemplate.Resolver, e samtemplate.Expr, stack, id string) (string, error) {
	if e.IsZero() {
		return stack + "-" + id, nil
	}
	name, err := r.String(e)
	if err != nil {
		return "", fmt.Errorf("name of %s: %w", id, err)
	}
	return name, nil
}

func createQueue(ctx context.Context, c *sqs.Client, names *samtemplate.Resolver, o Options, q *samtemplate.Queue, s *Stack) (Queue, error) {
	name, err := nameOf(names, q.Name, o.StackName, q.LogicalID)
	if err != nil {
		return Queue{}, err
	}
	if q.FIFO && !strings.HasSuffix(name, ".fifo") {
		name += ".fifo"
	}
	visibility := q.VisibilityTimeout
	if o.VisibilityTimeout > 0 {
		visibility = o.VisibilityTimeout
	}
	attrs := map[string]string{
		"VisibilityTimeout":      strconv.Itoa(int(visibility / time.Second)),
		"DelaySeconds":           strconv.Itoa(int(q.Delay / time.Second)),
		"MessageRetentionPeriod": strconv.Itoa(int(q.MessageRetention / time.Second)),
	}
	if q.FIFO {
		attrs["FifoQueue"] = "true"
		if q.ContentBasedDeduplication {
			attrs["ContentBasedDeduplication"] = "true"
		}
	}
	if q.DeadLetterQueueID != "" {
		dlq, ok := s.Queues[q.DeadLetterQueueID]
		if !ok {
			return Queue{}, fmt.Errorf("queue %s redrives to %s, which is not created yet", q.LogicalID, q.DeadLetterQueueID)
		}
		policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlq.ARN, "maxReceiveCount": q.MaxReceiveCount})
		attrs["RedrivePolicy"] = string(policy)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return Queue{}, fmt.Errorf("create queue %s: %w", q.LogicalID, err)
	}
	url := aws.ToString(out.QueueUrl)
	// An existing queue keeps its attributes on CreateQueue; set them.
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: out.QueueUrl, Attributes: withoutFIFO(attrs)}); err != nil {
		return Queue{}, fmt.Errorf("configure queue %s: %w", q.LogicalID, err)
	}
	arn := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", o.Region, o.AccountID, name)
	return Queue{LogicalID: q.LogicalID, Name: name, URL: url, ARN: arn}, nil
}

func withoutFIFO(attrs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		if k != "FifoQueue" {
			out[k] = v
		}
	}
	return out
}

func createTable(ctx context.Context, c *dynamodb.Client, name string, t *samtemplate.Table) error {
	var keys []ddbtypes.KeySchemaElement
	var defs []ddbtypes.AttributeDefinition
	for _, k := range t.KeySchema {
		keys = append(keys, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: ddbtypes.KeyType(k.KeyType)})
		defs = append(defs, ddbtypes.AttributeDefinition{AttributeName: aws.String(k.AttributeName), AttributeType: ddbtypes.ScalarAttributeType(k.AttributeType)})
	}
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name), KeySchema: keys, AttributeDefinitions: defs, BillingMode: ddbtypes.BillingModePayPerRequest,
	})
	if err != nil && !alreadyExists(err) {
		return fmt.Errorf("create table %s: %w", t.LogicalID, err)
	}
	if t.TTLAttribute != "" {
		_, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true)}})
		if err != nil && !strings.Contains(err.Error(), "already enabled") {
			return fmt.Errorf("enable TTL on %s: %w", t.LogicalID, err)
		}
	}
	return nil
}

func resolveFunction(r *samtemplate.Resolver, f *samtemplate.Function, o Options, s *Stack) (*Function, error) {
	env, err := r.Environment(f)
	if err != nil {
		return nil, fmt.Errorf("environment of %s: %w", f.LogicalID, err)
	}
	for k, v := range o.FunctionEnv {
		env[k] = v
	}
	pkg, err := f.GoPackage()
	if err != nil {
		return nil, fmt.Errorf("package of %s: %w", f.LogicalID, err)
	}
	fn := &Function{LogicalID: f.LogicalID, Package: pkg, Timeout: f.Timeout, MemoryMB: f.MemorySize, Env: env}
	for _, ev := range f.SQSEvents {
		if !ev.Enabled {
			continue
		}
		q, ok := s.Queues[ev.QueueID]
		if !ok {
			return nil, fmt.Errorf("%s event %s: queue %q is not a queue of the template", f.LogicalID, ev.Name, ev.Queue.String())
		}
		fn.SQS = append(fn.SQS, SQSSource{Event: ev.Name, Queue: q, BatchSize: ev.BatchSize, MaxConcurrency: max(ev.MaximumConcurrency, 1)})
	}
	for _, sc := range f.Schedules {
		if !sc.Enabled {
			continue
		}
		expr, err := r.String(sc.Expression)
		if err != nil {
			return nil, fmt.Errorf("%s event %s schedule: %w", f.LogicalID, sc.Name, err)
		}
		fn.Schedules = append(fn.Schedules, Schedule{Event: sc.Name, Expression: expr, Every: scheduleEvery(expr)})
	}
	return fn, nil
}

func createRule(ctx context.Context, eb *eventbridge.Client, c *sqs.Client, r *samtemplate.Resolver, o Options, s *Stack, f *samtemplate.Function, rule samtemplate.EventBridgeRule) (Rule, error) {
	bus := "default"
	if rule.EventBusID != "" {
		bus = s.Buses[rule.EventBusID].Name
	} else if !rule.EventBus.IsZero() {
		name, err := r.String(rule.EventBus)
		if err != nil {
			return Rule{}, err
		}
		bus = name
	}
	pattern, err := r.Resolve(rule.Pattern)
	if err != nil {
		return Rule{}, fmt.Errorf("%s event %s pattern: %w", f.LogicalID, rule.Name, err)
	}
	patternJSON, _ := json.Marshal(pattern)
	name := fmt.Sprintf("%s-%s-%s", o.StackName, f.LogicalID, rule.Name)
	// The stand-in for Lambda's internal queue of asynchronous invocations.
	target, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-invocations")})
	if err != nil {
		return Rule{}, fmt.Errorf("create invocation queue for rule %s: %w", name, err)
	}
	targetQ := Queue{Name: name + "-invocations", URL: aws.ToString(target.QueueUrl),
		ARN: fmt.Sprintf("arn:aws:sqs:%s:%s:%s-invocations", o.Region, o.AccountID, name)}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(bus), EventPattern: aws.String(string(patternJSON))}); err != nil {
		return Rule{}, fmt.Errorf("create rule %s: %w", name, err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String(f.LogicalID), Arn: aws.String(targetQ.ARN)}}}); err != nil {
		return Rule{}, fmt.Errorf("target rule %s: %w", name, err)
	}
	out := Rule{Function: f.LogicalID, Event: rule.Name, Name: name, Bus: bus, Pattern: string(patternJSON), Target: targetQ, Retries: 2}
	if cfg := f.EventInvokeConfig; cfg != nil {
		if cfg.MaximumRetryAttempts != nil {
			out.Retries = *cfg.MaximumRetryAttempts
		}
		if cfg.OnFailure != nil && cfg.OnFailure.Type == "SQS" {
			if q, ok := s.Queues[cfg.OnFailure.DestinationID]; ok {
				out.OnFailure = &q
			}
		}
	}
	return out, nil
}

// scheduleEvery reads the period of rate(N unit); a cron expression runs
// every 5 minutes locally.
func scheduleEvery(expr string) time.Duration {
	inner, ok := strings.CutPrefix(expr, "rate(")
	if !ok {
		return 5 * time.Minute
	}
	var n int
	var unit string
	if _, err := fmt.Sscanf(strings.TrimSuffix(inner, ")"), "%d %s", &n, &unit); err != nil || n <= 0 {
		return 5 * time.Minute
	}
	switch strings.TrimSuffix(unit, "s") {
	case "second":
		return time.Duration(n) * time.Second
	case "minute":
		return time.Duration(n) * time.Minute
	case "hour":
		return time.Duration(n) * time.Hour
	case "day":
		return time.Duration(n) * 24 * time.Hour
	}
	return 5 * time.Minute
}

func alreadyExists(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "AlreadyExists") || strings.Contains(msg, "ResourceInUse") || strings.Contains(msg, "already exists")
}

// Delete removes what Deploy created.
func (s *Stack) Delete(ctx context.Context, cfg aws.Config) error {
	var errs []error
	eb := eventbridge.NewFromConfig(cfg)
	c := sqs.NewFromConfig(cfg)
	for _, r := range s.Rules {
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(r.Bus), Ids: []string{r.Function}})
		if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(r.Name), EventBusName: aws.String(r.Bus)}); err != nil {
			errs = append(errs, err)
		}
		_, _ = c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(r.Target.URL)})
	}
	for _, id := range slices.Sorted(maps.Keys(s.Queues)) {
		if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(s.Queues[id].URL)}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.Buses)) {
		if _, err := eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(s.Buses[id].Name)}); err != nil {
			errs = append(errs, err)
		}
	}
	snsc := sns.NewFromConfig(cfg)
	for _, id := range slices.Sorted(maps.Keys(s.Topics)) {
		if _, err := snsc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(s.Topics[id].ARN)}); err != nil {
			errs = append(errs, err)
		}
	}
	ddb := dynamodb.NewFromConfig(cfg)
	for _, id := range slices.Sorted(maps.Keys(s.Tables)) {
		if _, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.Tables[id])}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetEnv sets a variable in every function's environment (before the
// functions start), e.g. to shorten a timing in a test.
func (s *Stack) SetEnv(name, value string) {
	for _, fn := range s.Functions {
		fn.Env[name] = value
	}
}

// Save writes the stack to a state file; Load reads it back.
func (s *Stack) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// Load reads a state file written by Save.
func Load(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &s, nil
}
