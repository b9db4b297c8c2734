package samtemplate

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Lambda's and SQS's defaults, for what a template leaves unset.
const (
	defaultTimeout          = 3 * time.Second
	defaultMemorySize       = 128
	defaultBatchSize        = 10
	defaultVisibility       = 30 * time.Second
	defaultMessageRetention = 4 * 24 * time.Hour
)

// propertyNames are the properties CloudFormation knows for the resource
// types the model covers other than the SAM function (from the resource
// schemas, read-only ones left out).
var propertyNames = map[string][]string{
	"AWS::SQS::Queue": {
		"ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
		"KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod", "QueueName",
		"ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled", "Tags", "VisibilityTimeout",
	},
	"AWS::Events::EventBus": {
		"DeadLetterConfig", "Description", "EventSourceName", "KmsKeyIdentifier", "LogConfig", "Name", "Policy", "Tags",
	},
	"AWS::DynamoDB::Table": {
		"AttributeDefinitions", "BillingMode", "ContributorInsightsSpecification", "DeletionProtectionEnabled",
		"GlobalSecondaryIndexes", "ImportSourceSpecification", "KeySchema", "KinesisStreamSpecification", "LocalSecondaryIndexes",
		"OnDemandThroughput", "PointInTimeRecoverySpecification", "ProvisionedThroughput", "ResourcePolicy", "SSESpecification",
		"StreamSpecification", "TableClass", "TableName", "Tags", "TimeToLiveSpecification", "WarmThroughput",
	},
	"AWS::SNS::Topic": {
		"ArchivePolicy", "ContentBasedDeduplication", "DataProtectionPolicy", "DeliveryStatusLogging", "DisplayName",
		"FifoThroughputScope", "FifoTopic", "KmsMasterKeyId", "SignatureVersion", "Subscription", "Tags", "TopicName", "TracingConfig",
	},
	"AWS::CloudWatch::Alarm": {
		"ActionsEnabled", "AlarmActions", "AlarmDescription", "AlarmName", "ComparisonOperator", "DatapointsToAlarm", "Dimensions",
		"EvaluateLowSampleCountPercentile", "EvaluationCriteria", "EvaluationInterval", "EvaluationPeriods", "ExtendedStatistic",
		"InsufficientDataActions", "MetricName", "Metrics", "Namespace", "OKActions", "Period", "Statistic", "Tags", "Threshold",
		"ThresholdMetricId", "TreatMissingData", "Unit",
	},
}

// add models one resource; types the model does not cover are only listed
// in Application.Resources.
func (a *Application) add(id string, h resourceHead, globals map[string]any) error {
	if h.Type == "AWS::Serverless::Function" {
		f, err := functionOf(id, h, globals, a.Dir)
		a.Functions = append(a.Functions, f)
		return err
	}
	names, ok := propertyNames[h.Type]
	if !ok {
		return nil
	}
	p := newProps(h.Properties, "")
	p.only(names, "a property of "+h.Type)
	switch h.Type {
	case "AWS::SQS::Queue":
		a.Queues = append(a.Queues, queueOf(id, h.Condition, p))
	case "AWS::Events::EventBus":
		a.EventBuses = append(a.EventBuses, &EventBus{LogicalID: id, Name: p.expr("Name", false), Condition: h.Condition})
	case "AWS::DynamoDB::Table":
		a.Tables = append(a.Tables, tableOf(id, h.Condition, p))
	case "AWS::SNS::Topic":
		a.Topics = append(a.Topics, &Topic{LogicalID: id, Name: p.expr("TopicName", false), FIFO: p.boolean("FifoTopic", false), Condition: h.Condition})
	case "AWS::CloudWatch::Alarm":
		a.Alarms = append(a.Alarms, alarmOf(id, h.Condition, p))
	}
	return p.err()
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
			f.Environment[name] = Expr{v}
		}
	}
	f.events(p.sub("Events"))
	if cfg := p.sub("EventInvokeConfig"); cfg.m != nil {
		f.EventInvokeConfig = invokeConfigOf(cfg)
	}
	return f, p.err()
}

