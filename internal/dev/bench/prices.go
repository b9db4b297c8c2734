package bench

import "time"

// AWS list prices in us-east-1 on PriceDate, without free tiers.
// Sources: https://aws.amazon.com/lambda/pricing/ (requests; duration,
// Arm), https://aws.amazon.com/sqs/pricing/ (standard queue requests, each
// 64 KB chunk of a payload billed as one request),
// https://aws.amazon.com/eventbridge/pricing/ (custom events; AWS service
// events such as CloudFormation's are free on the default bus). The Admin
// API costs nothing per call, but throttles (TooManyRequestsException), so
// the calls and the busiest second are shown instead.
const (
	PriceDate                 = "2026-11-25"
	LambdaRequestUSD          = 0.20 / 1e6
	LambdaArmGBSecondUSD      = 0.0000133334
	SQSRequestUSD             = 0.40 / 1e6
	EventBridgeCustomEventUSD = 1.00 / 1e6
)

// What one invocation of each function is assumed to be billed for: the
// functions' MemorySize in template.yaml, and a duration per invocation
// (warm; an Admin API call takes about 100 ms, an SQS or EventBridge call
// about 20 ms, a DynamoDB call about 10 ms).
const (
	LambdaMemoryMB = 128
	// PollInvocation: one or a few Admin API lookups (up to 4 at once) and
	// a SendMessageBatch.
	PollInvocation = 150 * time.Millisecond
	// SubmitInvocation: a job-producing Admin API call, a few DynamoDB
	// reads and writes, a SendMessage.
	SubmitInvocation = 200 * time.Millisecond
	// NotifyInvocation: one PutEvents call.
	NotifyInvocation = 50 * time.Millisecond
)

// Prices is the price list a report was computed with.
type Prices struct {
	Date                      string  `json:"date"`
	Region                    string  `json:"region"`
	LambdaRequestUSD          float64 `json:"lambdaRequestUSD"`
	LambdaArmGBSecondUSD      float64 `json:"lambdaArmGBSecondUSD"`
	SQSRequestUSD             float64 `json:"sqsRequestUSD"`
	EventBridgeCustomEventUSD float64 `json:"eventBridgeCustomEventUSD"`
	LambdaMemoryMB            int     `json:"lambdaMemoryMB"`
	PollInvocationSeconds     float64 `json:"pollInvocationSeconds"`
	SubmitInvocationSeconds   float64 `json:"submitInvocationSeconds"`
	NotifyInvocationSeconds   float64 `json:"notifyInvocationSeconds"`
}

// CurrentPrices returns the constants above.
func CurrentPrices() Prices {
	return Prices{
		Date: PriceDate, Region: "us-east-1",
		LambdaRequestUSD: LambdaRequestUSD, LambdaArmGBSecondUSD: LambdaArmGBSecondUSD,
		SQSRequestUSD: SQSRequestUSD, EventBridgeCustomEventUSD: EventBridgeCustomEventUSD,
		LambdaMemoryMB: LambdaMemoryMB, PollInvocationSeconds: PollInvocation.Seconds(),
		SubmitInvocationSeconds: SubmitInvocation.Seconds(), NotifyInvocationSeconds: NotifyInvocation.Seconds(),
	}
}

// Cost is what a run cost, in US dollars.
type Cost struct {
	LambdaUSD      float64 `json:"lambdaUSD"`
	SQSUSD         float64 `json:"sqsUSD"`
	EventBridgeUSD float64 `json:"eventBridgeUSD"`
	TotalUSD       float64 `json:"totalUSD"`
}

// cost prices the counts of a run. Hint invocations are poll invocations.
func (p Prices) cost(inv Invocations, sqsBilled, events int) Cost {
	gb := float64(p.LambdaMemoryMB) / 1024
	gbSeconds := gb * (float64(inv.Poll+inv.Hint)*p.PollInvocationSeconds +
		float64(inv.Submit)*p.SubmitInvocationSeconds + float64(inv.Notify)*p.NotifyInvocationSeconds)
	c := Cost{
		LambdaUSD:      float64(inv.total())*p.LambdaRequestUSD + gbSeconds*p.LambdaArmGBSecondUSD,
		SQSUSD:         float64(sqsBilled) * p.SQSRequestUSD,
		EventBridgeUSD: float64(events) * p.EventBridgeCustomEventUSD,
	}
	c.TotalUSD = c.LambdaUSD + c.SQSUSD + c.EventBridgeUSD
	return c
}
