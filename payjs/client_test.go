package payjs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// newSim starts a simulator with the demo data, closed with the test.
func newSim(t testing.TB) *payjstest.Server {
	t.Helper()
	srv := payjstest.NewServer(payjstest.WithDemoData())
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client of srv under the demo key, with retries
// quick enough for tests; opts come last and win.
func newClient(t testing.TB, srv *payjstest.Server, opts ...payjs.Option) *payjs.Client {
	t.Helper()
	return newClientKey(t, srv, payjstest.DemoKey, opts...)
}

func newClientKey(t testing.TB, srv *payjstest.Server, key string, opts ...payjs.Option) *payjs.Client {
	t.Helper()
	base := []payjs.Option{
		payjs.WithBaseURL(srv.URL),
		payjs.WithHTTPClient(srv.Client()),
		payjs.WithBackoff(time.Millisecond, 5*time.Millisecond),
	}
	c, err := payjs.NewClient(key, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noSecrets fails if err's message holds the key or a signature made
// with it for id.
func noSecrets(t *testing.T, err error, key, id string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	secrets := []string{key, payjs.Sign(map[string]string{"payjs_order_id": id}, key)}
	for _, s := range secrets {
		if s != "" && strings.Contains(strings.ToUpper(msg), strings.ToUpper(s)) {
			t.Errorf("error %q holds a secret", msg)
		}
	}
}

var (
	unpaid1 = payjstest.DemoOrderUnpaid(1)
	unpaid2 = payjstest.DemoOrderUnpaid(2)
)

// refusal holds the kinds of a return_code 0 answer, which carry a Result.
var refusal = map[payjs.Kind]bool{payjs.KindAlreadyClosed: true, payjs.KindPaid: true, payjs.KindKeyMismatch: true, payjs.KindRejected: true}

// signedBody is a close answer made of the name, value pairs kv and their
// signature under key, for FaultBody.
func signedBody(key string, kv ...string) string {
	fields := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i]] = kv[i+1]
	}
	answer := maps.Clone(fields)
	answer["sign"] = payjs.Sign(fields, key)
	b, err := json.Marshal(answer)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestCloseOutcomes runs one close per row against the simulator and
// checks the class of the outcome, what PAYJS answered, and how many
// requests it took on both sides.
func TestCloseOutcomes(t *testing.T) {
	refused := payjstest.NewServer()
	refusedURL := refused.URL
	refused.Close() // nothing listens there any more

	tests := []struct {
		name     string
		id       string
		key      string // default DemoKey
		faults   []payjstest.Fault
		opts     []payjs.Option
		base     string // default the simulator
		kind     payjs.Kind
		msg      string // return_msg, for successes and rejections
		verified bool
		attempts int
		requests int // default attempts
	}{
		// Success.
		{name: "verified success", id: unpaid1, msg: "SUCCESS", verified: true, attempts: 1},
		{name: "unsigned success is unverified", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultNoSign}},
			msg: "SUCCESS", attempts: 1},

		// Invalid input: no request at all.
		{name: "malformed id", id: "bad-id!", kind: payjs.KindInvalidInput, attempts: 0},
		{name: "empty id", id: "", kind: payjs.KindInvalidInput, attempts: 0},
		{name: "id too long", id: strings.Repeat("1", 33), kind: payjs.KindInvalidInput, attempts: 0},

		// Refused (return_code 0): classified by the message, never retried.
		{name: "bad signature", id: unpaid1, key: "not-the-merchant-key", kind: payjs.KindKeyMismatch, msg: "签名错误", attempts: 1},
		{name: "bad signature, signed by PAYJS under its key", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody,
			Body: signedBody("other-key", "return_code", "0", "return_msg", "签名错误")}}, kind: payjs.KindKeyMismatch, msg: "签名错误", attempts: 1},
		{name: "unknown order", id: "2026112599999999999999999999", kind: payjs.KindRejected, msg: "订单不存在", attempts: 1},
		{name: "older than 30 days", id: payjstest.DemoOrderExpired, kind: payjs.KindRejected, msg: payjstest.MsgExpired, verified: true, attempts: 1},
		{name: "already closed", id: payjstest.DemoOrderClosed, kind: payjs.KindAlreadyClosed, msg: "订单已关闭", verified: true, attempts: 1},
		{name: "already paid", id: payjstest.DemoOrderPaid, kind: payjs.KindPaid, msg: "订单已支付", verified: true, attempts: 1},
		{name: "refusal not retried with attempts to spare", id: payjstest.DemoOrderPaid, opts: []payjs.Option{payjs.WithMaxAttempts(5)},
			kind: payjs.KindPaid, msg: "订单已支付", verified: true, attempts: 1},
		{name: "key mismatch not retried with attempts to spare", id: unpaid1, key: "not-the-merchant-key", opts: []payjs.Option{payjs.WithMaxAttempts(5)},
			kind: payjs.KindKeyMismatch, msg: "签名错误", attempts: 1},
		{name: "refusal in msg", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"msg":"订单不存在"}`}},
			kind: payjs.KindRejected, msg: "订单不存在", attempts: 1},
		{name: "already closed in msg", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"msg":"\u8ba2\u5355\u5df2\u5173\u95ed"}`}},
			kind: payjs.KindAlreadyClosed, msg: "订单已关闭", attempts: 1},
		{name: "empty return_msg, reason in msg", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"","msg":"订单已支付"}`}},
			kind: payjs.KindPaid, msg: "订单已支付", attempts: 1},
		{name: "return_msg wins over msg", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"订单已支付","msg":"x"}`}},
			kind: payjs.KindPaid, msg: "订单已支付", attempts: 1},
		{name: "unknown refusal stays rejected", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"系统繁忙"}`}},
			kind: payjs.KindRejected, msg: "系统繁忙", attempts: 1},

		// The close went through but its answer was lost: the retry finds
		// the order closed.
		{name: "502 after the close", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultStatus, Status: 502, AfterClose: true}},
			kind: payjs.KindAlreadyClosed, msg: "订单已关闭", verified: true, attempts: 2},
		{name: "connection dropped after the close", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultDrop, AfterClose: true}},
			kind: payjs.KindAlreadyClosed, msg: "订单已关闭", verified: true, attempts: 2},

		// Bad response: never retried, never a success.
		{name: "HTML page", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultHTML}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "invalid JSON", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultInvalidJSON}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "truncated body", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultTruncated}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "body over the cap", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultOversize}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong signature on a success", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultWrongSign}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong signature on a rejection", id: payjstest.DemoOrderPaid, faults: []payjstest.Fault{{Kind: payjstest.FaultWrongSign}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "missing signature when required", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultNoSign}},
			opts: []payjs.Option{payjs.WithRequireSignature(true)}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "unsigned already closed when required", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"订单已关闭"}`}},
			opts: []payjs.Option{payjs.WithRequireSignature(true)}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "unsigned paid when required is still paid", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"订单已支付"}`}},
			opts: []payjs.Option{payjs.WithRequireSignature(true)}, kind: payjs.KindPaid, msg: "订单已支付", attempts: 1},
		{name: "wrong shape: array", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `[1]`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong shape: no return_code", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_msg":"SUCCESS"}`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong shape: return_code 2", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":2,"return_msg":"SUCCESS"}`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong shape: no return_msg", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":1}`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong shape: refusal without a message", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":0}`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong signature on already closed", id: payjstest.DemoOrderClosed, faults: []payjstest.Fault{{Kind: payjstest.FaultWrongSign}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong shape: nested", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":1,"return_msg":{"x":1}}`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "wrong shape: another order", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Body: `{"return_code":1,"return_msg":"SUCCESS","payjs_order_id":"2026112500000000000000000002"}`}}, kind: payjs.KindBadResponse, attempts: 1},
		{name: "HTTP 404", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultBody, Status: 404, Body: `{"return_code":1,"return_msg":"SUCCESS"}`}}, kind: payjs.KindBadResponse, attempts: 1},

		// Unavailable: retried, then given up.
		{name: "503 then recovery", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultStatus, Status: 503, Count: 2}},
			msg: "SUCCESS", verified: true, attempts: 3},
		{name: "500 then recovery", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultStatus, Status: 500}},
			msg: "SUCCESS", verified: true, attempts: 2},
		{name: "429 then recovery", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultStatus, Status: 429}},
			msg: "SUCCESS", verified: true, attempts: 2},
		{name: "5xx exhausts the attempts", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultStatus, Status: 502, Count: payjstest.Forever}},
			kind: payjs.KindUnavailable, attempts: 3},
		{name: "attempts are configurable", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultStatus, Count: payjstest.Forever}},
			opts: []payjs.Option{payjs.WithMaxAttempts(5)}, kind: payjs.KindUnavailable, attempts: 5},
		{name: "demo order answered 503", id: payjstest.DemoOrderUnavailable, kind: payjs.KindUnavailable, attempts: 3},
		{name: "dropped connection then recovery", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultDrop}},
			msg: "SUCCESS", verified: true, attempts: 2},
		{name: "dropped connections", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultDrop, Count: payjstest.Forever}},
			kind: payjs.KindUnavailable, attempts: 3},
		{name: "connection refused", id: unpaid1, base: refusedURL, kind: payjs.KindUnavailable, attempts: 3, requests: 0},

		// Timeout: the budget ends the close, even mid-request.
		{name: "slower than the budget", id: unpaid1, faults: []payjstest.Fault{{Kind: payjstest.FaultLatency, Delay: time.Minute}},
			opts: []payjs.Option{payjs.WithTimeout(100 * time.Millisecond)}, kind: payjs.KindTimeout, attempts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSim(t)
			for _, f := range tc.faults {
				srv.Inject(f)
			}
			key := tc.key
			if key == "" {
				key = payjstest.DemoKey
			}
			opts := tc.opts
			if tc.base != "" {
				opts = append([]payjs.Option{payjs.WithBaseURL(tc.base)}, opts...)
			}
			c := newClientKey(t, srv, key, opts...)

			res, err := c.CloseOrder(context.Background(), tc.id)
			noSecrets(t, err, key, tc.id)

			if tc.kind == "" {
				if err != nil {
					t.Fatalf("CloseOrder: %v, want success", err)
				}
				if res.ReturnCode != 1 || res.ReturnMsg != tc.msg || res.PayjsOrderID != tc.id || res.Verified != tc.verified || res.Attempts != tc.attempts {
					t.Errorf("Result = %+v, want 1 %q for %s, verified %v, %d attempts", res, tc.msg, tc.id, tc.verified, tc.attempts)
				}
			} else {
				var pe *payjs.Error
				if !errors.As(err, &pe) {
					t.Fatalf("CloseOrder = %+v, %v; want a *payjs.Error of kind %s", res, err, tc.kind)
				}
				if res != nil {
					t.Errorf("CloseOrder returned a Result %+v with its error", res)
				}
				if pe.Kind != tc.kind || pe.Attempts != tc.attempts {
					t.Errorf("error %v: kind %s after %d attempts, want %s after %d", err, pe.Kind, pe.Attempts, tc.kind, tc.attempts)
				}
				if refusal[tc.kind] {
					r := pe.Result
					if r == nil || r.ReturnCode != 0 || r.ReturnMsg != tc.msg || r.PayjsOrderID != tc.id || r.Verified != tc.verified || r.Attempts != tc.attempts {
						t.Errorf("refusal Result = %+v, want 0 %q for %s, verified %v, %d attempts", r, tc.msg, tc.id, tc.verified, tc.attempts)
					}
				} else if pe.Result != nil {
					t.Errorf("%s error carries a Result %+v", pe.Kind, pe.Result)
				}
			}

			requests := tc.attempts
			if tc.base != "" {
				requests = tc.requests
			}
			if got := srv.Requests(); got != requests {
				t.Errorf("simulator saw %d requests, want %d", got, requests)
			}
		})
	}
}

