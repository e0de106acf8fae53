package main

// End-to-end tests: the real bootstrap, built as for Lambda (for this
// machine), runs under the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie, `make tools`) with moto as Secrets Manager and the
// PAYJS simulator as PAYJS, all on 127.0.0.1 (package devstack). They
// belong to the full tier: go test -short skips them, and without -short
// a missing emulator, moto or AWS CLI fails them with an install hint.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// startE2E builds the bootstrap and starts it under the emulator, with
// moto holding the demo secret and the simulator the demo orders.
func startE2E(t *testing.T) (*devstack.Stack, *testlog.Buffer) {
	t.Helper()
	return devstack.StartTest(t, devstack.Options{Root: repoRoot})
}

func e2eInvoke(t *testing.T, st *devstack.Stack, payload []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return st.Invoke(ctx, payload)
}

// e2eResult is the normalized result, with the fields the contract
// promises on every answer.
type e2eResult struct {
	OK           *bool  `json:"ok"`
	Status       string `json:"status"`
	PayjsOrderID string `json:"payjs_order_id"`
	Verified     *bool  `json:"verified"`
	Attempts     *int   `json:"attempts"`
	RequestID    string `json:"request_id"`
	Upstream     *struct {
		ReturnCode int `json:"return_code"`
	} `json:"upstream"`
	Error *struct {
		Code      string `json:"code"`
		Retryable bool   `json:"retryable"`
	} `json:"error"`
}

// checkClosed asserts that raw is the result of closing id.
func checkClosed(t *testing.T, raw []byte, id string) {
	t.Helper()
	var r e2eResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	if r.OK == nil || !*r.OK || r.Status != "closed" || r.PayjsOrderID != id {
		t.Errorf("result %s: want ok, closed, %s", raw, id)
	}
	if r.Verified == nil || !*r.Verified || r.Attempts == nil || *r.Attempts != 1 || r.RequestID == "" {
		t.Errorf("result %s: want verified, attempts 1 and a request_id", raw)
	}
	if r.Upstream == nil || r.Upstream.ReturnCode != 1 || r.Error != nil {
		t.Errorf("result %s: want upstream return_code 1 and no error", raw)
	}
}

// checkHTTP asserts that raw is an API Gateway or Function URL response
// with the closed result of id.
func checkHTTP(t *testing.T, raw []byte, id string) {
	t.Helper()
	var resp struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("HTTP response %s: %v", raw, err)
	}
	if resp.StatusCode != 200 || resp.IsBase64Encoded {
		t.Errorf("statusCode %d, isBase64Encoded %v; want 200, false", resp.StatusCode, resp.IsBase64Encoded)
	}
	for k, v := range map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"} {
		if resp.Headers[k] != v {
			t.Errorf("header %s = %q, want %q (headers %v)", k, resp.Headers[k], v, resp.Headers)
		}
	}
	checkClosed(t, []byte(resp.Body), id)
}

// closes expects a sample whose answer check accepts as the closed result
// of id, and the order then closed at the simulator.
func closes(id string, check func(*testing.T, []byte, string)) func(*testing.T, *devstack.Stack, []byte) {
	return func(t *testing.T, st *devstack.Stack, raw []byte) {
		check(t, raw, id)
		checkOrderState(t, st.Sim, id, payjstest.StateClosed)
	}
}

func checkOrderState(t *testing.T, sim *payjstest.Server, id string, want payjstest.State) {
	t.Helper()
	if o, ok := sim.Order(id); !ok || o.State != want {
		t.Errorf("simulator: order %s is %v, want %v", id, o.State, want)
	}
}

