package handler

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/handler/closing"
)

// TestEveryMetricCarriesTheStack: with a stack, every metric of every
// kind is published with Stack first in its dimension set, so that the
// alarms of one stack never count another's closes; without one, the
// dimension sets are as before.
func TestEveryMetricCarriesTheStack(t *testing.T) {
	emitAll := func(o *Observer) {
		ctx := context.Background()
		o.coldStart()
		o.SecretLoaded(true, 30*time.Millisecond)
		o.SecretLoaded(false, time.Second)
		o.KeyMismatch(ctx, closing.Request{PayjsOrderID: order1})
		o.Scheduled(ctx, "create", closing.Request{PayjsOrderID: order1}, time.Now().Add(time.Hour))
		o.served(ctx, EventSQS, "m1", closing.Request{PayjsOrderID: order1}, &closing.Result{OK: true, Status: closing.StatusClosed, Attempts: 1}, time.Millisecond, nil)
		res := closing.Failed(closing.Errorf(closing.CodePayjsTimeout, "slow"))
		o.served(ctx, EventDirect, "", closing.Request{PayjsOrderID: order1}, &res, time.Millisecond, nil)
	}
	var plain, staged strings.Builder
	base := NewJSONObserver(&plain, slog.LevelInfo)
	withStack := NewJSONObserver(&staged, slog.LevelInfo).WithStack("payjs-close-staging")
	emitAll(base)
	emitAll(withStack)

	without := metricsIn(t, plain.String())
	with := metricsIn(t, staged.String())
	if len(with) == 0 || len(with) != len(without) {
		t.Fatalf("%d metrics with a stack, %d without", len(with), len(without))
	}
	for name, v := range without {
		i := strings.Index(name, "[")
		dims := name[i+1 : len(name)-1]
		want := name[:i] + "[Stack=payjs-close-staging"
		if dims != "" {
			want += "," + dims
		}
		want += "]"
		if got, ok := with[want]; !ok || got != v {
			t.Errorf("%s without a stack; with one, want %s = %v, got %v (all: %v)", name, want, v, got, with)
		}
	}
	if strings.Contains(plain.String(), "Stack") {
		t.Errorf("the observer without a stack printed one:\n%s", plain.String())
	}
}
