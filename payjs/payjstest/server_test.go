package payjstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// reply is one raw answer of the simulator.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or body read error
}

// closeForm is the form a correct client sends for id under key.
func closeForm(id, key string) url.Values {
	return url.Values{"payjs_order_id": {id}, "sign": {payjs.Sign(map[string]string{"payjs_order_id": id}, key)}}
}

func post(t *testing.T, hc *http.Client, srv *payjstest.Server, form url.Values) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/api/close", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// decoded is a close answer as JSON.
type decoded struct {
	ReturnCode   int    `json:"return_code"`
	ReturnMsg    string `json:"return_msg"`
	PayjsOrderID string `json:"payjs_order_id"`
	Sign         string `json:"sign"`
}

func decode(t *testing.T, r reply) decoded {
	t.Helper()
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("want HTTP 200 with a body, got status %d, error %v", r.status, r.err)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var d decoded
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("answer %q is not JSON: %v", r.body, err)
	}
	return d
}

// verifies reports whether the answer's sign verifies under key, as the
// client checks it.
func verifies(t *testing.T, r reply, key string) bool {
	t.Helper()
	fields, sign, err := payjs.ParseResponse(r.body)
	if err != nil {
		t.Fatalf("ParseResponse(%q): %v", r.body, err)
	}
	return sign != "" && payjs.VerifySign(fields, key, sign)
}

func TestCloseAnswersLikePAYJS(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	hc := srv.Client()
	unpaid := payjstest.DemoOrderUnpaid(1)
	key := payjstest.DemoKey

	withMchID := closeForm(unpaid, key)
	withMchID.Set("mchid", payjstest.DemoMchID)
	withMchID.Set("sign", payjs.Sign(map[string]string{"payjs_order_id": payjstest.DemoOrderUnpaid(2), "mchid": payjstest.DemoMchID}, key))
	withMchID.Set("payjs_order_id", payjstest.DemoOrderUnpaid(2))
	unsignedExtra := closeForm(payjstest.DemoOrderUnpaid(3), key)
	unsignedExtra.Set("attach", "not signed")
	lower := closeForm(payjstest.DemoOrderUnpaid(4), key)
	lower.Set("sign", strings.ToLower(lower.Get("sign")))

	tests := []struct {
		name       string
		form       url.Values
		code       int
		msg        string
		signed     bool
		wantOrder  bool // payjs_order_id in the answer
		outcome    payjstest.Outcome
		finalState payjstest.State
	}{
		{"unpaid order closes", closeForm(unpaid, key), 1, "SUCCESS", true, true, payjstest.OutcomeClosed, payjstest.StateClosed},
		{"closing again is refused", closeForm(unpaid, key), 0, payjstest.MsgAlreadyClosed, true, true, payjstest.OutcomeAlreadyClosed, payjstest.StateClosed},
		{"paid order", closeForm(payjstest.DemoOrderPaid, key), 0, "订单已支付", true, true, payjstest.OutcomeAlreadyPaid, payjstest.StatePaid},
		{"closed order", closeForm(payjstest.DemoOrderClosed, key), 0, "订单已关闭", true, true, payjstest.OutcomeAlreadyClosed, payjstest.StateClosed},
		{"order older than 30 days", closeForm(payjstest.DemoOrderExpired, key), 0, payjstest.MsgExpired, true, true, payjstest.OutcomeExpired, payjstest.StateUnpaid},
		{"unknown order", closeForm("2026112599999999999999999999", key), 0, "订单不存在", false, false, payjstest.OutcomeNotFound, 0},
		{"signed with another key", closeForm(payjstest.DemoOrderUnpaid(5), "another-key"), 0, "签名错误", false, true, payjstest.OutcomeBadSign, payjstest.StateUnpaid},
		{"lower-case sign", lower, 0, "签名错误", false, true, payjstest.OutcomeBadSign, payjstest.StateUnpaid},
		{"extra field not signed", unsignedExtra, 0, "签名错误", false, true, payjstest.OutcomeBadSign, payjstest.StateUnpaid},
		{"extra field signed", withMchID, 1, "SUCCESS", true, true, payjstest.OutcomeClosed, payjstest.StateClosed},
		{"no payjs_order_id", url.Values{"sign": {"00000000000000000000000000000000"}}, 0, "缺少参数：payjs_order_id", false, false, payjstest.OutcomeMissingParam, 0},
		{"no sign", url.Values{"payjs_order_id": {payjstest.DemoOrderUnpaid(6)}}, 0, "缺少参数：sign", false, false, payjstest.OutcomeMissingParam, payjstest.StateUnpaid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Outcomes()[tc.outcome]
			r := post(t, hc, srv, tc.form)
			d := decode(t, r)
			if d.ReturnCode != tc.code || d.ReturnMsg != tc.msg {
				t.Errorf("answer = %d %q, want %d %q", d.ReturnCode, d.ReturnMsg, tc.code, tc.msg)
			}
			if got := d.PayjsOrderID != ""; got != tc.wantOrder {
				t.Errorf("answer names the order: %v, want %v (%s)", got, tc.wantOrder, r.body)
			}
			if got := d.Sign != ""; got != tc.signed {
				t.Errorf("answer signed: %v, want %v", got, tc.signed)
			}
			if tc.signed && !verifies(t, r, key) {
				t.Errorf("answer %s does not verify under the merchant key", r.body)
			}
			if got := srv.Outcomes()[tc.outcome] - before; got != 1 {
				t.Errorf("outcome %q counted %d times, want 1", tc.outcome, got)
			}
			if id := tc.form.Get("payjs_order_id"); tc.wantOrder && id != "" {
				o, ok := srv.Order(id)
				if !ok || o.State != tc.finalState {
					t.Errorf("order %s: state %v (found %v), want %v", id, o.State, ok, tc.finalState)
				}
			}
		})
	}
}