func TestCloseHonorsRetryAfter(t *testing.T) {
	srv := newSim(t)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 429, RetryAfter: time.Second})
	c := newClient(t, srv)
	start := time.Now()
	res, err := c.CloseOrder(context.Background(), unpaid1)
	elapsed := time.Since(start)
	if err != nil || res.Attempts != 2 {
		t.Fatalf("CloseOrder = %+v, %v; want success on the second attempt", res, err)
	}
	if elapsed < time.Second {
		t.Errorf("retried after %v, want at least Retry-After (1s); the backoff alone is 5ms", elapsed)
	}
}

// A Retry-After longer than what is left of the budget ends the close at
// once, while the caller still has time to answer.
func TestCloseRetryAfterBeyondBudget(t *testing.T) {
	srv := newSim(t)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 503, RetryAfter: 30 * time.Second})
	c := newClient(t, srv, payjs.WithTimeout(2*time.Second))
	start := time.Now()
	_, err := c.CloseOrder(context.Background(), unpaid1)
	if payjs.KindOf(err) != payjs.KindUnavailable {
		t.Errorf("CloseOrder: %v, want %s", err, payjs.KindUnavailable)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("gave up after %v, want at once", d)
	}
	if srv.Requests() != 1 {
		t.Errorf("%d requests, want 1", srv.Requests())
	}
}

