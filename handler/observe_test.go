package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// emfLine is an Embedded Metric Format line as CloudWatch reads it.
type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

// metricsIn decodes every EMF line of out and returns, for each metric,
// its value and dimension set as "Name[Dim=Value]" or "Name[]". It fails
// the test for a line CloudWatch would not accept.
func metricsIn(t *testing.T, out string) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for line := range strings.Lines(out) {
		if !strings.Contains(line, `"_aws"`) {
			continue
		}
		var e emfLine
		var values map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || json.Unmarshal([]byte(line), &values) != nil {
			t.Fatalf("metric line is not JSON: %s", line)
		}
		if e.AWS.Timestamp == 0 || len(e.AWS.CloudWatchMetrics) == 0 {
			t.Fatalf("metric line without a timestamp or directives: %s", line)
		}
		for _, d := range e.AWS.CloudWatchMetrics {
			if d.Namespace != Namespace || len(d.Dimensions) != 1 {
				t.Fatalf("directive in namespace %q with %d dimension sets: %s", d.Namespace, len(d.Dimensions), line)
			}
			var dimList []string
			for _, name := range d.Dimensions[0] {
				v, ok := values[name].(string)
				if !ok {
					t.Fatalf("dimension %s has no string value: %s", name, line)
				}
				dimList = append(dimList, name+"="+v)
			}
			dims := strings.Join(dimList, ",")
			for _, m := range d.Metrics {
				v, ok := values[m.Name].(float64)
				if !ok || m.Unit == "" {
					t.Fatalf("metric %s has no number or no unit: %s", m.Name, line)
				}
				got[m.Name+"["+dims+"]"] += v
			}
		}
	}
	return got
}

func TestMetricsOfEachOutcome(t *testing.T) {
	cases := []struct {
		name string
		res  closing.Result
		kind EventKind
		want []string
	}{
		{"closed", closing.Result{OK: true, Status: closing.StatusClosed, Verified: true, Attempts: 1}, EventDirect,
			[]string{"Closes[Outcome=closed]", "UpstreamLatency[]"}},
		{"closed unsigned", closing.Result{OK: true, Status: closing.StatusClosed, Attempts: 1}, EventDirect,
			[]string{"Closes[Outcome=closed]", "UpstreamLatency[]", "UnverifiedSuccesses[]"}},
		{"already closed", closing.Result{OK: true, Status: closing.StatusAlreadyClosed, Attempts: 1}, EventDirect,
			[]string{"Closes[Outcome=already_closed]", "UpstreamLatency[]"}},
		{"paid", closing.Failed(closing.Errorf(closing.CodeOrderPaid, "paid")), EventDirect,
			[]string{"Closes[Outcome=paid]", "PaidOrders[]"}},
		{"retryable", closing.Failed(closing.Errorf(closing.CodePayjsTimeout, "slow")), EventDirect,
			[]string{"Closes[Outcome=error]", "RetryableFailures[]"}},
		{"paid on SQS: an outcome, not a failure", closing.Failed(closing.Errorf(closing.CodeOrderPaid, "paid")), EventSQS,
			[]string{"Closes[Outcome=paid]", "PaidOrders[]"}},
		{"cancel of nothing on SQS: nothing left to do", closing.Failed(closing.Errorf(closing.CodeNotScheduled, "none")), EventSQS,
			[]string{"Closes[Outcome=invalid]"}},
		{"permanent on SQS", closing.Failed(closing.Errorf(closing.CodeInvalidOrderID, "bad")), EventSQS,
			[]string{"Closes[Outcome=invalid]", "SQSPermanentFailures[]"}},
		{"scheduled", closing.Result{OK: true, Status: closing.StatusScheduled}, EventHTTPAPI,
			[]string{"Closes[Outcome=scheduled]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			o := NewJSONObserver(&out, slog.LevelInfo)
			o.served(context.Background(), tc.kind, "", closing.Request{PayjsOrderID: order1}, &tc.res, time.Millisecond, nil)
			got := metricsIn(t, out.String())
			names := make([]string, 0, len(got))
			for name, v := range got {
				if v != 1 && !strings.HasPrefix(name, "UpstreamLatency") {
					t.Errorf("%s = %v, want 1", name, v)
				}
				names = append(names, name)
			}
			slices.Sort(names)
			slices.Sort(tc.want)
			if !slices.Equal(names, tc.want) {
				t.Errorf("metrics %v, want %v", names, tc.want)
			}
		})
	}
}

func TestOtherMetrics(t *testing.T) {
	var out strings.Builder
	o := NewJSONObserver(&out, slog.LevelInfo)
	o.coldStart()
	o.SecretLoaded(true, 30*time.Millisecond)
	o.SecretLoaded(false, time.Second)
	o.KeyMismatch(context.Background(), closing.Request{PayjsOrderID: order1})
	o.KeyRotationHealed(context.Background(), closing.Request{PayjsOrderID: order1})
	o.Scheduled(context.Background(), "create", closing.Request{PayjsOrderID: order1}, time.Now().Add(time.Hour))
	o.Scheduled(context.Background(), "cancel", closing.Request{PayjsOrderID: order1}, time.Time{})
	got := metricsIn(t, out.String())
	want := map[string]float64{
		"ColdStarts[]": 1, "SecretLoads[Result=ok]": 1, "SecretLoadLatency[Result=ok]": 30,
		"SecretLoads[Result=error]": 1, "SecretLoadLatency[Result=error]": 1000,
		"KeyMismatches[]": 1, "KeyRotationsHealed[]": 1, "Schedules[Action=create]": 1, "Schedules[Action=cancel]": 1,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v (all: %v)", name, got[name], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d metrics, want %d: %v", len(got), len(want), got)
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	hs := newHarness(t)
	var out testlog.Buffer
	hs.h.deps.Obs = NewJSONObserver(&out, slog.LevelInfo)
	hs.rebuild()
	if _, lerr := hs.invoke(t, event(t, "sqs.json")); lerr != nil {
		t.Fatal(lerr)
	}
	lines := 0
	for line := range strings.Lines(out.String()) {
		lines++
		if !json.Valid([]byte(line)) {
			t.Errorf("torn line: %q", line)
		}
	}
	m := metricsIn(t, out.String())
	if got := m["Closes[Outcome=closed]"] + m["Closes[Outcome=invalid]"]; got != 5 || lines != 11 { // a log and a metric line per record, and the cold start
		t.Errorf("5 records counted %v closes in %d lines", got, lines)
	}
	recordOutput(t, out.String())
}