// The simulator signs its answers exactly as payjs/testdata's vectors say
// PAYJS does (vectors resp_close_success and resp_close_fail_cn).
func TestAnswersMatchVectors(t *testing.T) {
	srv := payjstest.NewServer()
	defer srv.Close()
	const id, key = "2019043012232600733973651", "testkey123"
	srv.AddMerchant("1528140051", key)
	srv.AddOrder(payjstest.Order{ID: id, MchID: "1528140051"})

	want := []string{
		`{"return_code":1,"return_msg":"SUCCESS","payjs_order_id":"2019043012232600733973651","sign":"853437E15713D472F217418D6E3809D5"}`,
		// PHP's json_encode escapes non-ASCII: "订单已关闭".
		`{"return_code":0,"return_msg":"\u8ba2\u5355\u5df2\u5173\u95ed","payjs_order_id":"2019043012232600733973651","sign":"957895435FB63B335DAF304E1FF16A9C"}`,
	}
	for i, w := range want {
		r := post(t, srv.Client(), srv, closeForm(id, key))
		if r.err != nil || string(r.body) != w {
			t.Errorf("close %d answered %s (error %v), want %s", i+1, r.body, r.err, w)
		}
	}
}

func TestKeysAreURLDecodedLikePAYJS(t *testing.T) {
	srv := payjstest.NewServer()
	defer srv.Close()
	srv.AddMerchant("1", "a+b%41")
	srv.AddOrder(payjstest.Order{ID: "O1", MchID: "1"})
	srv.AddOrder(payjstest.Order{ID: "O2", MchID: "1"})

	if d := decode(t, post(t, srv.Client(), srv, closeForm("O1", "a+b%41"))); d.ReturnMsg != payjstest.MsgBadSign {
		t.Errorf("key as held: %q, want %q: PAYJS URL-decodes keys", d.ReturnMsg, payjstest.MsgBadSign)
	}
	if d := decode(t, post(t, srv.Client(), srv, closeForm("O2", "a bA"))); d.ReturnCode != 1 {
		t.Errorf("decoded key: %d %q, want success", d.ReturnCode, d.ReturnMsg)
	}
}

func TestCloseWindowFollowsTheClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := payjstest.NewServer(payjstest.WithClock(clock))
	defer srv.Close()
	srv.AddMerchant("1", "k")
	srv.AddOrder(payjstest.Order{ID: "Edge", MchID: "1"}) // created now, by the clock
	srv.AddOrder(payjstest.Order{ID: "Late", MchID: "1"})
	if o, _ := srv.Order("Edge"); !o.Created.Equal(now) {
		t.Fatalf("zero Created became %v, want the clock's %v", o.Created, now)
	}

	mu.Lock()
	now = now.Add(payjstest.CloseWindow)
	mu.Unlock()
	if d := decode(t, post(t, srv.Client(), srv, closeForm("Edge", "k"))); d.ReturnCode != 1 {
		t.Errorf("exactly 30 days old: %q, want success", d.ReturnMsg)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if d := decode(t, post(t, srv.Client(), srv, closeForm("Late", "k"))); d.ReturnMsg != payjstest.MsgExpired {
		t.Errorf("30 days and a second old: %q, want %q", d.ReturnMsg, payjstest.MsgExpired)
	}
}

func TestDemoData(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	srv := payjstest.NewServer(payjstest.WithClock(func() time.Time { return now }), payjstest.WithDemoData())
	defer srv.Close()

	type want struct {
		state payjstest.State
		age   time.Duration
		fail  int
	}
	wants := map[string]want{
		"2026112500000000000000000010": {payjstest.StatePaid, time.Hour, 0},
		"2026112500000000000000000011": {payjstest.StateClosed, time.Hour, 0},
		"2026112500000000000000000012": {payjstest.StateUnpaid, 40 * 24 * time.Hour, 0},
		"2026112500000000000000000503": {payjstest.StateUnpaid, time.Hour, 503},
	}
	for n := 1; n <= 9; n++ {
		wants["202611250000000000000000000"+string(rune('0'+n))] = want{payjstest.StateUnpaid, time.Hour, 0}
	}
	orders := srv.Orders()
	if len(orders) != len(wants) {
		t.Fatalf("%d demo orders, want %d", len(orders), len(wants))
	}
	for _, o := range orders {
		w, ok := wants[o.ID]
		if !ok {
			t.Errorf("unexpected demo order %s", o.ID)
			continue
		}
		if o.MchID != "1528140051" || o.State != w.state || now.Sub(o.Created) != w.age || o.FailStatus != w.fail {
			t.Errorf("order %s = %+v, want merchant 1528140051, %v, %v old, FailStatus %d", o.ID, o, w.state, w.age, w.fail)
		}
	}

	if d := decode(t, post(t, srv.Client(), srv, closeForm("2026112500000000000000000001", "payjs-close-local-demo-key"))); d.ReturnCode != 1 {
		t.Errorf("demo order 1 with the demo key: %q, want success", d.ReturnMsg)
	}
	for i := 0; i < 3; i++ {
		r := post(t, srv.Client(), srv, closeForm("2026112500000000000000000503", "payjs-close-local-demo-key"))
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("order ...0503, try %d: HTTP %d, want 503", i+1, r.status)
		}
	}
	if o, _ := srv.Order(payjstest.DemoOrderUnavailable); o.State != payjstest.StateUnpaid {
		t.Errorf("order ...0503 state %v after its 503s, want unpaid", o.State)
	}
}

func TestRootAndMethods(t *testing.T) {
	srv := payjstest.NewServer()
	defer srv.Close()
	hc := srv.Client()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodHead, "/", 200},
		{http.MethodGet, "/", 200},
		{http.MethodPost, "/", 405},
		{http.MethodGet, "/api/unknown", 404},
		{http.MethodGet, "/api/close", 405},
	} {
		status := get(t, hc, tc.method, srv.URL+tc.path)
		if status != tc.status {
			t.Errorf("%s %s: HTTP %d, want %d", tc.method, tc.path, status, tc.status)
		}
	}
	if got := srv.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1: only /api/close counts", got)
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("Connections() = %d, want 1 for one keep-alive client", got)
	}
}

