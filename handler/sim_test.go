package handler

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// simHarness is a Handler with the real PAYJS client, talking to the
// PAYJS simulator with the demo data.
func simHarness(t *testing.T, opts ...payjs.Option) (*harness, *payjstest.Server) {
	t.Helper()
	sim := payjstest.NewServer(payjstest.WithDemoData())
	t.Cleanup(sim.Close)
	hs := newHarness(t)
	hc := payjs.NewHTTPClient()
	hs.h.deps.NewCloser = func(key string) (closing.Closer, error) {
		o := append([]payjs.Option{payjs.WithBaseURL(sim.URL), payjs.WithHTTPClient(hc), payjs.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
		return payjs.NewClient(key, o...)
	}
	hs.rebuild()
	return hs, sim
}

// answer runs payload and returns the normalized result and, for HTTP
// kinds, the status, whatever the kind.
func (hs *harness) answer(t *testing.T, kind EventKind, payload []byte) (closing.Result, int, bool) {
	t.Helper()
	out, lerr := hs.invoke(t, payload)
	if lerr != nil {
		return decodeResult(t, []byte(lerr.Message)), 0, true
	}
	res, status := readAnswer(t, kind, out)
	return res, status, false
}

// readAnswer returns the Result of an answer of kind and, for HTTP kinds,
// its status.
func readAnswer(t *testing.T, kind EventKind, out []byte) (closing.Result, int) {
	t.Helper()
	switch kind {
	case EventHTTPAPI, EventRESTAPI, EventFunctionURL:
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return decodeResult(t, []byte(resp.Body)), resp.StatusCode
	}
	return decodeResult(t, out), 0
}

func direct(id string) []byte {
	return []byte(`{"payjs_order_id":"` + id + `","mchid":"` + payjstest.DemoMchID + `"}`)
}

// TestEverySampleClosesAgainstTheSimulator closes a demo order through
// each sample event and checks PAYJS's side: the order is closed.
func TestEverySampleClosesAgainstTheSimulator(t *testing.T) {
	cases := []struct {
		file  string
		kind  EventKind
		order string
	}{
		{"http-api.json", EventHTTPAPI, payjstest.DemoOrderUnpaid(1)},
		{"rest-api.json", EventRESTAPI, payjstest.DemoOrderUnpaid(2)},
		{"function-url.json", EventFunctionURL, payjstest.DemoOrderUnpaid(3)},
		{"eventbridge.json", EventBridge, payjstest.DemoOrderUnpaid(4)},
		{"direct.json", EventDirect, payjstest.DemoOrderUnpaid(7)},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			hs, sim := simHarness(t)
			r, status, lerr := hs.answer(t, tc.kind, event(t, tc.file))
			if lerr || !r.OK || r.PayjsOrderID != tc.order || !r.Verified || r.Attempts != 1 || r.Upstream == nil || r.Upstream.ReturnCode != 1 {
				t.Fatalf("result = %+v (lambda error %v)", r, lerr)
			}
			if status != 0 && status != http.StatusOK {
				t.Errorf("status = %d", status)
			}
			if o, _ := sim.Order(tc.order); o.State != payjstest.StateClosed {
				t.Errorf("simulator order state = %v, want closed", o.State)
			}
		})
	}
}