// A context deadline sooner than the budget wins: the close ends as
// timed out at the deadline, not at the end of the budget.
func TestCloseContextDeadline(t *testing.T) {
	srv := newSim(t)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: time.Minute, Count: payjstest.Forever})
	c := newClient(t, srv, payjs.WithTimeout(10*time.Second))
	const deadline = 150 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := c.CloseOrder(ctx, unpaid1)
	elapsed := time.Since(start)
	if payjs.KindOf(err) != payjs.KindTimeout {
		t.Errorf("CloseOrder: %v, want %s", err, payjs.KindTimeout)
	}
	if elapsed < deadline || elapsed > deadline+time.Second {
		t.Errorf("ended after %v, want at the %v deadline, far before the 10s budget", elapsed, deadline)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestCloseCanceled(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.CloseOrder(ctx, unpaid1)
	if payjs.KindOf(err) != payjs.KindUnavailable || !errors.Is(err, context.Canceled) {
		t.Errorf("CloseOrder with a canceled context: %v, want %s wrapping context.Canceled", err, payjs.KindUnavailable)
	}
	if o, _ := srv.Order(unpaid1); o.State != payjstest.StateUnpaid {
		t.Errorf("order %v, want unpaid", o.State)
	}
}

// One Client reuses one keep-alive connection for every close.
func TestCloseReusesOneConnection(t *testing.T) {
	srv := payjstest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddMerchant("1528140051", "k")
	const n = 100
	for i := range n {
		srv.AddOrder(payjstest.Order{ID: fmt.Sprintf("C%031d", i), MchID: "1528140051"})
	}
	hc := payjs.NewHTTPClient()
	defer hc.CloseIdleConnections()
	c, err := payjs.NewClient("k", payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if err := payjs.Warm(context.Background(), hc, srv.URL); err != nil {
		t.Fatalf("Warm: %v", err)
	}
	for i := range n {
		if _, err := c.CloseOrder(context.Background(), fmt.Sprintf("C%031d", i)); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("%d closes (after Warm) opened %d TCP connections, want 1", n, got)
	}
	if got := srv.Requests(); got != n {
		t.Errorf("Requests() = %d, want %d", got, n)
	}
}

// Without WithHTTPClient, a Client still keeps its own connection alive.
func TestCloseDefaultHTTPClientKeepsAlive(t *testing.T) {
	srv := newSim(t)
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 9; n++ {
		if _, err := c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("9 closes opened %d connections, want 1", got)
	}
}

func TestCloseOverTLS(t *testing.T) {
	srv := payjstest.NewTLSServer(payjstest.WithDemoData())
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	res, err := c.CloseOrder(context.Background(), unpaid1)
	if err != nil || !res.Verified {
		t.Fatalf("CloseOrder = %+v, %v", res, err)
	}
	// Certificate verification is on: a client that does not trust the
	// simulator's certificate cannot close.
	// It is not retried within the close: the same certificate would fail
	// again.
	before := srv.Connections()
	c = newClient(t, srv, payjs.WithHTTPClient(payjs.NewHTTPClient()), payjs.WithMaxAttempts(3))
	_, err = c.CloseOrder(context.Background(), unpaid2)
	if payjs.KindOf(err) != payjs.KindUnavailable || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("CloseOrder with an untrusted certificate: %v, want %s naming the certificate", err, payjs.KindUnavailable)
	}
	var pe *payjs.Error
	if errors.As(err, &pe) && pe.Attempts != 1 {
		t.Errorf("an untrusted certificate was tried %d times, want 1", pe.Attempts)
	}
	if got := srv.Connections() - before; got != 1 {
		t.Errorf("an untrusted certificate opened %d connections, want 1", got)
	}
}

// Every request is exactly what PAYJS documents, with our User-Agent.
func TestCloseRequest(t *testing.T) {
	type seen struct {
		method, path, ua, ctype, accept, body string
	}
	got := make(chan seen, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("User-Agent"), r.Header.Get("Content-Type"), r.Header.Get("Accept"), string(body)}
		_, _ = io.WriteString(w, `{"return_code":1,"return_msg":"SUCCESS"}`)
	}))
	defer ts.Close()

	const id, key = "2019043012232600733973651", "testkey123"
	c, err := payjs.NewClient(key, payjs.WithBaseURL(ts.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.CloseOrder(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		want := seen{
			method: "POST", path: "/api/close", ua: "payjs-close/" + payjs.Version + " (+go)",
			ctype: "application/x-www-form-urlencoded", accept: "application/json",
			// Vector close_req_oid25_key1.
			body: "payjs_order_id=2019043012232600733973651&sign=B8E9403B47097F8142A1CDD1FD1F867C",
		}
		if s := <-got; s != want {
			t.Errorf("request %+v, want %+v", s, want)
		}
	}
}

func TestNewClientRefusesKeys(t *testing.T) {
	for _, key := range []string{"", "+", "%", "SECRETplus+9876", "SECRETpct%419876"} {
		c, err := payjs.NewClient(key)
		if c != nil || payjs.KindOf(err) != payjs.KindInvalidInput || !errors.Is(err, payjs.ErrUnusableKey) {
			t.Errorf("NewClient(%q) = %v, %v; want a KindInvalidInput error wrapping ErrUnusableKey", key, c, err)
			continue
		}
		if len(key) > 1 && strings.Contains(err.Error(), key) {
			t.Errorf("NewClient error %q holds the key", err)
		}
	}
}

func TestNewClientBaseURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://payjs.cn", true},
		{"https://payjs.cn/", true},
		{"https://payjs.example:8443/prefix", true},
		{"http://127.0.0.1:8086", true},
		{"http://127.9.9.9", true},
		{"http://localhost:8086", true},
		{"http://[::1]:8086", true},
		{"http://payjs.cn", false},
		{"http://10.0.0.1:8086", false},
		{"http://0.0.0.0:8086", false},
		{"http://localhost.payjs.cn", false},
		{"ftp://payjs.cn", false},
		{"payjs.cn", false},
		{"", false},
		{"https://", false},
		{"https://payjs.cn?key=SECRETQUERY", false},
		{"https://payjs.cn#frag", false},
		{"https://user:SECRETPASS@payjs.cn", false},
		{"https://pay js.cn", false},
	} {
		_, err := payjs.NewClient("k", payjs.WithBaseURL(tc.url))
		if (err == nil) != tc.ok {
			t.Errorf("NewClient(WithBaseURL(%q)) error %v, want accepted %v", tc.url, err, tc.ok)
			continue
		}
		if cerr := payjs.CheckBaseURL(tc.url); (cerr == nil) != tc.ok {
			t.Errorf("CheckBaseURL(%q) = %v, want accepted %v", tc.url, cerr, tc.ok)
		}
		if err == nil {
			continue
		}
		if payjs.KindOf(err) != payjs.KindInvalidInput {
			t.Errorf("NewClient(WithBaseURL(%q)) = %v, want %s", tc.url, err, payjs.KindInvalidInput)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error %q repeats a secret part of the URL", err)
		}
	}
}

