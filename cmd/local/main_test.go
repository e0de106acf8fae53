package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func noEnv(string) string { return "" }

// startLocal runs `local` on free ports and returns the HTTP API's URL and
// the simulator's, what it prints, and a function that stops it and
// returns run's error.
func startLocal(t *testing.T) (apiURL, simURL string, out *testlog.Buffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &testlog.Buffer{}
	banner := out.Watch(regexp.MustCompile(`HTTP API on (http://127\.0\.0\.1:\d+) .*\nPAYJS simulator on (http://127\.0\.0\.1:\d+) (?s:.*)stop with Ctrl-C\n`))
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"local", "-addr", "127.0.0.1:0", "-payjs-addr", "127.0.0.1:0"}, noEnv, out, io.Discard)
	}()
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("run did not return within 10s of its context being canceled")
			}
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	select {
	case m := <-banner:
		return m[1], m[2], out, stop
	case err := <-done:
		t.Fatalf("run returned before serving: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second): // a wait, generous for a busy machine
		t.Fatalf("no banner within 30s:\n%s", out.String())
	}
	return "", "", nil, nil
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, method, url, contentType, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, b, err)
	}
	return r
}

func errorCode(r response) any {
	e, _ := r.body["error"].(map[string]any)
	return e["code"]
}

func TestRunServesTheDeployedRoutes(t *testing.T) {
	t.Parallel()
	api, sim, out, stop := startLocal(t)
	id := payjstest.DemoOrderUnpaid(1)
	closeURL := api + "/orders/" + id + "/close"

	r := do(t, http.MethodPost, closeURL, "", "")
	if r.status != http.StatusOK || r.body["ok"] != true || r.body["status"] != "closed" || r.body["payjs_order_id"] != id {
		t.Errorf("first close: %d %v, want 200 closed", r.status, r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := r.header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if rid, _ := r.body["request_id"].(string); !strings.HasPrefix(rid, "local-") {
		t.Errorf("request_id = %v", r.body["request_id"])
	}

	r = do(t, http.MethodPost, closeURL, "", "")
	if r.status != http.StatusOK || r.body["status"] != "already_closed" {
		t.Errorf("second close: %d %v, want 200 already_closed", r.status, r.body)
	}

	r = do(t, http.MethodPost, api+"/close", "application/json", `{"payjs_order_id":"`+payjstest.DemoOrderUnpaid(2)+`"}`)
	if r.status != http.StatusOK || r.body["status"] != "closed" {
		t.Errorf("POST /close with a JSON body: %d %v, want 200 closed", r.status, r.body)
	}

	// curl -d sends a form's Content-Type: a JSON object is read as JSON,
	// a misspelled member is refused, a form must hold request fields.
	later := api + "/orders/" + payjstest.DemoOrderUnpaid(3) + "/close"
	for _, tt := range []struct {
		contentType, body string
		status            int
		want              string
	}{
		{"application/x-www-form-urlencoded", `{"close_after":"1h"}`, http.StatusAccepted, "scheduled"},
		{"", `{"close_after":"2h"}`, http.StatusAccepted, "scheduled"},
		{"application/json", `{"closeAfter":"15m"}`, http.StatusBadRequest, `unknown field "closeAfter": did you mean "close_after"?`},
		{"application/x-www-form-urlencoded", `closeAfter=15m`, http.StatusBadRequest, `unknown form field "closeAfter": did you mean "close_after"?`},
		{"text/plain", `{"close_after":"1h"}`, http.StatusUnsupportedMediaType, "Content-Type must be application/json or application/x-www-form-urlencoded"},
	} {
		r := do(t, http.MethodPost, later, tt.contentType, tt.body)
		if r.status != tt.status || (r.body["status"] != tt.want && r.body["message"] != tt.want) {
			t.Errorf("POST %s with %q as %q: %d %v, want %d %s", later, tt.body, tt.contentType, r.status, r.body, tt.status, tt.want)
		}
	}

	for _, tt := range []struct {
		method, url string
		status      int
		code        string
	}{
		{http.MethodGet, closeURL, http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodPost, api + "/nope", http.StatusNotFound, "not_found"},
		{http.MethodPost, api + "/orders/not-an-order-id/close", http.StatusBadRequest, "invalid_order_id"},
		{http.MethodPost, api + "/orders/" + payjstest.DemoOrderUnavailable + "/close", http.StatusServiceUnavailable, "payjs_unavailable"},
	} {
		r := do(t, tt.method, tt.url, "", "")
		if r.status != tt.status || errorCode(r) != tt.code {
			t.Errorf("%s %s: %d %v, want %d %s", tt.method, tt.url, r.status, r.body, tt.status, tt.code)
		}
	}

	// The simulator is where the banner says, and holds the closed order.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, sim+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD %s/: %v", sim, err)
	} else {
		_ = resp.Body.Close() // HEAD: no body
	}

	if err := stop(); err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
	logs := out.String()
	for _, want := range []string{
		`"message":"close"`, `"payjs_order_id":"` + id + `"`, `"outcome":"closed"`, `"error_code":"payjs_unavailable"`,
		"curl -i -X POST " + closeURL,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("output lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, payjstest.DemoKey) {
		t.Error("the output shows the merchant key")
	}
}

func TestRunStopsPromptlyWhenCancelled(t *testing.T) {
	t.Parallel()
	_, _, _, stop := startLocal(t)
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
	// Generous for a loaded machine, and still short of the 5s shutdown
	// timeout that a stop waiting on something would run into.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("run took %v to return after cancel", d)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	t.Parallel()
	// The flags are checked before anything listens, so the default
	// -addr being taken (by another run of make run, or here by the test
	// itself) must not turn a bad flag into "address already in use".
	if ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:3000"); err == nil {
		t.Cleanup(func() { _ = ln.Close() })
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("taking port 3000: %v", err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "0.0.0.0:3000"}, "not a loopback address"},
		{[]string{"-addr", ":3000"}, "not a loopback address"},
		{[]string{"-payjs-addr", "192.0.2.1:8086"}, "not a loopback address"},
		{[]string{"-addr", "3000"}, "not host:port"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-invoke", filepath.Join(t.TempDir(), "missing.json")}, "no such file"},
		{[]string{"-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		err := run(context.Background(), append([]string{"local"}, tt.args...), noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %q = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
	notJSON := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(notJSON, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"local", "-invoke", notJSON}, noEnv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("an event that is not JSON: %v", err)
	}
}

// -invoke runs the real bootstrap under aws-lambda-rie, with moto: it needs
// both installed (`make tools`, pip install 'moto[server]'), so the full
// tier runs it and go test -short skips it.
func TestRunInvokesAnEventThroughTheEmulator(t *testing.T) {
	t.Parallel()
	devstack.Require(t)
	unavailable := filepath.Join(t.TempDir(), "unavailable.json")
	if err := os.WriteFile(unavailable, []byte(`{"payjs_order_id":"`+payjstest.DemoOrderUnavailable+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		event     string
		want      map[string]any
		wantNotes string
		wantErr   string // the failure run returns (main then exits 1), "" for none
	}{
		{"../../events/direct.json", map[string]any{"ok": true, "status": "closed", "payjs_order_id": "2026112500000000000000000007"}, "", ""},
		// A Lambda error is printed as its error document, and run fails.
		{unavailable, map[string]any{"errorType": "payjs_unavailable"}, `errorType "payjs_unavailable"`,
			"the function answered a failure: a Lambda error, errorType payjs_unavailable"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.event), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, []string{"local", "-invoke", tt.event}, os.Getenv, &stdout, &stderr)
			var fe *failedError
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (!errors.As(err, &fe) || err.Error() != tt.wantErr) {
				t.Fatalf("run -invoke %s = %v, want %q\nstderr:\n%s", tt.event, err, tt.wantErr, stderr.String())
			}
			var got map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v; stdout:\n%s", k, got[k], v, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tt.wantNotes) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantNotes, stderr.String())
			}
		})
	}
}