// sampleExpectations says, for each file in events/, what the function
// answers (the README's contract) and what the simulator then holds.
var sampleExpectations = map[string]func(t *testing.T, st *devstack.Stack, raw []byte){
	"http-api.json":     closes(payjstest.DemoOrderUnpaid(1), checkHTTP),
	"rest-api.json":     closes(payjstest.DemoOrderUnpaid(2), checkHTTP),
	"function-url.json": closes(payjstest.DemoOrderUnpaid(3), checkHTTP),
	"eventbridge.json":  closes(payjstest.DemoOrderUnpaid(4), checkClosed),
	"direct.json":       closes(payjstest.DemoOrderUnpaid(7), checkClosed),
	"schedule.json": func(t *testing.T, st *devstack.Stack, raw []byte) {
		var r struct {
			OK      bool   `json:"ok"`
			Status  string `json:"status"`
			CloseAt string `json:"close_at"`
		}
		if err := json.Unmarshal(raw, &r); err != nil || !r.OK || r.Status != "scheduled" || r.CloseAt == "" {
			t.Errorf("result %s, want ok, scheduled, close_at", raw)
		}
		id := payjstest.DemoOrderUnpaid(9)
		checkOrderState(t, st.Sim, id, payjstest.StateUnpaid)
		if _, err := st.Schedule(t.Context(), "close-"+id); err != nil {
			t.Errorf("no schedule close-%s in moto: %v", id, err)
		}
	},
	"sqs.json": func(t *testing.T, st *devstack.Stack, raw []byte) {
		// Only the retryable failure is retried; the rejected and the
		// invalid records are permanent failures, not reported.
		var resp map[string]any
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Fatalf("SQS response %s: %v", raw, err)
		}
		want := map[string]any{"batchItemFailures": []any{map[string]any{"itemIdentifier": "msg-0503"}}}
		if fmt.Sprint(resp) != fmt.Sprint(want) {
			t.Errorf("SQS response %s, want exactly %v", raw, want)
		}
		checkOrderState(t, st.Sim, payjstest.DemoOrderUnpaid(5), payjstest.StateClosed)
		checkOrderState(t, st.Sim, payjstest.DemoOrderUnpaid(6), payjstest.StateClosed)
		checkOrderState(t, st.Sim, payjstest.DemoOrderPaid, payjstest.StatePaid)
		checkOrderState(t, st.Sim, payjstest.DemoOrderUnavailable, payjstest.StateUnpaid)
	},
}