// TestEveryUpstreamErrorCodeAgainstTheSimulator produces each error code
// that depends on PAYJS, through the real client and simulator.
func TestEveryUpstreamErrorCodeAgainstTheSimulator(t *testing.T) {
	cases := []struct {
		name      string
		fault     *payjstest.Fault
		order     string
		opts      []payjs.Option
		code      closing.Code
		attempts  int
		upstream  bool
		returnMsg string
	}{
		{name: "already paid", order: payjstest.DemoOrderPaid, code: closing.CodeOrderPaid, attempts: 1, upstream: true, returnMsg: payjstest.MsgAlreadyPaid},
		{name: "refusal in msg", fault: &payjstest.Fault{Kind: payjstest.FaultBody, Body: `{"return_code":0,"msg":"订单已支付"}`}, order: payjstest.DemoOrderUnpaid(1), code: closing.CodeOrderPaid, attempts: 1, upstream: true, returnMsg: payjstest.MsgAlreadyPaid},
		{name: "key mismatch", order: payjstest.DemoOrderUnpaid(1), code: closing.CodeKeyMismatch, attempts: 1, upstream: true, returnMsg: payjstest.MsgBadSign},
		{name: "older than 30 days", order: payjstest.DemoOrderExpired, code: closing.CodePayjsRejected, attempts: 1, upstream: true, returnMsg: payjstest.MsgExpired},
		{name: "unknown order", order: "2026112599999999999999999999", code: closing.CodePayjsRejected, attempts: 1, upstream: true},
		{name: "wrong signature", fault: &payjstest.Fault{Kind: payjstest.FaultWrongSign}, order: payjstest.DemoOrderUnpaid(1), code: closing.CodePayjsBadResponse, attempts: 1},
		{name: "HTML page", fault: &payjstest.Fault{Kind: payjstest.FaultHTML}, order: payjstest.DemoOrderUnpaid(1), code: closing.CodePayjsBadResponse, attempts: 1},
		{name: "unsigned in strict mode", fault: &payjstest.Fault{Kind: payjstest.FaultNoSign}, order: payjstest.DemoOrderUnpaid(1), opts: []payjs.Option{payjs.WithRequireSignature(true)}, code: closing.CodePayjsBadResponse, attempts: 1},
		{name: "503 every time", order: payjstest.DemoOrderUnavailable, code: closing.CodePayjsUnavailable, attempts: payjs.DefaultMaxAttempts},
		{name: "slower than the budget", fault: &payjstest.Fault{Kind: payjstest.FaultLatency, Delay: 2 * time.Second}, order: payjstest.DemoOrderUnpaid(1), opts: []payjs.Option{payjs.WithTimeout(150 * time.Millisecond)}, code: closing.CodePayjsTimeout, attempts: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs, sim := simHarness(t, tc.opts...)
			if tc.code == closing.CodeKeyMismatch {
				sim.AddMerchant(payjstest.DemoMchID, "the-key-the-merchant-set-at-payjs")
			}
			if tc.fault != nil {
				sim.Inject(*tc.fault)
			}
			// The same failure through a direct invoke and over HTTP.
			r, _, lerr := hs.answer(t, EventDirect, direct(tc.order))
			if r.Failure == nil || r.Failure.Code != tc.code || r.OK {
				t.Fatalf("result = %+v, want %s", r, tc.code)
			}
			if lerr != tc.code.Retryable() {
				t.Errorf("answered as a Lambda error: %v, want %v", lerr, tc.code.Retryable())
			}
			if r.Attempts != tc.attempts {
				t.Errorf("attempts = %d, want %d", r.Attempts, tc.attempts)
			}
			if (r.Upstream != nil) != tc.upstream {
				t.Errorf("upstream = %+v, want present: %v", r.Upstream, tc.upstream)
			}
			if tc.returnMsg != "" && r.Upstream.ReturnMsg != tc.returnMsg {
				t.Errorf("return_msg = %q, want %q", r.Upstream.ReturnMsg, tc.returnMsg)
			}
			if tc.fault != nil {
				sim.Inject(*tc.fault)
			}
			httpOrder := tc.order
			if httpOrder == payjstest.DemoOrderUnpaid(1) {
				httpOrder = payjstest.DemoOrderUnpaid(2) // faults that close order 1 on the way
			}
			_, status, _ := hs.answer(t, EventHTTPAPI, event(t, "http-api.json", setPathID(httpOrder)))
			if status != tc.code.HTTPStatus() {
				t.Errorf("HTTP status = %d, want %d", status, tc.code.HTTPStatus())
			}
		})
	}
}

