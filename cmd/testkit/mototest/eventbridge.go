package mototest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// Mailbox is an SQS queue in moto that an EventBridge rule sends events
// to, as a shop's queue would receive them. moto puts an event in the
// queue while it answers PutEvents, so a reader needs no wait.
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
	m, err := s.CreateEventBusContext(ctx, bus, pattern)
	if err != nil {
		tb.Fatalf("mototest: %v", err)
	}
	return m
}

// CreateEventBusContext is [Server.CreateEventBus] outside of a test.
func (s *Server) CreateEventBusContext(ctx context.Context, bus, pattern string) (*Mailbox, error) {
	s.mu.Lock()
	base := s.motoURL
	s.mu.Unlock()
	if base == nil {
		return nil, fmt.Errorf("create event bus %s: the server is stopped", bus)
	}
	c := eventbridge.NewFromConfig(config(base.String()))
	if _, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		return nil, fmt.Errorf("create event bus %s: %w", bus, err)
	}
	if pattern == "" {
		pattern = `{"source":["payjs-close"]}`
	}
	m := &Mailbox{s: s}
	var q struct {
		URL string `json:"QueueUrl"`
	}
	if err := m.sqs(ctx, "CreateQueue", map[string]any{"QueueName": bus + "-mailbox"}, &q); err != nil {
		return nil, err
	}
	m.url = q.URL
	var attrs struct{ Attributes map[string]string }
	if err := m.sqs(ctx, "GetQueueAttributes", map[string]any{"QueueUrl": m.url, "AttributeNames": []string{"QueueArn"}}, &attrs); err != nil {
		return nil, err
	}
	rule := aws.String(bus + "-to-mailbox")
	if _, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: rule, EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		return nil, fmt.Errorf("put rule on %s: %w", bus, err)
	}
	target := []types.Target{{Id: aws.String("mailbox"), Arn: aws.String(attrs.Attributes["QueueArn"])}}
	if _, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: rule, EventBusName: aws.String(bus), Targets: target}); err != nil {
		return nil, fmt.Errorf("put target on %s: %w", bus, err)
	}
	return m, nil
}

// Receive returns the bodies of the messages in the queue, deleting them.
func (m *Mailbox) Receive(tb testing.TB) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bodies, err := m.ReceiveContext(ctx)
	if err != nil {
		tb.Fatalf("mototest: %v", err)
	}
	return bodies
}

// ReceiveContext is [Mailbox.Receive] outside of a test.
func (m *Mailbox) ReceiveContext(ctx context.Context) ([]string, error) {
	var bodies []string
	for {
		var out struct {
			Messages []struct{ Body, ReceiptHandle string }
		}
		if err := m.sqs(ctx, "ReceiveMessage", map[string]any{"QueueUrl": m.url, "MaxNumberOfMessages": 10}, &out); err != nil {
			return bodies, err
		}
		if len(out.Messages) == 0 {
			return bodies, nil
		}
		for _, msg := range out.Messages {
			bodies = append(bodies, msg.Body)
			if err := m.sqs(ctx, "DeleteMessage", map[string]any{"QueueUrl": m.url, "ReceiptHandle": msg.ReceiptHandle}, nil); err != nil {
				return bodies, err
			}
		}
	}
}

// sqs calls moto's SQS through its JSON protocol, directly (uncounted).
// The module has no SQS SDK client: the function never calls SQS.
func (m *Mailbox) sqs(ctx context.Context, op string, in map[string]any, out any) error {
	m.s.mu.Lock()
	base := m.s.motoURL
	m.s.mu.Unlock()
	if base == nil {
		return fmt.Errorf("sqs %s: the server is stopped", op)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS."+op)
	// moto routes a request by the service its credential scope names; it
	// does not check the signature.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/20260101/"+Region+"/sqs/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := m.s.transport.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("sqs %s: %w", op, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return fmt.Errorf("sqs %s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sqs %s: HTTP %d: %s", op, resp.StatusCode, buf.String())
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("sqs %s: %w: %s", op, err, buf.String())
	}
	return nil
}