func TestFaults(t *testing.T) {
	key := payjstest.DemoKey
	tests := []struct {
		name  string
		fault payjstest.Fault
		check func(t *testing.T, r reply)
		// closed: whether PAYJS handled the close behind the fault.
		closed bool
	}{
		{"status 503 with Retry-After", payjstest.Fault{Kind: payjstest.FaultStatus, RetryAfter: 1500 * time.Millisecond}, func(t *testing.T, r reply) {
			if r.status != 503 || r.header.Get("Retry-After") != "2" {
				t.Errorf("HTTP %d Retry-After %q, want 503 and 2 (seconds, rounded up)", r.status, r.header.Get("Retry-After"))
			}
		}, false},
		{"status 429", payjstest.Fault{Kind: payjstest.FaultStatus, Status: 429, RetryAfter: time.Second}, func(t *testing.T, r reply) {
			if r.status != 429 || r.header.Get("Retry-After") != "1" {
				t.Errorf("HTTP %d Retry-After %q, want 429 and 1", r.status, r.header.Get("Retry-After"))
			}
		}, false},
		{"status 500 without Retry-After", payjstest.Fault{Kind: payjstest.FaultStatus, Status: 500}, func(t *testing.T, r reply) {
			if r.status != 500 || r.header.Get("Retry-After") != "" {
				t.Errorf("HTTP %d Retry-After %q, want 500 and none", r.status, r.header.Get("Retry-After"))
			}
		}, false},
		{"html page", payjstest.Fault{Kind: payjstest.FaultHTML}, func(t *testing.T, r reply) {
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !bytes.Contains(r.body, []byte("<html")) {
				t.Errorf("HTTP %d %q %q, want a 200 HTML page", r.status, r.header.Get("Content-Type"), r.body)
			}
		}, false},
		{"invalid json", payjstest.Fault{Kind: payjstest.FaultInvalidJSON}, func(t *testing.T, r reply) {
			if r.status != 200 || json.Valid(r.body) || r.body[0] != '{' {
				t.Errorf("HTTP %d %q, want 200 and invalid JSON", r.status, r.body)
			}
		}, false},
		{"truncated", payjstest.Fault{Kind: payjstest.FaultTruncated}, func(t *testing.T, r reply) {
			if !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("body read error %v, want unexpected EOF (got %q)", r.err, r.body)
			}
		}, true},
		{"oversize", payjstest.Fault{Kind: payjstest.FaultOversize}, func(t *testing.T, r reply) {
			if r.status != 200 || len(r.body) <= payjs.MaxResponseBytes || !json.Valid(r.body) {
				t.Errorf("HTTP %d, %d bytes, want 200 and valid JSON over %d bytes", r.status, len(r.body), payjs.MaxResponseBytes)
			}
		}, true},
		{"wrong sign", payjstest.Fault{Kind: payjstest.FaultWrongSign}, func(t *testing.T, r reply) {
			if d := decode(t, r); d.ReturnCode != 1 || d.Sign == "" || verifies(t, r, key) {
				t.Errorf("answer %s, want a success whose sign does not verify", r.body)
			}
		}, true},
		{"no sign", payjstest.Fault{Kind: payjstest.FaultNoSign}, func(t *testing.T, r reply) {
			if d := decode(t, r); d.ReturnCode != 1 || bytes.Contains(r.body, []byte(`"sign"`)) {
				t.Errorf("answer %s, want a success without sign", r.body)
			}
		}, true},
		{"drop", payjstest.Fault{Kind: payjstest.FaultDrop}, func(t *testing.T, r reply) {
			if r.err == nil {
				t.Errorf("HTTP %d, want the connection dropped", r.status)
			}
		}, false},
		{"body", payjstest.Fault{Kind: payjstest.FaultBody, Body: `{"return_code":"yes"}`}, func(t *testing.T, r reply) {
			if r.status != 200 || string(r.body) != `{"return_code":"yes"}` {
				t.Errorf("HTTP %d %q, want 200 and the body as given", r.status, r.body)
			}
		}, false},
		{"status 502 after the close", payjstest.Fault{Kind: payjstest.FaultStatus, Status: 502, AfterClose: true}, func(t *testing.T, r reply) {
			if r.status != 502 || !bytes.Contains(r.body, []byte("<html")) {
				t.Errorf("HTTP %d %q, want a 502 page", r.status, r.body)
			}
		}, true},
		{"drop after the close", payjstest.Fault{Kind: payjstest.FaultDrop, AfterClose: true}, func(t *testing.T, r reply) {
			if r.err == nil {
				t.Errorf("HTTP %d, want the connection dropped", r.status)
			}
		}, true},
		{"body after the close", payjstest.Fault{Kind: payjstest.FaultBody, Body: `{"return_code":0,"msg":"x"}`, AfterClose: true}, func(t *testing.T, r reply) {
			if r.status != 200 || string(r.body) != `{"return_code":0,"msg":"x"}` {
				t.Errorf("HTTP %d %q, want 200 and the body as given", r.status, r.body)
			}
		}, true},
		{"latency", payjstest.Fault{Kind: payjstest.FaultLatency, Delay: 30 * time.Millisecond}, func(t *testing.T, r reply) {
			if d := decode(t, r); d.ReturnCode != 1 || !verifies(t, r, key) {
				t.Errorf("answer %s, want a signed success", r.body)
			}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := payjstest.NewServer(payjstest.WithDemoData())
			defer srv.Close()
			srv.Inject(tc.fault)
			id := payjstest.DemoOrderUnpaid(1)
			start := time.Now()
			tc.check(t, post(t, srv.Client(), srv, closeForm(id, key)))
			if elapsed := time.Since(start); elapsed < tc.fault.Delay {
				t.Errorf("answered after %v, want at least the fault's delay %v", elapsed, tc.fault.Delay)
			}
			o, _ := srv.Order(id)
			if got := o.State == payjstest.StateClosed; got != tc.closed {
				t.Errorf("order closed behind the fault: %v, want %v", got, tc.closed)
			}
			// The fault had Count 0, that is 1: the next request is served
			// normally (on a new connection if the fault broke the old one).
			d := decode(t, post(t, srv.Client(), srv, closeForm(payjstest.DemoOrderUnpaid(2), key)))
			if d.ReturnCode != 1 {
				t.Errorf("request after the fault: %q, want success", d.ReturnMsg)
			}
			if srv.Requests() != 2 {
				t.Errorf("Requests() = %d, want 2", srv.Requests())
			}
		})
	}
}

