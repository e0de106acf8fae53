package devstack

import (
	"context"
	"fmt"
)

// startOutcomes creates the event bus bus in moto, with a rule sending
// every payjs-close event to a queue (st.Outcomes), and returns the
// function's configuration for it: PAYJS_OUTCOME_BUS, with moto as
// AWS_ENDPOINT_URL_EVENTBRIDGE. An empty bus publishes nothing.
func (st *Stack) startOutcomes(ctx context.Context, bus string) (map[string]string, error) {
	if bus == "" {
		return nil, nil
	}
	m, err := st.Moto.CreateEventBusContext(ctx, bus, "")
	if err != nil {
		return nil, fmt.Errorf("outcome bus in moto: %w", err)
	}
	st.Outcomes = m
	return map[string]string{"PAYJS_OUTCOME_BUS": bus, "AWS_ENDPOINT_URL_EVENTBRIDGE": st.Moto.URL}, nil
}
