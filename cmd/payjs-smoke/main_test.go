package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

const (
	mchid = "1528140051"
	key   = "smoke-test-merchant-key-0123456789"
	order = "2026112500000000000000000001"
)

// sim starts a simulator holding the merchant and one order in state.
func sim(t *testing.T, state payjstest.State) *payjstest.Server {
	t.Helper()
	srv := payjstest.NewServer()
	t.Cleanup(srv.Close)
	srv.AddMerchant(mchid, key)
	srv.AddOrder(payjstest.Order{ID: order, MchID: mchid, State: state})
	return srv
}

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func merchantEnv(k string) func(string) string {
	return env(map[string]string{"PAYJS_MCHID": mchid, "PAYJS_KEY": k})
}

// smokeRun runs the command and returns its stdout, stderr and error. In
// every case, no key and no signature may appear in any of them.
func smokeRun(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"payjs-smoke"}, args...), getenv, &out, &errOut)
	all := out.String() + errOut.String()
	if err != nil {
		all += err.Error()
	}
	for _, k := range []string{getenv("PAYJS_KEY"), key} {
		if k == "" {
			continue
		}
		if strings.Contains(all, k) {
			t.Errorf("the key appears in the output:\n%s", all)
		}
		// The request's signature and the signature of each answer the
		// simulator may have sent.
		sigs := []string{payjs.Sign(map[string]string{"payjs_order_id": order}, k)}
		for _, msg := range []string{payjstest.MsgSuccess, payjstest.MsgAlreadyClosed, payjstest.MsgAlreadyPaid} {
			for _, code := range []string{"0", "1"} {
				sigs = append(sigs, payjs.Sign(map[string]string{"return_code": code, "return_msg": msg, "payjs_order_id": order}, k))
			}
		}
		for _, s := range sigs {
			if strings.Contains(all, s) {
				t.Errorf("a signature appears in the output:\n%s", all)
			}
		}
	}
	return out.String(), errOut.String(), err
}

func wantContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestClosedThenAlreadyClosed(t *testing.T) {
	srv := sim(t, payjstest.StateUnpaid)
	out, _, err := smokeRun(t, merchantEnv(key), "-order", order, "-base-url", srv.URL)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	wantContains(t, out,
		`return_code 1, return_msg "SUCCESS", signature verified`,
		"function:  closed\n",
		`return_code 0, return_msg "订单已关闭"`,
		"function:  already_closed\n",
		"MATCH",
	)
	if strings.Contains(out, "MISMATCH") {
		t.Errorf("output reports a mismatch:\n%s", out)
	}
	if o, _ := srv.Order(order); o.State != payjstest.StateClosed {
		t.Errorf("order is %v, want closed", o.State)
	}
	if n := srv.Requests(); n != 2 {
		t.Errorf("PAYJS saw %d requests, want 2", n)
	}
}

func TestPaidOrder(t *testing.T) {
	srv := sim(t, payjstest.StatePaid)
	out, _, err := smokeRun(t, merchantEnv(key), "-order", order, "-base-url", srv.URL)
	if err == nil {
		t.Errorf("run succeeded; want the check reported incomplete")
	}
	wantContains(t, out, `return_msg "订单已支付"`, "function:  paid/order_paid", "PAID")
	if strings.Contains(out, "MISMATCH") {
		t.Errorf("output reports a mismatch:\n%s", out)
	}
}

func TestWrongKey(t *testing.T) {
	srv := sim(t, payjstest.StateUnpaid)
	out, _, err := smokeRun(t, merchantEnv("not-the-merchant-key"), "-order", order, "-base-url", srv.URL)
	if err == nil {
		t.Errorf("run succeeded; want the check reported incomplete")
	}
	wantContains(t, out, `return_msg "签名错误"`, "function:  error/key_mismatch", "KEY")
	if o, _ := srv.Order(order); o.State != payjstest.StateUnpaid {
		t.Errorf("order is %v, want unpaid", o.State)
	}
}