func TestFaultQueue(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 502, Count: 2})
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 429})
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 500, Count: payjstest.Forever})

	bad := url.Values{"payjs_order_id": {"X"}} // answered 200 when no fault applies
	var got []int
	for i := 0; i < 6; i++ {
		got = append(got, post(t, srv.Client(), srv, bad).status)
	}
	if want := []int{502, 502, 429, 500, 500, 500}; !equalInts(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	srv.ClearFaults()
	if r := post(t, srv.Client(), srv, bad); r.status != 200 {
		t.Errorf("after ClearFaults: HTTP %d, want 200", r.status)
	}
	if got := srv.Outcomes()[payjstest.OutcomeFault]; got != 6 {
		t.Errorf("Outcomes()[fault] = %d, want 6", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A client that gives up during an injected delay leaves the order as it
// was, and Close does not wait for the delay.
func TestDelayAbandoned(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: time.Minute, Count: payjstest.Forever})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	id := payjstest.DemoOrderUnpaid(1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/close", strings.NewReader(closeForm(id, payjstest.DemoKey).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := srv.Client().Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("answered during a one-minute delay")
	}
	start := time.Now()
	srv.Close() // waits for the handler, so what follows is settled
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	if o, _ := srv.Order(id); o.State != payjstest.StateUnpaid {
		t.Errorf("order state %v, want unpaid", o.State)
	}
	if got := srv.Outcomes()[payjstest.OutcomeAbandoned]; got != 1 {
		t.Errorf("Outcomes()[abandoned] = %d, want 1", got)
	}
}

func TestCloseEndsDelays(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: time.Minute})
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		// The request is sent before Close; whether it gets an answer
		// or an error does not matter, only that Close is quick.
		close(started)
		r := post(t, http.DefaultClient, srv, closeForm(payjstest.DemoOrderUnpaid(1), payjstest.DemoKey))
		errc <- r.err
	}()
	<-started
	for srv.Requests() == 0 {
		// Requests counts at the top of the handler: once it moves, the
		// request is in its delay. (No hook exists to learn it sooner.)
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	srv.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v during a one-minute delay", d)
	}
	if err := <-errc; err != nil {
		t.Logf("request cut short by Close: %v", err)
	}
}

