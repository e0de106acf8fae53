package mototest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// OpPutEvents is EventBridge's PutEvents as Calls and Fail name it (its
// X-Amz-Target).
const OpPutEvents = "AWSEvents.PutEvents"

// EventBridgeClient returns an EventBridge client that reaches the server.
func (s *Server) EventBridgeClient(tb testing.TB) *eventbridge.Client {
	tb.Helper()
	return eventbridge.NewFromConfig(Config(tb, s.URL))
}

// Mailbox is an SQS queue in moto that an EventBridge rule sends events
// to, as a shop's queue would receive them.
type Mailbox struct {
	s   *Server
	url string
}

// CreateEventBus creates the event bus bus in moto (uncounted) and a rule
// on it sending the events that pattern matches (all of payjs-close's
// when pattern is "") to a new SQS queue, which it returns.
func (s *Server) CreateEventBus(tb testing.TB, bus, pattern string) *Mailbox {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := eventbridge.NewFromConfig(config(s.motoBase(tb).String()))
	if _, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		tb.Fatalf("mototest: create event bus %s: %v", bus, err)
	}
	if pattern == "" {
		pattern = `{"source":["payjs-close"]}`
	}
	m := &Mailbox{s: s}
	var q struct{ QueueUrl string }
	m.sqs(tb, "CreateQueue", map[string]any{"QueueName": bus + "-mailbox"}, &q)
	m.url = q.QueueUrl
	var attrs struct{ Attributes map[string]string }
	m.sqs(tb, "GetQueueAttributes", map[string]any{"QueueUrl": m.url, "AttributeNames": []string{"QueueArn"}}, &attrs)
	rule := aws.String(bus + "-to-mailbox")
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: rule, EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		tb.Fatalf("mototest: put rule on %s: %v", bus, err)
	}
	target := []types.Target{{Id: aws.String("mailbox"), Arn: aws.String(attrs.Attributes["QueueArn"])}}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: rule, EventBusName: aws.String(bus), Targets: target}); err != nil {
		tb.Fatalf("mototest: put target on %s: %v", bus, err)
	}
	return m
}

// Receive returns the bodies of the messages in the queue, deleting them.
// moto puts an event in the queue while it answers PutEvents, so a test
// needs no wait.
func (m *Mailbox) Receive(tb testing.TB) []string {
	tb.Helper()
	var bodies []string
	for {
		var out struct {
			Messages []struct{ Body, ReceiptHandle string }
		}
		m.sqs(tb, "ReceiveMessage", map[string]any{"QueueUrl": m.url, "MaxNumberOfMessages": 10}, &out)
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, msg := range out.Messages {
			bodies = append(bodies, msg.Body)
			m.sqs(tb, "DeleteMessage", map[string]any{"QueueUrl": m.url, "ReceiptHandle": msg.ReceiptHandle}, nil)
		}
	}
}

// sqs calls moto's SQS through its JSON protocol (the module has no SQS
// SDK client: the function never calls SQS).
func (m *Mailbox) sqs(tb testing.TB, op string, in map[string]any, out any) {
	tb.Helper()
	body, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.s.motoBase(tb).String()+"/", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS."+op)
	// moto routes a request by the service its credential scope names; it
	// does not check the signature.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/20260101/"+Region+"/sqs/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("mototest: sqs %s: %v", op, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("mototest: sqs %s: HTTP %d: %s", op, resp.StatusCode, buf.String())
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			tb.Fatalf("mototest: sqs %s: %v: %s", op, err, buf.String())
		}
	}
}
