package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// outcomeEvents returns the events `make run` printed.
func outcomeEvents(t *testing.T, logs string) []eventBridgeEvent {
	t.Helper()
	var evs []eventBridgeEvent
	for line := range strings.Lines(logs) {
		var l struct {
			Message string
			Bus     string
			Event   *eventBridgeEvent
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Event == nil {
			continue
		}
		if l.Bus != localBus || !strings.HasPrefix(l.Message, "outcome event") {
			t.Errorf("event line %s", line)
		}
		evs = append(evs, *l.Event)
	}
	return evs
}

func TestRunPrintsTheScheduledClosesOutcome(t *testing.T) {
	t.Parallel()
	f := newSchedFixture(t)
	f.do(t, http.MethodPost, payjstest.DemoOrderUnpaid(2), "") // an HTTP close: its caller has the answer
	id := payjstest.DemoOrderUnpaid(1)
	f.schedule(t, id, "15m")
	f.clock.Advance(15 * time.Minute)

	evs := outcomeEvents(t, f.logs.String())
	if len(evs) != 1 {
		t.Fatalf("%d events printed, want 1 (the scheduled close's):\n%s", len(evs), f.logs.String())
	}
	ev := evs[0]
	var d handler.OutcomeDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	if ev.Source != "payjs-close" || ev.DetailType != "PAYJS Order Closed" || ev.Version != "0" || ev.ID == "" ||
		d.PayjsOrderID != id || d.Status != "closed" || !d.Scheduled || d.MchID != payjstest.DemoMchID || d.RequestID == "" {
		t.Errorf("event %+v, detail %s", ev, ev.Detail)
	}
}

func TestRunPrintsEveryOutcomeWhenAsked(t *testing.T) {
	t.Parallel()
	sim := payjstest.NewServer(payjstest.WithDemoData())
	t.Cleanup(sim.Close)
	sched := newLocalScheduler()
	f := &schedFixture{sim: sim, sched: sched, logs: &testlog.Buffer{}}
	h, closeIdle, err := newLocalHandler(sim.URL, func(k string) string {
		if k == "PAYJS_OUTCOME_ALL" {
			return "true"
		}
		return ""
	}, f.logs, sched)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeIdle)
	t.Cleanup(sched.Stop)
	f.gw = &gateway{fn: h, timeout: functionTimeout}
	if r := f.do(t, http.MethodPost, payjstest.DemoOrderPaid, ""); r.status != http.StatusConflict {
		t.Fatalf("POST paid order: %d %v", r.status, r.body)
	}
	evs := outcomeEvents(t, f.logs.String())
	if len(evs) != 1 || evs[0].DetailType != "PAYJS Order Paid" {
		t.Fatalf("events %+v, want one PAYJS Order Paid", evs)
	}
}

// TestREADMEShowsTheEventsShape: the README's example event has exactly
// the members of the event `make run` prints, envelope and detail.
func TestREADMEShowsTheEventsShape(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Outcome events")
	_, block, ok := strings.Cut(section, "```json\n")
	block, _, _ = strings.Cut(block, "```")
	var documented map[string]any
	if !ok || json.Unmarshal([]byte(block), &documented) != nil {
		t.Fatalf("no JSON example event in the README's Outcome events section:\n%s", block)
	}

	f := newSchedFixture(t)
	f.schedule(t, payjstest.DemoOrderPaid, "15m")
	f.clock.Advance(15 * time.Minute)
	evs := outcomeEvents(t, f.logs.String())
	if len(evs) != 1 || evs[0].DetailType != "PAYJS Order Paid" {
		t.Fatalf("events %+v, want one PAYJS Order Paid", evs)
	}
	b, _ := json.Marshal(evs[0])
	var printed map[string]any
	if err := json.Unmarshal(b, &printed); err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(documented)), slices.Sorted(maps.Keys(printed)); !slices.Equal(got, want) {
		t.Errorf("README event members %v, printed %v", got, want)
	}
	dd, _ := documented["detail"].(map[string]any)
	pd, _ := printed["detail"].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(dd)), slices.Sorted(maps.Keys(pd)); !slices.Equal(got, want) {
		t.Errorf("README detail members %v, printed %v", got, want)
	}
	for _, k := range []string{"source", "detail-type"} {
		if documented[k] != printed[k] {
			t.Errorf("README %s %v, printed %v", k, documented[k], printed[k])
		}
	}
}