func TestNewClientRefusesTimeout(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := payjs.NewClient("k", payjs.WithTimeout(d)); payjs.KindOf(err) != payjs.KindInvalidInput {
			t.Errorf("WithTimeout(%v): %v, want %s", d, err, payjs.KindInvalidInput)
		}
	}
}

// An Error's message is "payjs: " and what went wrong, then its cause.
// (That no message holds the key or a signature is checked on every row
// of TestCloseOutcomes by noSecrets.)
func TestErrorMessageShape(t *testing.T) {
	e := &payjs.Error{Kind: payjs.KindBadResponse, Msg: "response signature does not verify", Err: io.ErrUnexpectedEOF}
	if got, want := e.Error(), "payjs: response signature does not verify: unexpected EOF"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Error("Error does not unwrap to its cause")
	}
}

// Any *http.Client will do: one with a Timeout of its own, and one with
// no Transport (http.DefaultTransport).
func TestCloseWithAnyHTTPClient(t *testing.T) {
	srv := newSim(t)
	for i, hc := range []*http.Client{
		{Timeout: 5 * time.Second},
		{},
	} {
		c := newClient(t, srv, payjs.WithHTTPClient(hc))
		id := payjstest.DemoOrderUnpaid(i + 3)
		if res, err := c.CloseOrder(context.Background(), id); err != nil || !res.Verified {
			t.Errorf("client %d: CloseOrder = %+v, %v", i, res, err)
		}
		if o, _ := srv.Order(id); o.State != payjstest.StateClosed {
			t.Errorf("client %d: order is %v, want closed", i, o.State)
		}
	}
}
