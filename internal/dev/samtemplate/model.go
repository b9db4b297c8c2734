package samtemplate

import (
	"strings"
	"time"
)

// Application is what a SAM template describes. Slices are sorted by logical
// id, except Queues (see there).
type Application struct {
	// Dir is the directory of the template; CodeUri paths are relative to it.
	Dir string
	// Parameters are the template's parameters by name.
	Parameters map[string]Parameter
	// Conditions are the template's conditions by name, unevaluated.
	Conditions map[string]Expr
	// Resources maps every logical id of the template to its type, modelled
	// or not (AWS::SQS::QueuePolicy, ...).
	Resources map[string]string

	Functions []*Function
	// Queues come in creation order: every dead-letter queue before the
	// queues that redrive to it, then by logical id.
	Queues     []*Queue
	EventBuses []*EventBus
	Tables     []*Table
	Topics     []*Topic
	Alarms     []*Alarm
	// Outputs are the template's outputs by name.
	Outputs map[string]Output
}

// Parameter is a template parameter.
type Parameter struct {
	Name string
	// Type is the CloudFormation type: String, Number, CommaDelimitedList, ...
	Type string
	// Default is the default value as CloudFormation takes it (a list
	// comma-joined); HasDefault tells an empty default from none.
	Default    string
	HasDefault bool
	// AllowedValues and AllowedPattern constrain the value (each element of a
	// list).
	AllowedValues  []string
	AllowedPattern string
	Description    string
}

// IsList reports whether the parameter's value is a list
// (CommaDelimitedList, List<...>), which Ref returns as a list.
func (p Parameter) IsList() bool {
	return p.Type == "CommaDelimitedList" || strings.HasPrefix(p.Type, "List<")
}

// Output is a template output.
type Output struct {
	Name        string
	Value       Expr
	Description string
	// ExportName is the output's Export.Name, if any.
	ExportName Expr
}

// Function is an AWS::Serverless::Function with the template's Globals
// applied.
type Function struct {
	LogicalID string
	// CodeURI is the function's CodeUri as written; CodeDir is it joined to
	// the template's directory.
	CodeURI string
	CodeDir string
	// BuildMethod is Metadata.BuildMethod ("makefile"), how `sam build`
	// builds the function; GoPackage reads it.
	BuildMethod   string
	Runtime       string
	Handler       string
	Architectures []string
	// Timeout and MemorySize take Lambda's defaults (3 s, 128 MB) when the
	// template does not set them.
	Timeout    time.Duration
	MemorySize int
	// Environment holds the variables as written; Resolver.Environment
	// resolves them.
	Environment map[string]Expr

	SQSEvents         []SQSEvent
	EventBridgeRules  []EventBridgeRule
	Schedules         []Schedule
	EventInvokeConfig *EventInvokeConfig
	// Condition names the template condition the function exists under,
	// if any (Resolver.Condition); so do the other resources' Condition.
	Condition string
}

// SQSEvent is an SQS event source of a function (an event source mapping).
type SQSEvent struct {
	// Name is the event's key under Events.
	Name string
	// Queue is the queue's ARN as written; QueueID is the logical id of the
	// template's queue it names (!GetAtt <id>.Arn), or "".
	Queue   Expr
	QueueID string
	// BatchSize defaults to 10.
	BatchSize             int
	MaximumBatchingWindow time.Duration
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency; 0 when unset.
	MaximumConcurrency int
	// ReportBatchItemFailures is whether FunctionResponseTypes lists it: the
	// function returns the failed messages instead of failing the batch.
	ReportBatchItemFailures bool
	Enabled                 bool
}

// EventBridgeRule is an EventBridgeRule (or CloudWatchEvent) event source:
// a rule on a bus that invokes the function asynchronously.
type EventBridgeRule struct {
	Name string
	// EventBus is the bus's name or ARN as written (zero for the default
	// bus); EventBusID is the logical id of the template's bus it names.
	EventBus   Expr
	EventBusID string
	// Pattern is the event pattern, which may hold intrinsics.
	Pattern Expr
	// MaximumRetryAttempts and MaximumEventAge are the target's RetryPolicy;
	// nil and 0 leave EventBridge's defaults (185 attempts, 24 h).
	MaximumRetryAttempts *int
	MaximumEventAge      time.Duration
	// DeadLetterQueue is the target's DeadLetterConfig.Arn as written;
	// DeadLetterQueueID is the template's queue it names.
	DeadLetterQueue   Expr
	DeadLetterQueueID string
	// Input and InputPath replace the event the function receives.
	Input     Expr
	InputPath string
	Enabled   bool
}