// events reads the function's event sources.
func (f *Function) events(evs *props) {
	for _, name := range evs.names() {
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
	r.MaximumRetryAttempts = retry.optionalInt("MaximumRetryAttempts")
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

func invokeConfigOf(p *props) *EventInvokeConfig {
	dc := p.sub("DestinationConfig")
	return &EventInvokeConfig{
		MaximumRetryAttempts: p.optionalInt("MaximumRetryAttempts"),
		MaximumEventAge:      p.seconds("MaximumEventAgeInSeconds", 0),
		OnSuccess:            destinationOf(dc.sub("OnSuccess")),
		OnFailure:            destinationOf(dc.sub("OnFailure")),
	}
}

func destinationOf(p *props) *Destination {
	if p.m == nil {
		return nil
	}
	return &Destination{Type: p.str("Type", true), Destination: p.expr("Destination", false)}
}

func queueOf(id, condition string, p *props) *Queue {
	q := &Queue{
		LogicalID:                 id,
		Name:                      p.expr("QueueName", false),
		FIFO:                      p.boolean("FifoQueue", false),
		ContentBasedDeduplication: p.boolean("ContentBasedDeduplication", false),
		VisibilityTimeout:         p.seconds("VisibilityTimeout", defaultVisibility),
		Delay:                     p.seconds("DelaySeconds", 0),
		MessageRetention:          p.seconds("MessageRetentionPeriod", defaultMessageRetention),
		ReceiveWaitTime:           p.seconds("ReceiveMessageWaitTimeSeconds", 0),
		SQSManagedSSE:             p.boolean("SqsManagedSseEnabled", false),
		Condition:                 condition,
	}
	policy, ok := p.m["RedrivePolicy"]
	if !ok {
		return q
	}
	if s, ok := policy.(string); ok {
		// CloudFormation also takes the policy as a JSON string.
		if err := json.Unmarshal([]byte(s), &policy); err != nil {
			p.fail("RedrivePolicy", "is not JSON: %v", err)
			return q
		}
	}
	rp := p.child("RedrivePolicy", policy)
	target := rp.expr("deadLetterTargetArn", true)
	if q.DeadLetterQueueID = target.Target("Arn"); q.DeadLetterQueueID == "" && !target.IsZero() {
		rp.fail("deadLetterTargetArn", "is %s; want !GetAtt <queue>.Arn of a queue in the template", target)
	}
	if q.MaxReceiveCount = rp.integer("maxReceiveCount", 0); q.MaxReceiveCount < 1 {
		rp.fail("maxReceiveCount", "is required and at least 1")
	}
	return q
}

func tableOf(id, condition string, p *props) *Table {
	t := &Table{
		LogicalID:           id,
		Name:                p.expr("TableName", false),
		BillingMode:         p.str("BillingMode", false),
		PointInTimeRecovery: p.sub("PointInTimeRecoverySpecification").boolean("PointInTimeRecoveryEnabled", false),
		SSE:                 p.sub("SSESpecification").boolean("SSEEnabled", false),
		Condition:           condition,
	}
	if t.BillingMode == "" {
		t.BillingMode = "PROVISIONED"
	}
	types := map[string]string{}
	for _, d := range p.elems("AttributeDefinitions") {
		types[d.str("AttributeName", true)] = d.str("AttributeType", true)
	}
	for _, k := range p.elems("KeySchema") {
		name := k.str("AttributeName", true)
		typ, ok := types[name]
		if !ok {
			p.fail("KeySchema", "names %s, which is not among the AttributeDefinitions", name)
		}
		t.KeySchema = append(t.KeySchema, KeyElement{AttributeName: name, AttributeType: typ, KeyType: k.str("KeyType", true)})
	}
	if ttl := p.sub("TimeToLiveSpecification"); ttl.boolean("Enabled", false) {
		t.TTLAttribute = ttl.str("AttributeName", true)
	}
	return t
}

func alarmOf(id, condition string, p *props) *Alarm {
	al := &Alarm{
		LogicalID:          id,
		Namespace:          p.expr("Namespace", false),
		MetricName:         p.str("MetricName", false),
		Statistic:          p.str("Statistic", false),
		Period:             p.seconds("Period", 0),
		EvaluationPeriods:  p.integer("EvaluationPeriods", 0),
		Threshold:          p.expr("Threshold", false),
		ComparisonOperator: p.str("ComparisonOperator", false),
		TreatMissingData:   p.str("TreatMissingData", false),
		AlarmActions:       p.exprs("AlarmActions"),
		Condition:          condition,
	}
	for _, d := range p.elems("Dimensions") {
		al.Dimensions = append(al.Dimensions, Dimension{Name: d.str("Name", true), Value: d.expr("Value", true)})
	}
	return al
}