// An answer to the second close that the function does not know must be
// reported loudly: this is what the smoke is for.
func TestUnknownWordingIsReportedLoudly(t *testing.T) {
	srv := sim(t, payjstest.StateUnpaid)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency}) // the first close is answered as usual
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"该订单状态不可关闭"}`})
	out, _, err := smokeRun(t, merchantEnv(key), "-order", order, "-base-url", srv.URL)
	if err == nil || !strings.Contains(err.Error(), "wording differs") {
		t.Errorf("run error = %v; want one saying the wording differs", err)
	}
	wantContains(t, out,
		"function:  closed\n",
		`return_msg "该订单状态不可关闭"`,
		"function:  rejected/payjs_rejected",
		"!!! MISMATCH: PAYJS's wording differs from what the function expects.",
		"The first close closed the order",
		"Please report it",
	)
}

func TestNoAnswer(t *testing.T) {
	srv := sim(t, payjstest.StateUnpaid)
	srv.Inject(payjstest.Fault{Kind: payjstest.FaultHTML, Count: payjstest.Forever})
	out, _, err := smokeRun(t, merchantEnv(key), "-order", order, "-base-url", srv.URL)
	if err == nil {
		t.Errorf("run succeeded; want the check reported incomplete")
	}
	wantContains(t, out, "PAYJS:     no usable answer", "error/payjs_bad_response (retryable)", "NO ANSWER")
	if strings.Contains(out, "MISMATCH") {
		t.Errorf("output reports a mismatch:\n%s", out)
	}
}

func TestRefusesWithoutCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing set", nil, "set PAYJS_MCHID and PAYJS_KEY"},
		{"no key", map[string]string{"PAYJS_MCHID": mchid}, "PAYJS_KEY is not set"},
		{"no mchid", map[string]string{"PAYJS_KEY": key}, "PAYJS_MCHID is not set"},
		{"malformed mchid", map[string]string{"PAYJS_MCHID": "15281-40051", "PAYJS_KEY": key}, "PAYJS_MCHID must be"},
		{"unusable key", map[string]string{"PAYJS_MCHID": mchid, "PAYJS_KEY": "abc+def%20"}, "PAYJS_KEY is unusable"},
		{"secret and key", map[string]string{"PAYJS_SECRET_ID": "payjs-close/prod", "PAYJS_MCHID": mchid, "PAYJS_KEY": key}, "unset one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sim(t, payjstest.StateUnpaid)
			out, _, err := smokeRun(t, env(tc.env), "-order", order, "-base-url", srv.URL)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run error = %v; want one containing %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("stdout = %q; want nothing", out)
			}
			if n := srv.Requests(); n != 0 {
				t.Errorf("PAYJS saw %d requests, want 0", n)
			}
		})
	}
}

func TestRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no order", nil, "-order is required"},
		{"empty order", []string{"-order", ""}, "-order is required"},
		{"order with a dash", []string{"-order", "2026-1125"}, "-order must be a payjs_order_id"},
		{"order with form syntax", []string{"-order", "1&sign=X"}, "-order must be a payjs_order_id"},
		{"order too long", []string{"-order", strings.Repeat("1", 33)}, "-order must be a payjs_order_id"},
		{"zero timeout", []string{"-order", order, "-timeout", "0s"}, "-timeout must be positive"},
		{"plain http off loopback", []string{"-order", order, "-base-url", "http://payjs.cn"}, "-base-url"},
		{"extra argument", []string{"-order", order, "again"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sim(t, payjstest.StateUnpaid)
			args := tc.args
			if !containsFlag(args, "-base-url") {
				args = append([]string{"-base-url", srv.URL}, args...)
			}
			_, _, err := smokeRun(t, merchantEnv(key), args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run error = %v; want one containing %q", err, tc.want)
			}
			if n := srv.Requests(); n != 0 {
				t.Errorf("PAYJS saw %d requests, want 0", n)
			}
		})
	}
}

func containsFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag {
			return true
		}
	}
	return false
}