func TestUnsignedSuccessIsUnverifiedByDefault(t *testing.T) {
	hs, sim := simHarness(t)
	sim.Inject(payjstest.Fault{Kind: payjstest.FaultNoSign})
	r, _, lerr := hs.answer(t, EventDirect, direct(payjstest.DemoOrderUnpaid(5)))
	if lerr || !r.OK || r.Verified {
		t.Fatalf("result = %+v, want ok and unverified", r)
	}
	if n := strings.Count(hs.out.String(), `"UnverifiedSuccesses":1`); n != 1 {
		t.Errorf("UnverifiedSuccesses counted %d times", n)
	}
}

func TestSQSSampleAgainstTheSimulator(t *testing.T) {
	hs, sim := simHarness(t)
	out, lerr := hs.invoke(t, event(t, "sqs.json"))
	if lerr != nil {
		t.Fatal(lerr)
	}
	if string(out) != `{"batchItemFailures":[{"itemIdentifier":"msg-0503"}]}` {
		t.Errorf("answer = %s", out)
	}
	for _, id := range []string{payjstest.DemoOrderUnpaid(5), payjstest.DemoOrderUnpaid(6)} {
		if o, _ := sim.Order(id); o.State != payjstest.StateClosed {
			t.Errorf("order %s is %v, want closed", id, o.State)
		}
	}
}

func TestWarmInvokesReuseOneConnection(t *testing.T) {
	hs, sim := simHarness(t)
	for n := 1; n <= 9; n++ {
		if r, _, _ := hs.answer(t, EventDirect, direct(payjstest.DemoOrderUnpaid(n))); !r.OK {
			t.Fatalf("close %d: %+v", n, r)
		}
	}
	if c := sim.Connections(); c != 1 {
		t.Errorf("9 sequential closes opened %d connections, want 1", c)
	}
}

// TestAlreadyClosedAgainstTheSimulator: a close is idempotent. Closing a
// closed order succeeds, and a close whose answer was lost after PAYJS
// applied it ends already_closed when it is tried again: within the same
// invoke for an HTTP 502 (retried by the client), at the caller's retry
// for an answer cut short (retryable, not retried within the close).
func TestAlreadyClosedAgainstTheSimulator(t *testing.T) {
	hs, sim := simHarness(t)
	r, status, lerr := hs.answer(t, EventHTTPAPI, event(t, "http-api.json", setPathID(payjstest.DemoOrderClosed)))
	if lerr || !r.OK || r.Status != closing.StatusAlreadyClosed || status != http.StatusOK || r.Upstream == nil || r.Upstream.ReturnMsg != payjstest.MsgAlreadyClosed {
		t.Errorf("closed order: %d %+v", status, r)
	}

	sim.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: http.StatusBadGateway, AfterClose: true})
	r, _, lerr = hs.answer(t, EventDirect, direct(payjstest.DemoOrderUnpaid(1)))
	if lerr || r.Status != closing.StatusAlreadyClosed || r.Attempts != 2 {
		t.Errorf("502 after the close: %+v, want already_closed after 2 attempts", r)
	}

	id := payjstest.DemoOrderUnpaid(2)
	sim.Inject(payjstest.Fault{Kind: payjstest.FaultTruncated})
	r, _, lerr = hs.answer(t, EventDirect, direct(id))
	if !lerr || r.Code() != closing.CodePayjsBadResponse {
		t.Fatalf("answer cut short: %+v, want a retryable payjs_bad_response", r)
	}
	if o, _ := sim.Order(id); o.State != payjstest.StateClosed {
		t.Fatalf("the order is %v, want closed by the first try", o.State)
	}
	r, _, lerr = hs.answer(t, EventDirect, direct(id)) // the caller's retry
	if lerr || !r.OK || r.Status != closing.StatusAlreadyClosed {
		t.Errorf("retry after a lost answer: %+v, want already_closed", r)
	}
}