func TestConnectionsCounted(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	bad := url.Values{"payjs_order_id": {"X"}, "sign": {"Y"}}
	for i := 0; i < 10; i++ {
		post(t, srv.Client(), srv, bad)
	}
	if got := srv.Connections(); got != 1 {
		t.Errorf("Connections() = %d after 10 requests on one client, want 1", got)
	}
	other := payjs.NewHTTPClient()
	defer other.CloseIdleConnections()
	post(t, other, srv, bad)
	if got, reqs := srv.Connections(), srv.Requests(); got != 2 || reqs != 11 {
		t.Errorf("Connections() = %d, Requests() = %d, want 2 and 11", got, reqs)
	}
}

func TestTLSServer(t *testing.T) {
	srv := payjstest.NewTLSServer(payjstest.WithDemoData())
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %q, want https://127.0.0.1:PORT", srv.URL)
	}
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(1))
	if err != nil || !res.Verified {
		t.Fatalf("Close over TLS = %+v, %v; want a verified success", res, err)
	}
	// An ordinary client does not trust the test certificate.
	plain, _ := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithMaxAttempts(1))
	if _, err := plain.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(2)); payjs.KindOf(err) != payjs.KindUnavailable {
		t.Errorf("Close with an untrusting client: %v, want %s", err, payjs.KindUnavailable)
	}
	if got := srv.Connections(); got != 2 {
		t.Errorf("Connections() = %d, want 2", got)
	}
}

func TestConcurrentCloses(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	id := payjstest.DemoOrderUnpaid(1)
	const n = 20
	var wg sync.WaitGroup
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.CloseOrder(context.Background(), id)
			results <- err
			// Reading state while requests are served must be race-free.
			srv.Order(id)
			srv.Outcomes()
			srv.Orders()
		}()
	}
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: time.Millisecond, Count: 3})
	wg.Wait()
	close(results)
	var ok, rejected int
	for err := range results {
		switch {
		case err == nil:
			ok++
		case payjs.KindOf(err) == payjs.KindAlreadyClosed:
			rejected++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 || rejected != n-1 {
		t.Errorf("%d successes and %d already closed, want 1 and %d", ok, rejected, n-1)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	srv := payjstest.NewServer(payjstest.WithDemoData(), payjstest.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	form := closeForm(payjstest.DemoOrderUnpaid(1), payjstest.DemoKey)
	post(t, srv.Client(), srv, form)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 503})
	post(t, srv.Client(), srv, closeForm(payjstest.DemoOrderUnpaid(2), payjstest.DemoKey))
	get(t, srv.Client(), http.MethodHead, srv.URL+"/")
	srv.Close() // every handler has logged

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want one per request (3):\n%s", len(lines), buf.String())
	}
	for i, want := range []string{
		"payjs_order_id=2026112500000000000000000001 outcome=closed status=200 return_code=1",
		"method=POST path=/api/close outcome=fault status=503 fault=status",
		"method=HEAD path=/ status=200",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("log line %d = %q, want it to contain %q", i+1, lines[i], want)
		}
	}
	for _, secret := range []string{form.Get("sign"), payjstest.DemoKey} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, buf.String())
		}
	}
}