func TestEndToEndEverySampleEventUnderTheEmulator(t *testing.T) {
	t.Parallel()
	st, out := startE2E(t)

	files, err := filepath.Glob(filepath.Join(repoRoot, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, file := range files {
		name := filepath.Base(file)
		if name == "env.json" { // environment overrides for `sam local`, not an event
			continue
		}
		seen = append(seen, name)
		t.Run(name, func(t *testing.T) {
			check, ok := sampleExpectations[name]
			if !ok {
				t.Fatalf("events/%s has no expectation here: add one", name)
			}
			payload, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := e2eInvoke(t, st, payload)
			if err != nil {
				t.Fatalf("invoke: %s, %v", raw, err)
			}
			check(t, st, raw)
		})
	}
	for name := range sampleExpectations {
		if !slices.Contains(seen, name) {
			t.Errorf("events/%s is missing", name)
		}
	}

	t.Run("retryable failure is a Lambda error", func(t *testing.T) {
		raw, err := e2eInvoke(t, st, []byte(`{"payjs_order_id":"`+payjstest.DemoOrderUnavailable+`"}`))
		var fe *devstack.FunctionError
		if !errors.As(err, &fe) {
			t.Fatalf("invoke for the 503 order: %s, %v; want a Lambda function error", raw, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil || len(doc) != 2 || doc["errorType"] != "payjs_unavailable" {
			t.Errorf("error document %s, want {errorMessage, errorType: payjs_unavailable}", raw)
		}
		var r e2eResult
		if err := json.Unmarshal([]byte(fe.Message), &r); err != nil {
			t.Fatalf("errorMessage %q is not the result: %v", fe.Message, err)
		}
		if r.OK == nil || *r.OK || r.Status != "error" || r.Error == nil || r.Error.Code != "payjs_unavailable" || !r.Error.Retryable {
			t.Errorf("errorMessage %s: want a retryable payjs_unavailable result", fe.Message)
		}
		if r.Attempts == nil || *r.Attempts < 2 || r.RequestID == "" || r.PayjsOrderID != payjstest.DemoOrderUnavailable {
			t.Errorf("errorMessage %s: want the order id, a request_id and PAYJS retried", fe.Message)
		}
	})

	t.Run("through the AWS CLI", func(t *testing.T) {
		invokeWithAWSCLI(t, st)
	})

	if strings.Contains(out.String(), payjstest.DemoKey) {
		t.Error("the function's output shows the merchant key")
	}
}

// invokeWithAWSCLI closes an order as a user would: `aws lambda invoke`
// against the emulator.
func invokeWithAWSCLI(t *testing.T, st *devstack.Stack) {
	t.Helper()
	aws := requireTool(t, awsCLI)
	dir := t.TempDir()
	id := payjstest.DemoOrderUnpaid(8)
	payload := filepath.Join(dir, "event.json")
	if err := os.WriteFile(payload, []byte(`{"payjs_order_id":"`+id+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "out.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aws, "lambda", "invoke",
		"--endpoint-url", st.Emulator.URL(),
		"--function-name", "function",
		"--payload", "file://"+payload,
		outFile)
	cmd.Env = awsCLIEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws lambda invoke: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var meta struct {
		StatusCode    int
		FunctionError string
	}
	if err := json.Unmarshal(stdout.Bytes(), &meta); err != nil || meta.StatusCode != 200 || meta.FunctionError != "" {
		t.Errorf("aws lambda invoke printed %s (%v), want StatusCode 200 and no FunctionError", stdout.String(), err)
	}
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	checkClosed(t, raw, id)
	checkOrderState(t, st.Sim, id, payjstest.StateClosed)
}

// awsCLIEnv is this process's environment without AWS settings, plus
// static credentials and a region: the CLI must reach the emulator only,
// and botocore refuses an empty AWS_PROFILE, so it is left unset.
func awsCLIEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+mototest.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+mototest.SecretAccessKey,
		"AWS_DEFAULT_REGION="+mototest.Region,
		"AWS_REGION="+mototest.Region,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

func TestEndToEndColdStartLoadsTheKeyOnceAndReusesOneConnection(t *testing.T) {
	t.Parallel()
	st, out := startE2E(t)
	// Orders of our own, so that every close succeeds.
	ids := make([]string, 21)
	for i := range ids {
		ids[i] = fmt.Sprintf("20261126%020d", i+1)
		st.Sim.AddOrder(payjstest.Order{ID: ids[i], MchID: payjstest.DemoMchID})
	}
	closeOrder := func(id string) {
		t.Helper()
		raw, err := e2eInvoke(t, st, []byte(`{"payjs_order_id":"`+id+`"}`))
		if err != nil {
			t.Fatalf("close %s: %s, %v", id, raw, err)
		}
		checkClosed(t, raw, id)
	}

	if n := st.Moto.Calls("GetSecretValue") + st.Sim.Connections(); n != 0 {
		t.Fatalf("%d Secrets Manager calls or PAYJS connections before the first invoke", n)
	}
	closeOrder(ids[0]) // the cold start
	if n := st.Moto.Calls("GetSecretValue"); n != 1 {
		t.Errorf("the cold start made %d GetSecretValue calls, want 1", n)
	}
	// Init connects to PAYJS (payjs.Warm: no request) while it loads the
	// key; the close then goes out on that connection.
	if !regexp.MustCompile(`"message":"init","version":"[^"]+","key_loaded":true,.*"payjs_warm":true`).MatchString(out.String()) {
		t.Errorf("no init log line with the version, key_loaded and payjs_warm true")
	}
	if n := st.Sim.Connections(); n != 1 {
		t.Errorf("the warm-up and the first close used %d connections to PAYJS, want 1", n)
	}

	for _, id := range ids[1:] {
		closeOrder(id)
	}
	if n := st.Moto.Calls("GetSecretValue"); n != 1 {
		t.Errorf("after 20 warm invokes: %d GetSecretValue calls, want still 1", n)
	}
	if n, r := st.Sim.Connections(), st.Sim.Requests(); n != 1 || r != 21 {
		t.Errorf("21 closes made %d requests on %d connections, want 21 on 1", r, n)
	}

	// A fresh sandbox loads the key and connects again, once each.
	if err := st.Emulator.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := payjstest.DemoOrderUnpaid(9)
	closeOrder(id)
	if n, c := st.Moto.Calls("GetSecretValue"), st.Sim.Connections(); n != 2 || c != 2 {
		t.Errorf("after a second cold start: %d GetSecretValue calls and %d connections, want 2 and 2", n, c)
	}
}
