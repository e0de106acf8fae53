package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/payjs-close/payjs-close/handler"
)

// localBus is the event bus `make run` names when PAYJS_OUTCOME_BUS is
// unset.
const localBus = "payjs-close-local"

// printPublisher stands in for EventBridge under `make run`: it logs each
// outcome event the function would put on the bus, in the shape a rule's
// target receives it, and publishes nothing. Scheduled closes publish (as
// deployed); PAYJS_OUTCOME_ALL=true makes the HTTP API's closes publish
// too.
type printPublisher struct {
	log *slog.Logger
	bus string
	now func() time.Time
	n   atomic.Int64
}

// Publish logs every event and reports each as published.
func (p *printPublisher) Publish(ctx context.Context, evs []handler.OutcomeEvent) []error {
	errs := make([]error, len(evs))
	for i, ev := range evs {
		b, err := json.Marshal(eventBridgeEvent{
			Version: "0", ID: fmt.Sprintf("local-event-%06d", p.n.Add(1)), DetailType: ev.DetailType,
			Source: handler.OutcomeSource, Account: "000000000000", Time: p.now().UTC().Format(time.RFC3339),
			Region: "local", Resources: []string{}, Detail: ev.Detail,
		})
		if err != nil {
			errs[i] = err
			continue
		}
		p.log.LogAttrs(ctx, slog.LevelInfo, "outcome event (make run prints it; deployed, it goes to the bus)",
			slog.String("bus", p.bus), slog.Any("event", json.RawMessage(b)))
	}
	return errs
}

// eventBridgeEvent is an event as EventBridge delivers it to a target.
type eventBridgeEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}