func TestWithListener(t *testing.T) {
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := payjstest.NewServer(payjstest.WithListener(ln))
	defer srv.Close()
	if want := "http://" + ln.Addr().String(); srv.URL != want {
		t.Errorf("URL = %q, want %q", srv.URL, want)
	}
	if status := get(t, srv.Client(), http.MethodGet, srv.URL+"/"); status != http.StatusOK {
		t.Errorf("GET /: HTTP %d", status)
	}
}

// get sends a bodiless request and returns the HTTP status, having read
// and closed the body.
func get(t *testing.T, hc *http.Client, method, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestInjectUnknownKindPanics(t *testing.T) {
	srv := payjstest.NewServer()
	defer srv.Close()
	defer func() {
		if recover() == nil {
			t.Error("Inject(Fault{}) did not panic")
		}
	}()
	srv.Inject(payjstest.Fault{})
}

// The simulator's messages classify through payjs.Refusals as PAYJS's
// do, and every entry of the table is answered by some message.
func TestMessagesClassify(t *testing.T) {
	messages := map[string]payjs.Kind{
		payjstest.MsgAlreadyClosed:                   payjs.KindAlreadyClosed,
		payjstest.MsgAlreadyPaid:                     payjs.KindPaid,
		payjstest.MsgBadSign:                         payjs.KindKeyMismatch,
		payjstest.MsgNotFound:                        payjs.KindRejected,
		payjstest.MsgExpired:                         payjs.KindRejected,
		payjstest.MsgMissingParam + "sign":           payjs.KindRejected,
		payjstest.MsgMissingParam + "payjs_order_id": payjs.KindRejected,
	}
	answered := map[payjs.Kind]bool{}
	for msg, want := range messages {
		got := payjs.RefusalKind(msg)
		if got != want {
			t.Errorf("RefusalKind(%q) = %s, want %s", msg, got, want)
		}
		answered[got] = true
	}
	for _, r := range payjs.Refusals {
		if !answered[r.Kind] {
			t.Errorf("no simulator message is classified %s (marker %q)", r.Kind, r.Marker)
		}
	}

	// Through the client, each refusal of the simulator has its kind.
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	for _, tc := range []struct {
		id, key string
		want    payjs.Kind
	}{
		{payjstest.DemoOrderClosed, payjstest.DemoKey, payjs.KindAlreadyClosed},
		{payjstest.DemoOrderPaid, payjstest.DemoKey, payjs.KindPaid},
		{payjstest.DemoOrderUnpaid(1), "not-the-merchant-key", payjs.KindKeyMismatch},
		{payjstest.DemoOrderExpired, payjstest.DemoKey, payjs.KindRejected},
	} {
		c, err := payjs.NewClient(tc.key, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(srv.Client()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CloseOrder(context.Background(), tc.id); payjs.KindOf(err) != tc.want {
			t.Errorf("close %s: %v, want %s", tc.id, err, tc.want)
		}
	}
}

// TestPeakInFlight: the server counts the most close requests it served
// at once, injected delays included.
func TestPeakInFlight(t *testing.T) {
	srv := payjstest.NewServer(payjstest.WithDemoData())
	defer srv.Close()
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(srv.URL), payjs.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: 200 * time.Millisecond, Count: n})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _ = c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(i+1)) })
	}
	wg.Wait()
	if p := srv.PeakInFlight(); p < 2 || p > n {
		t.Errorf("PeakInFlight = %d after %d overlapping requests, want 2 to %d", p, n, n)
	}
	if srv.InFlight() != 0 {
		t.Errorf("InFlight = %d with nothing in flight", srv.InFlight())
	}
	srv.ResetPeakInFlight()
	if _, err := c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(6)); err != nil {
		t.Fatal(err)
	}
	if p := srv.PeakInFlight(); p != 1 {
		t.Errorf("PeakInFlight = %d after a reset and one request, want 1", p)
	}
}
