package main

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// TestEmittedMetricsMatchTheAlarmsAndDashboard runs the real bootstrap
// under the emulator through every outcome, reads the Embedded Metric
// Format lines it prints, and checks them against emittedMetrics, the
// table the template's alarms and dashboard are checked against
// (TestTemplateAlarmsAndDashboardUseOnlyMetricsTheFunctionEmits): every
// metric, unit, dimension set and dimension value the table names is
// emitted, and nothing else is. The bootstrap runs with the template's PAYJS_METRICS_STACK for
// a stack of a known name, and every alarm on a metric of the function, its dimensions resolved
// for that stack, watches a metric the bootstrap printed.
func TestEmittedMetricsMatchTheAlarmsAndDashboard(t *testing.T) {
	t.Parallel()
	const stack = "payjs-close-metrics"
	st, out := devstack.StartTest(t, devstack.Options{Root: repoRoot, Env: stackEnv(t, stack), OutcomeBus: outcomeBus})
	direct := func(id, extra string) []byte {
		return []byte(`{"payjs_order_id":"` + id + `"` + extra + `}`)
	}
	invoke := func(payload []byte) {
		t.Helper()
		_, _ = e2eInvoke(t, st, payload) // retryable outcomes are Lambda errors: expected
	}
	invoke(direct(payjstest.DemoOrderUnpaid(1), ""))                                                                  // closed (cold start, secret loaded)
	invoke(direct(payjstest.DemoOrderUnpaid(1), ""))                                                                  // already_closed
	invoke(direct(payjstest.DemoOrderPaid, ""))                                                                       // paid
	invoke(direct(payjstest.DemoOrderExpired, ""))                                                                    // rejected
	invoke(direct(payjstest.DemoOrderUnavailable, ""))                                                                // error: retryable
	invoke(direct(payjstest.DemoOrderUnpaid(2), `,"close_after":"15m"`))                                              // scheduled: create
	invoke(direct(payjstest.DemoOrderUnpaid(2), `,"close_after":"20m"`))                                              // reschedule
	invoke(direct(payjstest.DemoOrderUnpaid(2), `,"action":"cancel"`))                                                // cancel
	invoke([]byte(`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":"{\"payjs_order_id\":\"bad!\"}"}]}`)) // invalid, on SQS
	st.Moto.Fail(mototest.OpPutEvents, mototest.AccessDenied())
	invoke(devstack.SQSEvent(string(direct(payjstest.DemoOrderUnpaid(7), `,"scheduled":true`)))) // closed from the queue, outcome not published
	st.Moto.ClearFaults()
	st.Sim.Inject(payjstest.Fault{Kind: payjstest.FaultNoSign})
	invoke(direct(payjstest.DemoOrderUnpaid(3), "")) // unverified success
	// The merchant rotates the key at PAYJS and in the secret: the close
	// that PAYJS refuses with the old key heals with the new one.
	const rotated = "the-rotated-key-of-the-merchant"
	st.Moto.PutSecretValue(t, devstack.SecretName, `{"mchid":"`+payjstest.DemoMchID+`","key":"`+rotated+`"}`)
	st.Sim.AddMerchant(payjstest.DemoMchID, rotated)
	invoke(direct(payjstest.DemoOrderUnpaid(5), "")) // key rotation healed
	// A fresh sandbox, so that the next forced refresh is not within 10 s
	// of the last one.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := st.Emulator.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	invoke(direct(payjstest.DemoOrderUnpaid(6), "")) // closed with the rotated key, loaded at the cold start
	// PAYJS holds another key, and the forced refresh of the secret fails.
	st.Sim.AddMerchant(payjstest.DemoMchID, "the-key-the-merchant-set-at-payjs")
	st.Moto.Fail("GetSecretValue", mototest.InternalError())
	invoke(direct(payjstest.DemoOrderUnpaid(4), "")) // key mismatch, secret load error

	got := map[string]bool{} // "Name Unit [Dim=Value]"
	for line := range strings.Lines(out.String()) {
		if i := strings.Index(line, "{"); i >= 0 && strings.Contains(line, `"_aws":`) {
			for _, m := range emfMetrics(t, line[i:]) {
				got[m] = true
			}
		}
	}
	// Every metric carries the stack first, then its own dimension.
	stackDim := handler.StackDimension + "=" + stack
	var want []string
	for _, m := range emittedMetrics {
		if len(m.Dimensions) == 0 {
			want = append(want, m.Name+" "+m.Unit+" ["+stackDim+"]")
		}
		for dim, values := range m.Dimensions {
			for _, v := range values {
				want = append(want, m.Name+" "+m.Unit+" ["+stackDim+","+dim+"="+v+"]")
			}
		}
	}
	sort.Strings(want)
	for _, w := range want {
		if !got[w] {
			t.Errorf("the function never emitted %s, which the alarms and dashboard may use", w)
		}
	}
	for g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("the function emitted %s, which is not in emittedMetrics", g)
		}
	}

	// The alarms, as CloudFormation would resolve them in a stack of that name.
	printed := map[string]bool{} // "Name [Dim=Value,...]", dimensions as the line orders them
	for g := range got {
		name, rest, _ := strings.Cut(g, " ")
		_, dims, _ := strings.Cut(rest, " ")
		printed[name+" "+dims] = true
	}
	var alarms int
	for name, a := range resourcesOfType(t, loadTemplate(t), "AWS::CloudWatch::Alarm") {
		p := getObj(t, a, "Properties")
		if getString(t, p, "Namespace") != emittedNamespace {
			continue
		}
		alarms++
		var dims []string
		for _, d := range getList(t, p, "Dimensions") {
			v := get(t, d, "Value")
			if jsonEqual(v, ref("AWS::StackName")) {
				v = stack
			}
			dims = append(dims, getString(t, d, "Name")+"="+asString(t, v))
		}
		if key := getString(t, p, "MetricName") + " [" + strings.Join(dims, ",") + "]"; !printed[key] {
			t.Errorf("alarm %s watches %s, which the bootstrap never printed", name, key)
		}
	}
	if alarms == 0 {
		t.Errorf("no alarm watches a metric of the function")
	}
}

// emfMetrics reads one EMF line as "Name Unit [Dim=Value]" entries, one
// per metric and dimension set, failing the test for a line CloudWatch
// would not take.
func emfMetrics(t *testing.T, line string) []string {
	t.Helper()
	var e struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	var values map[string]any
	if json.Unmarshal([]byte(line), &e) != nil || json.Unmarshal([]byte(line), &values) != nil || e.AWS.Timestamp == 0 {
		t.Fatalf("not an EMF line: %s", line)
	}
	var out []string
	for _, d := range e.AWS.CloudWatchMetrics {
		if d.Namespace != emittedNamespace {
			t.Errorf("namespace %q in %s", d.Namespace, line)
		}
		for _, set := range d.Dimensions {
			var dims []string
			for _, name := range set {
				v, ok := values[name].(string)
				if !ok {
					t.Errorf("dimension %s has no value in %s", name, line)
				}
				dims = append(dims, name+"="+v)
			}
			for _, m := range d.Metrics {
				if _, ok := values[m.Name].(float64); !ok {
					t.Errorf("metric %s has no value in %s", m.Name, line)
				}
				out = append(out, m.Name+" "+m.Unit+" ["+strings.Join(dims, ",")+"]")
			}
		}
	}
	return out
}
