// Package outcome puts payjs-close's outcome events on an EventBridge
// event bus: one event per queued or scheduled close that ended, so that
// the shop hears whether PAYJS closed the order, found it paid, or refused
// for good. It is the EventBridge side of handler.Publisher (the handler
// builds the events; cmd/closeorder/wire converts them to Entry values):
//
//	pub := outcome.New(awsCfg, outcome.Config{Bus: "shop-events"}) // PAYJS_OUTCOME_BUS
//	errs := pub.Publish(ctx, []outcome.Entry{{DetailType: "PAYJS Order Closed", Detail: detailJSON}})
//
// Entries go out 10 to a PutEvents call, the most EventBridge takes. The
// SDK client is made on first use, so a sandbox that publishes nothing
// never builds it; the SDK reads AWS_ENDPOINT_URL_EVENTBRIDGE itself.
// Publish answers one error per entry: the call's error for every entry
// of a failed call, or EventBridge's ErrorCode and ErrorMessage for an
// entry it refused ([*EntryError]).
package outcome

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// API is the part of the EventBridge SDK client this package calls;
// *eventbridge.Client implements it.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Config is where events go.
type Config struct {
	// Bus is the event bus's name or ARN (PAYJS_OUTCOME_BUS).
	Bus string
	// Source is every event's source; "" is DefaultSource.
	Source string
}

// DefaultSource is the source of payjs-close's events.
const DefaultSource = "payjs-close"

// MaxEntries is how many entries one PutEvents call takes.
const MaxEntries = 10

// Entry is one event: its detail-type and its detail, a JSON object.
type Entry struct {
	DetailType string
	Detail     []byte
}

// EntryError is EventBridge refusing one entry of a PutEvents call that
// succeeded as a whole.
type EntryError struct {
	// Code and Message are the entry's ErrorCode and ErrorMessage, such as
	// "ThrottlingException" or "InternalFailure".
	Code, Message string
}

func (e *EntryError) Error() string {
	return "eventbridge refused the event: " + e.Code + ": " + e.Message
}

// Client puts entries on one bus.
type Client struct {
	cfg Config
	api func() API
}

// New returns a Client that builds its SDK client from awsCfg on first
// use.
func New(awsCfg aws.Config, cfg Config) *Client {
	return NewWithAPI(sync.OnceValue(func() API { return eventbridge.NewFromConfig(awsCfg) }), cfg)
}

// NewWithAPI returns a Client calling the API that api returns.
func NewWithAPI(api func() API, cfg Config) *Client {
	cfg.Source = cmp.Or(cfg.Source, DefaultSource)
	return &Client{cfg: cfg, api: api}
}

// Publish puts entries on the bus, MaxEntries to a call, one call after
// another, and returns one error per entry: nil when it is on the bus.
func (c *Client) Publish(ctx context.Context, entries []Entry) []error {
	errs := make([]error, len(entries))
	for start := 0; start < len(entries); start += MaxEntries {
		chunk := entries[start:min(start+MaxEntries, len(entries))]
		c.put(ctx, chunk, errs[start:start+len(chunk)])
	}
	return errs
}

// put sends one PutEvents call for chunk and fills errs, one per entry.
func (c *Client) put(ctx context.Context, chunk []Entry, errs []error) {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(chunk))}
	for i, e := range chunk {
		in.Entries[i] = types.PutEventsRequestEntry{
			EventBusName: aws.String(c.cfg.Bus),
			Source:       aws.String(c.cfg.Source),
			DetailType:   aws.String(e.DetailType),
			Detail:       aws.String(string(e.Detail)),
		}
	}
	out, err := c.api().PutEvents(ctx, in)
	if err == nil && len(out.Entries) != len(chunk) {
		err = fmt.Errorf("eventbridge answered %d entries for %d events", len(out.Entries), len(chunk))
	}
	if err != nil {
		err = fmt.Errorf("eventbridge PutEvents: %w", err)
		for i := range errs {
			errs[i] = err
		}
		return
	}
	for i, r := range out.Entries {
		if r.ErrorCode != nil || r.EventId == nil {
			errs[i] = &EntryError{Code: aws.ToString(r.ErrorCode), Message: aws.ToString(r.ErrorMessage)}
		}
	}
}
