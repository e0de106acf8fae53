package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func noEnv(string) string { return "" }

// started runs run in the background and returns the simulator's URL, a
// function that stops it and returns run's error and everything it
// printed.
func started(t *testing.T, args ...string) (url string, stop func() (string, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"payjs-sim"}, args...), noEnv, pw)
		_ = pw.Close()
		errc <- err
	}()

	var out bytes.Buffer
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if _, rest, ok := strings.Cut(line, "listening on "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
	}
	if url == "" {
		cancel()
		t.Fatalf("run printed no URL (error %v):\n%s", <-errc, out.String())
	}
	done := make(chan struct{})
	go func() { // keep reading, or run blocks on its next line
		defer close(done)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
	}()
	return url, func() (string, error) {
		cancel()
		err := <-errc
		<-done
		return out.String(), err
	}
}

func TestRunServesDemoDataAndStops(t *testing.T) {
	url, stop := started(t, "-addr", "127.0.0.1:0")
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(url), payjs.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := c.CloseOrder(ctx, "2026112500000000000000000001")
	if err != nil || !res.Verified {
		t.Errorf("close demo order 1: %+v, %v; want a verified success", res, err)
	}
	if _, err := c.CloseOrder(ctx, "2026112500000000000000000010"); payjs.KindOf(err) != payjs.KindPaid {
		t.Errorf("close the paid demo order: %v, want paid", err)
	}
	if _, err := c.CloseOrder(ctx, "2026112500000000000000000503"); payjs.KindOf(err) != payjs.KindUnavailable {
		t.Errorf("close demo order ...0503: %v, want unavailable", err)
	}

	out, err := stop()
	if err != nil {
		t.Fatalf("run returned %v after its context ended", err)
	}
	for _, want := range []string{
		"demo merchant: mchid 1528140051, key payjs-close-local-demo-key (the public local demo key",
		"  2026112500000000000000000001  unpaid: closes",
		"  2026112500000000000000000009  unpaid: closes",
		"  2026112500000000000000000010  paid: return_code 0 订单已支付",
		"  2026112500000000000000000011  closed: return_code 0 订单已关闭",
		"  2026112500000000000000000012  unpaid, created 40 days ago",
		"  2026112500000000000000000503  answers HTTP 503 every time",
		"payjs_order_id=2026112500000000000000000001 outcome=closed status=200 return_code=1",
		"payjs_order_id=2026112500000000000000000010 outcome=already_paid status=200 return_code=0",
		"payjs_order_id=2026112500000000000000000503 outcome=order_failure status=503",
		"msg=stopped requests=3 connections=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Count(out, "msg=request"); got != 3 {
		t.Errorf("%d request log lines, want one per request (3):\n%s", got, out)
	}
	if sign := payjs.Sign(map[string]string{"payjs_order_id": "2026112500000000000000000001"}, payjstest.DemoKey); strings.Contains(out, sign) {
		t.Errorf("output holds a signature:\n%s", out)
	}
}

func TestRunLatency(t *testing.T) {
	url, stop := started(t, "-addr", "127.0.0.1:0", "-latency", "100ms")
	c, _ := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(url))
	start := time.Now()
	if _, err := c.CloseOrder(context.Background(), "2026112500000000000000000002"); err != nil {
		t.Errorf("close: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("close took %v, want at least the 100ms latency", d)
	}
	if out, err := stop(); err != nil || !strings.Contains(out, "every close is delayed by 100ms") {
		t.Errorf("run: %v\n%s", err, out)
	}
}

func TestRunAddrFromEnv(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stop as soon as it has started
	var out bytes.Buffer
	getenv := func(k string) string {
		if k == "PAYJS_SIM_ADDR" {
			return "127.0.0.1:0"
		}
		return ""
	}
	if err := run(ctx, []string{"payjs-sim"}, getenv, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunRefuses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "0.0.0.0:8086"}, "not a loopback address"},
		{[]string{"-addr", ":8086"}, "not a loopback address"},
		{[]string{"-addr", "[::]:8086"}, "not a loopback address"},
		{[]string{"-addr", "192.0.2.1:8086"}, "not a loopback address"},
		{[]string{"-addr", "payjs.cn:80"}, "not a loopback address"},
		{[]string{"-addr", "127.0.0.1"}, "not host:port"},
		{[]string{"-latency", "-1s"}, "must not be negative"},
		{[]string{"-latency", "soon"}, "invalid value"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var out bytes.Buffer
		err := run(ctx, append([]string{"payjs-sim"}, tc.args...), noEnv, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q = %v, want an error containing %q", tc.args, err, tc.want)
		}
		if strings.Contains(out.String(), "listening") {
			t.Errorf("run %q started listening", tc.args)
		}
	}
}