// Schedule is a Schedule or ScheduleV2 event source.
type Schedule struct {
	Name string
	// Expression is rate(...) or cron(...).
	Expression Expr
	Input      Expr
	Enabled    bool
}

// EventInvokeConfig is how Lambda handles the function's asynchronous
// invocations.
type EventInvokeConfig struct {
	// MaximumRetryAttempts is nil when Lambda's default (2) applies.
	MaximumRetryAttempts *int
	MaximumEventAge      time.Duration
	OnSuccess, OnFailure *Destination
}

// Destination is where Lambda sends the record of an asynchronous
// invocation.
type Destination struct {
	// Type is SQS, SNS, Lambda, EventBridge or S3Bucket.
	Type string
	// Destination is the target's ARN as written; DestinationID is the
	// logical id of the template's resource it names (!GetAtt <id>.Arn).
	Destination   Expr
	DestinationID string
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID string
	// Name is QueueName as written; zero lets CloudFormation name the queue.
	Name                      Expr
	FIFO                      bool
	ContentBasedDeduplication bool
	// VisibilityTimeout, Delay, MessageRetention and ReceiveWaitTime take
	// SQS's defaults (30 s, 0, 4 days, 0) when unset.
	VisibilityTimeout time.Duration
	Delay             time.Duration
	MessageRetention  time.Duration
	ReceiveWaitTime   time.Duration
	// SQSManagedSSE is SqsManagedSseEnabled as the template sets it.
	SQSManagedSSE bool
	// DeadLetterQueueID is the logical id of the RedrivePolicy's target and
	// MaxReceiveCount its maxReceiveCount; "" and 0 without a redrive policy.
	DeadLetterQueueID string
	MaxReceiveCount   int
	Condition         string
}

// EventBus is an AWS::Events::EventBus.
type EventBus struct {
	LogicalID string
	Name      Expr
	Condition string
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	LogicalID string
	// Name is TableName as written; zero lets CloudFormation name the table.
	Name      Expr
	KeySchema []KeyElement
	// BillingMode is PROVISIONED or PAY_PER_REQUEST.
	BillingMode string
	// TTLAttribute is the time-to-live attribute when TTL is enabled.
	TTLAttribute        string
	PointInTimeRecovery bool
	SSE                 bool
	Condition           string
}

// KeyElement is one attribute of a table's primary key.
type KeyElement struct {
	AttributeName string
	// AttributeType is S, N or B.
	AttributeType string
	// KeyType is HASH or RANGE.
	KeyType string
}

// Topic is an AWS::SNS::Topic.
type Topic struct {
	LogicalID string
	Name      Expr
	FIFO      bool
	Condition string
}

// Alarm is an AWS::CloudWatch::Alarm on a single metric.
type Alarm struct {
	LogicalID string
	// Namespace and Threshold may refer to parameters.
	Namespace          Expr
	MetricName         string
	Dimensions         []Dimension
	Statistic          string
	Period             time.Duration
	EvaluationPeriods  int
	Threshold          Expr
	ComparisonOperator string
	TreatMissingData   string
	AlarmActions       []Expr
	Condition          string
}

// Dimension is a metric dimension of an alarm.
type Dimension struct {
	Name  string
	Value Expr
}

// Function returns the function with the logical id.
func (a *Application) Function(id string) (*Function, bool) { return find(a.Functions, id) }

// Queue returns the queue with the logical id.
func (a *Application) Queue(id string) (*Queue, bool) { return find(a.Queues, id) }

// EventBus returns the event bus with the logical id.
func (a *Application) EventBus(id string) (*EventBus, bool) { return find(a.EventBuses, id) }

// Table returns the table with the logical id.
func (a *Application) Table(id string) (*Table, bool) { return find(a.Tables, id) }

func find[T interface{ logicalID() string }](items []T, id string) (T, bool) {
	for _, it := range items {
		if it.logicalID() == id {
			return it, true
		}
	}
	var zero T
	return zero, false
}

func (f *Function) logicalID() string { return f.LogicalID }
func (q *Queue) logicalID() string    { return q.LogicalID }
func (b *EventBus) logicalID() string { return b.LogicalID }
func (t *Table) logicalID() string    { return t.LogicalID }
