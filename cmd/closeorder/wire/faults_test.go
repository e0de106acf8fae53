package wire

// The fault matrix of the README, through the real handler as the Lambda
// runtime gets it from Build: the real AWS SDK against moto (mototest) and
// the real PAYJS client against the simulator (payjstest). Each row asserts
// what the caller sees (HTTP status and error code for an HTTP event, the
// Lambda error type of a direct or EventBridge invoke, the SQS
// batchItemFailures), whether PAYJS was asked again within the call (the
// simulator's request count and the result's attempts), and so where the
// event goes next.
//
// TestMain scans everything the handlers wrote (logs, metrics), answered
// and returned as errors for the demo key, the secret JSON and anything
// that looks like a PAYJS signature.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// TestMain fails the run if any captured output holds a key, the secret
// or a signature.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := scanForLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: a secret leaked into what a handler wrote or answered:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// The secrets the tests hand to Secrets Manager. None may ever appear in
// what a handler writes or answers.
const (
	demoSecret = `{"mchid":"` + payjstest.DemoMchID + `","key":"` + payjstest.DemoKey + `"}`
	plusKey    = "payjs+close+local+demo+key"
	percentKey = "payjs%20close-local-demo-key"
)

var leakStrings = []string{payjstest.DemoKey, demoSecret, plusKey, percentKey}

var (
	// signLike matches an MD5 signature as PAYJS writes it.
	signLike = regexp.MustCompile(`\b[0-9A-F]{32}\b`)
	// keyField matches a JSON "key" field holding anything but the
	// redaction marker "[REDACTED]".
	keyField = regexp.MustCompile(`"key"\s*:\s*"[^"\[]`)
)

// captured holds everything every handler of the package wrote (its
// stdout), answered and returned as an error.
var captured struct {
	mu   sync.Mutex
	outs []*capture
	rest []string
}

func record(s string) {
	captured.mu.Lock()
	captured.rest = append(captured.rest, s)
	captured.mu.Unlock()
}

func scanForLeaks() error {
	captured.mu.Lock()
	defer captured.mu.Unlock()
	all := slices.Clone(captured.rest)
	for _, c := range captured.outs {
		all = append(all, c.String())
	}
	for _, text := range all {
		for _, s := range leakStrings {
			if strings.Contains(text, s) {
				return fmt.Errorf("%q appears in: %.300s", s, text)
			}
		}
		if m := keyField.FindString(text); m != "" {
			return fmt.Errorf("a key field %q appears in: %.300s", m, text)
		}
		for _, m := range signLike.FindAllString(text, -1) {
			if strings.ContainsAny(m, "ABCDEF") {
				return fmt.Errorf("a signature-like value %s appears in: %.300s", m, text)
			}
		}
	}
	return nil
}

// capture is a handler's stdout.
type capture struct {
	testlog.Buffer
}

func newCapture() *capture {
	c := &capture{}
	captured.mu.Lock()
	captured.outs = append(captured.outs, c)
	captured.mu.Unlock()
	return c
}

// logs returns the JSON log lines (not the metric lines) written so far.
func (c *capture) logs(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(c.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %v: %s", err, line)
		}
		if _, ok := m["_aws"]; !ok {
			out = append(out, m)
		}
	}
	return out
}

// find returns the first log line with message msg whose fields include
// every one of fields (compared as printed).
func (c *capture) find(t *testing.T, msg string, fields map[string]any) map[string]any {
	t.Helper()
next:
	for _, l := range c.logs(t) {
		if l["message"] != msg {
			continue
		}
		for k, v := range fields {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				continue next
			}
		}
		return l
	}
	return nil
}

// envMu serializes Build. Build reads the AWS_* variables from the
// process environment (config.LoadDefaultConfig, and
// secretsmanager.NewFromConfig for AWS_ENDPOINT_URL_SECRETS_MANAGER),
// and parallel tests point it at different moto servers: t.Setenv cannot
// be used in parallel tests, so the variables are set and restored under
// this lock. Nothing reads them after Build returns.
var envMu sync.Mutex

// build runs Build with getenv, and the AWS_* variables of sm (when not
// nil) in the process environment.
func build(sm *mototest.Server, getenv func(string) string, stdout *capture) (*handler.Handler, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if sm != nil {
		for k, v := range sm.Env() {
			old, had := os.LookupEnv(k)
			_ = os.Setenv(k, v)
			defer func() {
				if had {
					_ = os.Setenv(k, old)
				} else {
					_ = os.Unsetenv(k)
				}
			}()
		}
	}
	h, err := Build(context.Background(), getenv, stdout)
	if err != nil {
		record(err.Error())
	}
	return h, err
}

// stack is one function instance (a Lambda sandbox) with its own PAYJS
// simulator and secret.
type stack struct {
	sm     *mototest.Server
	sim    *payjstest.Server
	secret string // the secret's name
	h      *handler.Handler
	out    *capture
	seq    atomic.Int64
}

// newStack returns a stack whose secret is not created yet and whose
// handler is not built yet.
func newStack(t *testing.T, sm *mototest.Server) *stack {
	t.Helper()
	sim := payjstest.NewServer(payjstest.WithDemoData())
	t.Cleanup(sim.Close)
	return &stack{sm: sm, sim: sim, secret: secretName(t), out: newCapture()}
}

// readyStack returns a built stack with the demo secret.
func readyStack(t *testing.T, sm *mototest.Server, vars map[string]string) *stack {
	t.Helper()
	s := newStack(t, sm)
	sm.CreateSecret(t, s.secret, demoSecret)
	s.build(t, vars)
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9/_+=.@-]`)

func secretName(t *testing.T) string {
	return "payjs-close/" + unsafeName.ReplaceAllString(t.Name(), "-")
}

// build builds the handler: PAYJS_SECRET_ID and PAYJS_BASE_URL name the
// stack's secret and simulator unless vars says otherwise.
func (s *stack) build(t *testing.T, vars map[string]string) {
	t.Helper()
	env := map[string]string{"PAYJS_SECRET_ID": s.secret, "PAYJS_BASE_URL": s.sim.URL}
	maps.Copy(env, vars)
	h, err := build(s.sm, func(name string) string { return env[name] }, s.out)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	s.h = h
}

// order adds a fresh order in state to the simulator and returns its id.
func (s *stack) order(state payjstest.State) string {
	id := fmt.Sprintf("2026112600%018d", s.seq.Add(1))
	s.sim.AddOrder(payjstest.Order{ID: id, MchID: payjstest.DemoMchID, State: state})
	return id
}

func (s *stack) state(t *testing.T, id string) payjstest.State {
	t.Helper()
	o, ok := s.sim.Order(id)
	if !ok {
		t.Fatalf("simulator has no order %s", id)
	}
	return o.State
}

// via is how an event reaches the function, which decides how the
// answer is shaped.
type via string

const (
	viaHTTP        via = "http_api"
	viaREST        via = "rest_api"
	viaFunctionURL via = "function_url"
	viaDirect      via = "direct"
	viaEventBridge via = "eventbridge"
	viaSQS         via = "sqs"
)

// answer is what one invocation gave the caller.
type answer struct {
	status   int // HTTP kinds: the status code
	headers  map[string]string
	res      closing.Result // the normalized result (not for SQS)
	errType  string         // direct and EventBridge: the Lambda error type, "" when the result was returned
	plainErr error          // an error that is not a typed Lambda error
	failures []string       // SQS: the batchItemFailures
	elapsed  time.Duration
	left     time.Duration // time left before the invocation's deadline when it returned
}

// raw is an invocation's output before it is read.
type raw struct {
	out     []byte
	err     error
	elapsed time.Duration
	left    time.Duration
}

// run invokes h as the Lambda runtime does, with a request id and a
// deadline timeout away (the template's function timeout is 10 s).
func run(h *handler.Handler, payload []byte, timeout time.Duration) raw {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	start := time.Now()
	out, err := h.Invoke(ctx, payload)
	r := raw{out: out, err: err, elapsed: time.Since(start), left: time.Until(dl)}
	record(string(out))
	if err != nil {
		record(err.Error())
	}
	return r
}

// read shapes a raw output the way the caller of kind v reads it.
func read(t *testing.T, v via, r raw) answer {
	t.Helper()
	a := answer{elapsed: r.elapsed, left: r.left}
	if r.err != nil {
		var ie messages.InvokeResponse_Error
		if !errors.As(r.err, &ie) {
			a.plainErr = r.err
			return a
		}
		if v != viaDirect && v != viaEventBridge {
			t.Fatalf("%s event answered with a Lambda error %s: %s", v, ie.Type, ie.Message)
		}
		a.errType = ie.Type
		a.res = decodeResult(t, []byte(ie.Message))
		return a
	}
	switch v {
	case viaHTTP, viaREST, viaFunctionURL:
		var resp struct {
			StatusCode      int               `json:"statusCode"`
			Headers         map[string]string `json:"headers"`
			Body            string            `json:"body"`
			IsBase64Encoded bool              `json:"isBase64Encoded"`
		}
		if err := json.Unmarshal(r.out, &resp); err != nil || resp.IsBase64Encoded {
			t.Fatalf("%s response %s: %v", v, r.out, err)
		}
		a.status, a.headers = resp.StatusCode, resp.Headers
		a.res = decodeResult(t, []byte(resp.Body))
	case viaSQS:
		var resp events.SQSEventResponse
		dec := json.NewDecoder(bytes.NewReader(r.out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil || resp.BatchItemFailures == nil {
			t.Fatalf("SQS response %s: %v (batchItemFailures must be a list)", r.out, err)
		}
		a.failures = []string{}
		for _, f := range resp.BatchItemFailures {
			a.failures = append(a.failures, f.ItemIdentifier)
		}
	default:
		a.res = decodeResult(t, r.out)
	}
	return a
}

// call invokes the function with payload, as a caller of kind v.
func (s *stack) call(t *testing.T, v via, payload []byte) answer {
	t.Helper()
	return read(t, v, run(s.h, payload, 10*time.Second))
}

func decodeResult(t *testing.T, b []byte) closing.Result {
	t.Helper()
	var r closing.Result
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("result %s: %v", b, err)
	}
	return r
}

// sample reads an event of events/ as a JSON object.
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	if o == nil {
		o = map[string]any{}
		m[key] = o
	}
	return o
}

// httpPathEvent is the HTTP API sample for POST /orders/{id}/close.
func httpPathEvent(t *testing.T, id string) []byte {
	t.Helper()
	m := sample(t, "http-api.json")
	m["pathParameters"] = map[string]any{"payjs_order_id": id}
	m["rawPath"] = "/orders/" + id + "/close"
	obj(obj(m, "requestContext"), "http")["path"] = m["rawPath"]
	return mustJSON(t, m)
}

func directEvent(t *testing.T, id string) []byte {
	t.Helper()
	return mustJSON(t, map[string]any{"payjs_order_id": id, "mchid": payjstest.DemoMchID})
}

func eventBridgeEvent(t *testing.T, detail map[string]any) []byte {
	t.Helper()
	m := sample(t, "eventbridge.json")
	m["detail"] = detail
	return mustJSON(t, m)
}

// sqsEvent is an SQS batch of records, each a message id and a body.
func sqsEvent(t *testing.T, records ...[2]string) []byte {
	t.Helper()
	var e events.SQSEvent
	for _, r := range records {
		e.Records = append(e.Records, events.SQSMessage{
			MessageId: r[0], Body: r[1], EventSource: "aws:sqs", AWSRegion: "us-east-1",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:payjs-close-CloseQueue-Q1w2E3r4T5y6",
			ReceiptHandle:  "AQEB" + r[0], Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	return mustJSON(t, e)
}

// payload is an event closing id through kind v: the HTTP API orders
// route, a direct invoke, an EventBridge event, or an SQS batch of one
// record (message id "m-"+id).
func payload(t *testing.T, v via, id string) []byte {
	t.Helper()
	switch v {
	case viaHTTP:
		return httpPathEvent(t, id)
	case viaDirect:
		return directEvent(t, id)
	case viaEventBridge:
		return eventBridgeEvent(t, map[string]any{"payjs_order_id": id})
	case viaSQS:
		return sqsEvent(t, [2]string{"m-" + id, `{"payjs_order_id":"` + id + `"}`})
	}
	t.Fatalf("no payload for %s", v)
	return nil
}

// close closes id through kind v within timeout.
func (s *stack) close(t *testing.T, v via, id string, timeout time.Duration) answer {
	t.Helper()
	return read(t, v, run(s.h, payload(t, v, id), timeout))
}

// expect checks what the caller of kind v saw against the error code
// want ("" for a close): its shape, its code and whether it is retryable.
func expect(t *testing.T, v via, id string, a answer, want closing.Code) {
	t.Helper()
	expectStatus(t, v, id, a, want, closing.StatusClosed)
}

// expectStatus is expect for a success whose status is ok (closed or
// already_closed).
func expectStatus(t *testing.T, v via, id string, a answer, want closing.Code, ok string) {
	t.Helper()
	if a.plainErr != nil {
		t.Fatalf("%s: untyped error %v", v, a.plainErr)
	}
	retryable := want.Retryable()
	switch v {
	case viaSQS:
		wantFailures := []string{}
		if want != "" && retryable {
			wantFailures = []string{"m-" + id}
		}
		if !slices.Equal(a.failures, wantFailures) {
			t.Errorf("sqs: batchItemFailures = %q, want %q", a.failures, wantFailures)
		}
		return
	case viaHTTP, viaREST, viaFunctionURL:
		wantStatus := http.StatusOK
		if want != "" {
			wantStatus = want.HTTPStatus()
		}
		if a.status != wantStatus {
			t.Errorf("%s: status %d, want %d (%+v)", v, a.status, wantStatus, a.res)
		}
		if a.headers["Content-Type"] != "application/json; charset=utf-8" || a.headers["Cache-Control"] != "no-store" {
			t.Errorf("%s: headers %v", v, a.headers)
		}
	case viaDirect, viaEventBridge:
		wantType := ""
		if want != "" && retryable {
			wantType = string(want)
		}
		if a.errType != wantType {
			t.Errorf("%s: Lambda error type %q, want %q (retryable failures are Lambda errors, the rest results)", v, a.errType, wantType)
		}
	}
	r := a.res
	if want == "" {
		if !r.OK || r.Status != ok || r.Failure != nil || r.PayjsOrderID != id {
			t.Errorf("%s: result %+v, want %s", v, r, ok)
		}
		return
	}
	if r.OK || r.Failure == nil || r.Failure.Code != want || r.Failure.Retryable != retryable {
		t.Errorf("%s: result %+v, want %s (retryable %v)", v, r, want, retryable)
	}
}

// closedPort returns an http:// loopback URL on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return u
}

// allVias are the three ways a close request reaches the function, each
// with its own answer shape.
var allVias = []via{viaHTTP, viaDirect, viaSQS}

// TestPAYJSFaults is the PAYJS half of the fault matrix. Each row closes
// a fresh order three times, through an HTTP API event, a direct invoke
// and an SQS batch of one, with the fault injected afresh each time, and
// checks the answer of each, the requests PAYJS received (retries within
// the call), the attempts reported and the order's state at PAYJS
// afterwards (whether a later retry would find it closed already).
func TestPAYJSFaults(t *testing.T) {
	t.Parallel()
	sm := mototest.Start(t)
	type row struct {
		name     string
		vars     map[string]string        // configuration beyond the defaults
		state    payjstest.State          // of the order closed
		inject   func(*payjstest.Server)  // before each invocation
		timeout  time.Duration            // the invocation's deadline (default 10s)
		refused  bool                     // PAYJS_BASE_URL is a closed loopback port
		code     closing.Code             // "" = a success
		status   string                   // of a success (default closed)
		payjsKey string                   // the merchant's key at PAYJS, when not the secret's
		verified bool                     // for a close
		requests int                      // PAYJS requests per invocation (= attempts)
		after    payjstest.State          // the order's state at PAYJS afterwards
		elapsed  [2]time.Duration         // bounds of one invocation's duration, if set
		check    func(*testing.T, answer) // anything else
	}
	fault := func(fs ...payjstest.Fault) func(*payjstest.Server) {
		return func(s *payjstest.Server) {
			for _, f := range fs {
				s.Inject(f)
			}
		}
	}
	status := func(code, count int) payjstest.Fault {
		return payjstest.Fault{Kind: payjstest.FaultStatus, Status: code, Count: count}
	}
	unpaid, closed, paid := payjstest.StateUnpaid, payjstest.StateClosed, payjstest.StatePaid
	rows := []row{
		{name: "healthy", code: "", verified: true, requests: 1, after: closed},
		{name: "http_500_then_recovery", inject: fault(status(500, 1)), verified: true, requests: 2, after: closed},
		{name: "http_502_then_recovery", inject: fault(status(502, 1)), verified: true, requests: 2, after: closed},
		{name: "http_503_then_recovery", inject: fault(status(503, 1)), verified: true, requests: 2, after: closed},
		{name: "http_500_502_then_recovery", inject: fault(status(500, 1), status(502, 1)), verified: true, requests: 3, after: closed},
		{name: "http_503_throughout", inject: fault(status(503, payjstest.Forever)), code: closing.CodePayjsUnavailable, requests: 3, after: unpaid},
		{name: "http_429_retry_after_1s_then_recovery",
			inject:   fault(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 429, RetryAfter: time.Second}),
			verified: true, requests: 2, after: closed, elapsed: [2]time.Duration{time.Second, 4 * time.Second}},
		{name: "http_429_retry_after_beyond_budget",
			inject: fault(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 429, RetryAfter: 10 * time.Second, Count: payjstest.Forever}),
			code:   closing.CodePayjsUnavailable, requests: 1, after: unpaid, elapsed: [2]time.Duration{0, 2500 * time.Millisecond}},
		{name: "html_error_page", inject: fault(payjstest.Fault{Kind: payjstest.FaultHTML}), code: closing.CodePayjsBadResponse, requests: 1, after: unpaid},
		{name: "invalid_json", inject: fault(payjstest.Fault{Kind: payjstest.FaultInvalidJSON}), code: closing.CodePayjsBadResponse, requests: 1, after: unpaid},
		{name: "wrong_shape", inject: fault(payjstest.Fault{Kind: payjstest.FaultBody, Body: `[{"return_code":1}]`}), code: closing.CodePayjsBadResponse, requests: 1, after: unpaid},
		{name: "truncated_body", inject: fault(payjstest.Fault{Kind: payjstest.FaultTruncated}), code: closing.CodePayjsBadResponse, requests: 1, after: closed},
		{name: "body_over_cap", inject: fault(payjstest.Fault{Kind: payjstest.FaultOversize}), code: closing.CodePayjsBadResponse, requests: 1, after: closed},
		{name: "signature_wrong", inject: fault(payjstest.Fault{Kind: payjstest.FaultWrongSign}), code: closing.CodePayjsBadResponse, requests: 1, after: closed,
			check: func(t *testing.T, a answer) {
				if a.res.OK || a.res.Verified {
					t.Errorf("a wrongly signed answer became a success: %+v", a.res)
				}
			}},
		{name: "signature_missing", inject: fault(payjstest.Fault{Kind: payjstest.FaultNoSign}), verified: false, requests: 1, after: closed},
		{name: "signature_missing_required", vars: map[string]string{"PAYJS_REQUIRE_SIGNATURE": "true"},
			inject: fault(payjstest.Fault{Kind: payjstest.FaultNoSign}), code: closing.CodePayjsBadResponse, requests: 1, after: closed},
		{name: "connection_reset_then_recovery", inject: fault(payjstest.Fault{Kind: payjstest.FaultDrop}), verified: true, requests: 2, after: closed},
		{name: "connection_reset_throughout", inject: fault(payjstest.Fault{Kind: payjstest.FaultDrop, Count: payjstest.Forever}),
			code: closing.CodePayjsUnavailable, requests: 3, after: unpaid},
		{name: "connection_refused", refused: true, code: closing.CodePayjsUnavailable, requests: 0, after: unpaid,
			check: func(t *testing.T, a answer) {
				if a.res.Attempts != 3 {
					t.Errorf("attempts %d, want 3 (connect errors are retried)", a.res.Attempts)
				}
			}},
		{name: "slow_beyond_time_budget", vars: map[string]string{"PAYJS_TIMEOUT": "300ms"},
			inject: fault(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: 5 * time.Second, Count: payjstest.Forever}),
			code:   closing.CodePayjsTimeout, requests: 1, after: unpaid, elapsed: [2]time.Duration{300 * time.Millisecond, 4 * time.Second}},
		{name: "lambda_deadline_shorter_than_budget", vars: map[string]string{"PAYJS_TIMEOUT": "5s"}, timeout: 400 * time.Millisecond,
			inject: fault(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: 5 * time.Second, Count: payjstest.Forever}),
			code:   closing.CodePayjsTimeout, requests: 1, after: unpaid,
			check: func(t *testing.T, a answer) {
				// The close gives up at the deadline less the 200ms
				// reserve, not sooner, and the reserve is the time to
				// shape and send the answer: any time left means Lambda
				// got an answer, not a timeout. (A margin asked of the
				// reserve would flake on a loaded machine.)
				if a.elapsed < 150*time.Millisecond {
					t.Errorf("gave up after %v, want about 200ms (the deadline less the reserve)", a.elapsed)
				}
				if a.left <= 0 {
					t.Errorf("returned %v after the deadline, want before it", -a.left)
				}
			}},
		{name: "paid_order_is_final", state: paid, code: closing.CodeOrderPaid, requests: 1, after: paid,
			check: func(t *testing.T, a answer) {
				if a.res.Status != closing.StatusPaid || a.res.Upstream == nil || a.res.Upstream.ReturnCode != 0 || a.res.Upstream.ReturnMsg != payjstest.MsgAlreadyPaid {
					t.Errorf("result %+v, want status paid and PAYJS's return_code 0 %q", a.res, payjstest.MsgAlreadyPaid)
				}
			}},
		{name: "already_closed_is_success", state: closed, status: closing.StatusAlreadyClosed, verified: true, requests: 1, after: closed},
		{name: "http_502_after_the_close_then_already_closed", inject: fault(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 502, AfterClose: true}),
			status: closing.StatusAlreadyClosed, verified: true, requests: 2, after: closed},
		{name: "key_mismatch", payjsKey: "the-key-the-merchant-set-at-payjs", code: closing.CodeKeyMismatch, requests: 1, after: unpaid,
			check: func(t *testing.T, a answer) {
				if a.res.Upstream == nil || a.res.Upstream.ReturnMsg != payjstest.MsgBadSign {
					t.Errorf("result %+v, want PAYJS's %q", a.res, payjstest.MsgBadSign)
				}
			}},
		{name: "refusal_in_msg", inject: fault(payjstest.Fault{Kind: payjstest.FaultBody, Body: `{"return_code":0,"msg":"订单已支付"}`}),
			code: closing.CodeOrderPaid, requests: 1, after: unpaid},
		{name: "refusal_of_60KB_is_clipped", inject: fault(payjstest.Fault{Kind: payjstest.FaultBody, Body: `{"return_code":0,"return_msg":"` + strings.Repeat("拒绝", 10000) + `"}`}),
			code: closing.CodePayjsRejected, requests: 1, after: unpaid,
			check: func(t *testing.T, a answer) {
				if a.res.Upstream == nil || len(a.res.Upstream.ReturnMsg) > 256 || !strings.HasPrefix(a.res.Upstream.ReturnMsg, "拒绝拒绝") {
					t.Errorf("return_msg of %d bytes, want at most 256", len(a.res.Upstream.ReturnMsg))
				}
			}},
	}
	for _, rw := range rows {
		t.Run(rw.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, sm)
			sm.CreateSecret(t, s.secret, demoSecret)
			vars := maps.Clone(rw.vars)
			if rw.refused {
				vars = map[string]string{"PAYJS_BASE_URL": closedPort(t)}
			}
			s.build(t, vars)
			if rw.payjsKey != "" {
				s.sim.AddMerchant(payjstest.DemoMchID, rw.payjsKey)
			}
			timeout := rw.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			for _, v := range allVias {
				id := s.order(rw.state)
				s.sim.ClearFaults()
				if rw.inject != nil {
					rw.inject(s.sim)
				}
				before := s.sim.Requests()
				a := s.close(t, v, id, timeout)
				s.sim.ClearFaults()
				expectStatus(t, v, id, a, rw.code, cmp.Or(rw.status, closing.StatusClosed))
				if n := s.sim.Requests() - before; n != rw.requests {
					t.Errorf("%s: PAYJS received %d requests, want %d", v, n, rw.requests)
				}
				if got := s.state(t, id); got != rw.after {
					t.Errorf("%s: order %s is %v at PAYJS, want %v", v, id, got, rw.after)
				}
				// Upper bounds are generous, for a loaded 2-core machine,
				// yet below what the fault takes when not handled (the 5s
				// budget or the 5s delay); the request counts say the rest.
				if rw.elapsed[1] > 0 && (a.elapsed < rw.elapsed[0] || a.elapsed > rw.elapsed[1]) {
					t.Errorf("%s: took %v, want %v to %v", v, a.elapsed, rw.elapsed[0], rw.elapsed[1])
				}
				if v == viaSQS {
					continue // the batch response holds no result; the log line does
				}
				if !rw.refused && a.res.Attempts != rw.requests {
					t.Errorf("%s: attempts %d, want %d", v, a.res.Attempts, rw.requests)
				}
				if rw.code == "" && a.res.Verified != rw.verified {
					t.Errorf("%s: verified %v, want %v", v, a.res.Verified, rw.verified)
				}
				if rw.check != nil {
					rw.check(t, a)
				}
			}
			if n := s.sm.Calls("GetSecretValue"); n < 1 {
				t.Errorf("GetSecretValue calls %d", n)
			}
		})
	}
}

// initLine returns the handler's init log line, failing the test when it
// is missing.
func initLine(t *testing.T, s *stack) map[string]any {
	t.Helper()
	l := s.out.find(t, "init", nil)
	if l == nil {
		t.Fatalf("no init log line in:\n%s", s.out.String())
	}
	return l
}

// expectInitFailed checks that the cold start went on without the key,
// logging why at ERROR.
func expectInitFailed(t *testing.T, s *stack, reason string) {
	t.Helper()
	l := initLine(t, s)
	if l["level"] != "ERROR" || l["key_loaded"] != false || !strings.Contains(fmt.Sprint(l["key_error"]), reason) {
		t.Errorf("init line %v, want ERROR, key_loaded false and key_error naming %q", l, reason)
	}
}

// expectInitWithin checks that the cold start took at most bound (and a
// little to spare), as its init log line reports: Build does not wait for
// a Secrets Manager that does not answer.
func expectInitWithin(t *testing.T, s *stack, bound time.Duration) {
	t.Helper()
	ms, _ := initLine(t, s)["init_ms"].(float64)
	// Twice the bound: room for a loaded machine, and far below the
	// minute a hung Secrets Manager would hold an unbounded init.
	if d := time.Duration(ms * float64(time.Millisecond)); d <= 0 || d > 2*bound {
		t.Errorf("init took %v, want at most its %v bound", d, bound)
	}
}

// count is how many log lines have message msg.
func count(t *testing.T, s *stack, msg string) int {
	t.Helper()
	n := 0
	for _, l := range s.out.logs(t) {
		if l["message"] == msg {
			n++
		}
	}
	return n
}

// expectConfigUnavailable closes a fresh order through each kind at
// once, as concurrent invokes of one sandbox would, and checks that each
// caller is told config_unavailable (retryable), that PAYJS was never
// asked, and that each close line logs why.
func expectConfigUnavailable(t *testing.T, s *stack) {
	t.Helper()
	expectConfigUnavailableWithin(t, s, 10*time.Second)
}

// expectConfigUnavailableWithin is expectConfigUnavailable for invokes
// whose deadline is timeout away: each must answer before it.
func expectConfigUnavailableWithin(t *testing.T, s *stack, timeout time.Duration) {
	t.Helper()
	before := s.sim.Requests()
	ids := make([]string, len(allVias))
	raws := make([]raw, len(allVias))
	var wg sync.WaitGroup
	for i, v := range allVias {
		ids[i] = s.order(payjstest.StateUnpaid)
		p := payload(t, v, ids[i])
		wg.Go(func() { raws[i] = run(s.h, p, timeout) })
	}
	wg.Wait()
	for i, v := range allVias {
		a := read(t, v, raws[i])
		expect(t, v, ids[i], a, closing.CodeConfigUnavailable)
		if v != viaSQS && a.res.Attempts != 0 {
			t.Errorf("%s: attempts %d, want 0", v, a.res.Attempts)
		}
		if a.left <= 0 { // the reserve's 200ms are the slack
			t.Errorf("%s: answered %v after the deadline, want before it", v, -a.left)
		}
	}
	if n := s.sim.Requests() - before; n != 0 {
		t.Errorf("PAYJS received %d requests without a key", n)
	}
	if l := s.out.find(t, "close", map[string]any{"error_code": string(closing.CodeConfigUnavailable)}); l == nil || l["level"] != "ERROR" || !strings.Contains(fmt.Sprint(l["cause"]), "secret") {
		t.Errorf("no ERROR close line says why the key is unavailable: %v", l)
	}
}

// expectRecovers closes fresh orders until one is closed: after a failed
// load the store waits (1 s, doubling up to 30 s) before it reads the
// secret again, answering config_unavailable meanwhile, so the function
// recovers within that wait, without a new cold start.
func expectRecovers(t *testing.T, s *stack) {
	t.Helper()
	deadline := time.Now().Add(secret.MaxLoadBackoff + 15*time.Second) // generous on a loaded machine
	for {
		id := s.order(payjstest.StateUnpaid)
		a := s.close(t, viaHTTP, id, 10*time.Second)
		switch {
		case a.res.OK:
			expect(t, viaHTTP, id, a, "")
			return
		case a.res.Failure == nil || a.res.Failure.Code != closing.CodeConfigUnavailable:
			t.Fatalf("while recovering: %+v, want config_unavailable until the key loads", a.res)
		case time.Now().After(deadline):
			t.Fatalf("not recovered within %v", secret.MaxLoadBackoff+15*time.Second)
		}
		time.Sleep(100 * time.Millisecond) // the back-off runs on the wall clock
	}
}

// expectCloses closes a fresh order through the HTTP API.
func expectCloses(t *testing.T, s *stack) {
	t.Helper()
	id := s.order(payjstest.StateUnpaid)
	a := s.close(t, viaHTTP, id, 10*time.Second)
	expect(t, viaHTTP, id, a, "")
	if !a.res.Verified || a.res.Attempts != 1 {
		t.Errorf("result %+v, want verified in one attempt", a.res)
	}
}

// TestSecretsManagerFaults is the Secrets Manager half of the fault
// matrix. Whatever goes wrong with the key, the cold start does not fail
// (Build returns a handler and logs why at ERROR), every caller is told
// config_unavailable (HTTP 503, a Lambda error for direct invokes, the
// record in batchItemFailures for SQS), PAYJS is never asked, and the next
// invoke tries again, so the function recovers as soon as the secret
// does, without a new cold start.
func TestSecretsManagerFaults(t *testing.T) {
	t.Parallel()
	shared := mototest.Start(t) // for the rows that inject no fault into Secrets Manager itself

	t.Run("down_at_cold_start_then_back", func(t *testing.T) {
		t.Parallel()
		sm := mototest.Start(t)
		s := newStack(t, sm)
		sm.CreateSecret(t, s.secret, demoSecret)
		sm.Stop()
		s.build(t, nil)
		expectInitWithin(t, s, secretInitTimeout)
		expectInitFailed(t, s, "unreachable")
		expectConfigUnavailable(t, s)
		sm.Restart(t)
		expectRecovers(t, s)
	})

	t.Run("hangs_beyond_lambda_deadline", func(t *testing.T) {
		t.Parallel()
		sm := mototest.Start(t)
		s := newStack(t, sm)
		sm.CreateSecret(t, s.secret, demoSecret)
		sm.Fail("GetSecretValue", mototest.Slow(time.Minute))
		s.build(t, nil)
		expectInitWithin(t, s, secretInitTimeout)
		expectInitFailed(t, s, "timeout")
		// The first load, retried by the invokes, is bounded by
		// secret.ReadTimeout and by their deadline less the reserve: they
		// answer, they do not time out.
		expectConfigUnavailableWithin(t, s, time.Second)
		sm.ClearFaults()
		expectRecovers(t, s)
	})

	t.Run("throttled", func(t *testing.T) {
		t.Parallel()
		sm := mototest.Start(t)
		s := newStack(t, sm)
		sm.CreateSecret(t, s.secret, demoSecret)
		sm.Fail("GetSecretValue", mototest.Throttled())
		s.build(t, nil)
		expectInitFailed(t, s, "throttled")
		expectConfigUnavailable(t, s)
		sm.ClearFaults()
		expectRecovers(t, s)
	})

	t.Run("access_denied", func(t *testing.T) {
		t.Parallel()
		sm := mototest.Start(t)
		s := newStack(t, sm)
		sm.CreateSecret(t, s.secret, demoSecret)
		sm.Fail("GetSecretValue", mototest.AccessDenied())
		s.build(t, nil)
		expectInitFailed(t, s, "access denied")
		expectConfigUnavailable(t, s)
		sm.ClearFaults() // the role's policy is fixed
		expectRecovers(t, s)
	})

	t.Run("secret_missing", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, shared)
		s.build(t, nil)
		expectInitFailed(t, s, "not found")
		expectConfigUnavailable(t, s)
		shared.CreateSecret(t, s.secret, demoSecret)
		expectRecovers(t, s)
	})

	malformed := []struct{ name, value string }{
		// Cut short: the text holds the key, which no error may quote.
		{"secret_not_json", demoSecret[:len(demoSecret)-1]},
		{"key_missing", `{"mchid":"` + payjstest.DemoMchID + `"}`},
		{"key_unusable_plus", `{"mchid":"` + payjstest.DemoMchID + `","key":"` + plusKey + `"}`},
		{"key_unusable_percent", `{"mchid":"` + payjstest.DemoMchID + `","key":"` + percentKey + `"}`},
		// Pasted with a newline or a space: refused, not trimmed, so that
		// it is not taken for a key PAYJS does not hold (key_mismatch).
		{"key_trailing_newline", `{"mchid":"` + payjstest.DemoMchID + `","key":"` + payjstest.DemoKey + `\n"}`},
		{"key_leading_space", `{"mchid":"` + payjstest.DemoMchID + `","key":" ` + payjstest.DemoKey + `"}`},
	}
	for _, m := range malformed {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, shared)
			shared.CreateSecret(t, s.secret, m.value)
			s.build(t, nil)
			expectInitFailed(t, s, "malformed")
			expectConfigUnavailable(t, s)
			shared.PutSecretValue(t, s.secret, demoSecret) // the secret is fixed
			expectRecovers(t, s)
		})
	}

	t.Run("byte_order_mark_before_json", func(t *testing.T) {
		t.Parallel()
		s := newStack(t, shared)
		shared.CreateSecret(t, s.secret, "\uFEFF"+demoSecret) // as some editors save the file passed to put-secret-value
		s.build(t, nil)
		expectCloses(t, s)
	})

	t.Run("down_at_ttl_refresh_keeps_stale_key", func(t *testing.T) {
		t.Parallel()
		sm := mototest.Start(t)
		s := newStack(t, sm)
		sm.CreateSecret(t, s.secret, demoSecret)
		const ttl = 200 * time.Millisecond
		s.build(t, map[string]string{"PAYJS_SECRET_TTL": ttl.String()})
		expectCloses(t, s)
		sm.Stop()

		// Close until one finds the key due for a refresh and the refresh
		// failing: that close, and every one before it, uses the key in
		// memory.
		tick := time.NewTicker(ttl / 4)
		defer tick.Stop()
		// Deadlines of the waits, not bounds on the function: generous for a
		// loaded machine.
		const wait = 30 * time.Second
		deadline := time.Now().Add(wait)
		const failed = "secret refresh failed; keeping the last good key"
		for count(t, s, failed) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no failed refresh logged within %v of a %v TTL:\n%s", wait, ttl, s.out.String())
			}
			expectCloses(t, s)
			<-tick.C
		}
		if l := s.out.find(t, failed, nil); l["level"] != "WARN" || l["reason"] != "unreachable" {
			t.Errorf("refresh failure logged as %v, want WARN with reason unreachable", l)
		}
		if s.out.find(t, "close", map[string]any{"error_code": string(closing.CodeConfigUnavailable)}) != nil {
			t.Errorf("a caller was told the key is unavailable while a stale one was at hand")
		}
		expectCloses(t, s) // still down, later: the stale key again

		// Back: a later refresh loads the secret again.
		sm.Restart(t)
		deadline = time.Now().Add(wait)
		for s.out.find(t, "secret loaded", map[string]any{"refresh": true}) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no refresh after Secrets Manager came back:\n%s", s.out.String())
			}
			expectCloses(t, s)
			<-tick.C
		}
	})

	t.Run("warm_invokes_make_no_secrets_manager_call", func(t *testing.T) {
		t.Parallel()
		sm := mototest.Start(t)
		s := readyStack(t, sm, nil)
		for range 5 {
			expectCloses(t, s)
		}
		if n := sm.Calls("GetSecretValue"); n != 1 {
			t.Errorf("GetSecretValue called %d times for a cold start and 5 warm invokes, want 1", n)
		}
	})
}

// TestEventBridgeTransientFailureIsALambdaError: an EventBridge event
// whose close fails transiently is answered with a Lambda error of type
// payjs_unavailable, never with a result, because EventBridge invokes the
// function asynchronously: Lambda then retries the event twice
// (EventInvokeConfig MaximumRetryAttempts: 2 in template.yaml) and finally
// sends it to the on-failure destination, AsyncFailureQueue
// (TestTemplateAsyncInvokeFailuresLandInAnEncryptedQueue in package main
// pins both). The subtests play Lambda's part: an invoke and its two
// retries.
func TestEventBridgeTransientFailureIsALambdaError(t *testing.T) {
	t.Parallel()
	sm := mototest.Start(t)

	t.Run("closes_on_lambda_retry", func(t *testing.T) {
		t.Parallel()
		s := readyStack(t, sm, nil)
		id := s.order(payjstest.StateUnpaid)
		s.sim.Inject(payjstest.Fault{Kind: payjstest.FaultStatus, Status: 503, Count: payjstest.Forever})
		a := s.close(t, viaEventBridge, id, 10*time.Second)
		expect(t, viaEventBridge, id, a, closing.CodePayjsUnavailable)
		if a.res.Attempts != 3 || s.sim.Requests() != 3 {
			t.Errorf("attempts %d, PAYJS requests %d; want 3 and 3 (retried within the invoke first)", a.res.Attempts, s.sim.Requests())
		}
		s.sim.ClearFaults()
		a = s.close(t, viaEventBridge, id, 10*time.Second) // Lambda's first retry
		expect(t, viaEventBridge, id, a, "")
		if got := s.state(t, id); got != payjstest.StateClosed {
			t.Errorf("order is %v, want closed", got)
		}
	})

	t.Run("dead_lettered_after_two_lambda_retries", func(t *testing.T) {
		t.Parallel()
		s := readyStack(t, sm, nil)
		id := payjstest.DemoOrderUnavailable // PAYJS answers 503 for it every time
		for try := range 3 {
			before := s.sim.Requests()
			a := s.close(t, viaEventBridge, id, 10*time.Second)
			expect(t, viaEventBridge, id, a, closing.CodePayjsUnavailable)
			if n := s.sim.Requests() - before; n != 3 {
				t.Errorf("invoke %d: PAYJS received %d requests, want 3", try+1, n)
			}
		}
		// Three Lambda errors: Lambda gives up and the event lands in
		// AsyncFailureQueue; PAYJS never closed the order.
		if got := s.state(t, id); got != payjstest.StateUnpaid {
			t.Errorf("order is %v, want unpaid", got)
		}
	})

	t.Run("permanent_failure_is_a_result", func(t *testing.T) {
		t.Parallel()
		s := readyStack(t, sm, nil)
		a := s.close(t, viaEventBridge, payjstest.DemoOrderPaid, 10*time.Second)
		// A result, not a Lambda error: Lambda does not retry it and
		// nothing is dead-lettered; the log line and metric record it.
		expect(t, viaEventBridge, payjstest.DemoOrderPaid, a, closing.CodeOrderPaid)
		if s.sim.Requests() != 1 {
			t.Errorf("PAYJS received %d requests, want 1", s.sim.Requests())
		}
	})
}

// TestSQSBatchOfTenMixedOutcomes closes a batch of ten records with every
// kind of outcome: exactly the records whose failure is retryable are
// listed in batchItemFailures (SQS redelivers them, and after
// maxReceiveCount 5 moves them to CloseDeadLetterQueue); the permanent
// failures are logged and deleted with the batch.
func TestSQSBatchOfTenMixedOutcomes(t *testing.T) {
	t.Parallel()
	sm := mototest.Start(t)
	s := readyStack(t, sm, nil)
	badGateway := "2026112600000000000000000502"
	s.sim.AddOrder(payjstest.Order{ID: badGateway, MchID: payjstest.DemoMchID, FailStatus: http.StatusBadGateway})
	u1, u2, u3 := s.order(payjstest.StateUnpaid), s.order(payjstest.StateUnpaid), s.order(payjstest.StateUnpaid)
	ebBody := string(eventBridgeEvent(t, map[string]any{"payjs_order_id": u3}))
	records := []struct {
		id, body string
		code     closing.Code // "" = closed
	}{
		{"m01-direct", `{"payjs_order_id":"` + u1 + `"}`, ""},
		{"m02-direct-mchid", `{"payjs_order_id":"` + u2 + `","mchid":"` + payjstest.DemoMchID + `"}`, ""},
		{"m03-eventbridge", ebBody, ""},
		{"m04-paid", `{"payjs_order_id":"` + payjstest.DemoOrderPaid + `"}`, closing.CodeOrderPaid},
		{"m05-expired", `{"payjs_order_id":"` + payjstest.DemoOrderExpired + `"}`, closing.CodePayjsRejected},
		{"m06-unavailable", `{"payjs_order_id":"` + payjstest.DemoOrderUnavailable + `"}`, closing.CodePayjsUnavailable},
		{"m07-bad-gateway", `{"payjs_order_id":"` + badGateway + `"}`, closing.CodePayjsUnavailable},
		{"m08-invalid-id", `{"payjs_order_id":"bad-id!"}`, closing.CodeInvalidOrderID},
		{"m09-not-json", `payjs_order_id=` + u1, closing.CodeInvalidRequest},
		{"m10-unknown-mchid", `{"payjs_order_id":"` + u1 + `","mchid":"9999999999"}`, closing.CodeInvalidRequest},
	}
	var recs [][2]string
	var wantFailures []string
	for _, r := range records {
		recs = append(recs, [2]string{r.id, r.body})
		if r.code.Retryable() {
			wantFailures = append(wantFailures, r.id)
		}
	}
	a := s.call(t, viaSQS, sqsEvent(t, recs...))
	slices.Sort(a.failures)
	if !slices.Equal(a.failures, wantFailures) {
		t.Errorf("batchItemFailures = %q, want exactly %q", a.failures, wantFailures)
	}
	for _, r := range records {
		l := s.out.find(t, "close", map[string]any{"sqs_message_id": r.id})
		if l == nil {
			t.Errorf("%s: no close log line", r.id)
			continue
		}
		if got, _ := l["error_code"].(string); got != string(r.code) {
			t.Errorf("%s: logged error_code %q, want %q", r.id, got, r.code)
		}
	}
	// Three closes, two refusals, and two retryable failures retried
	// within the invoke (3 attempts each); the invalid records never
	// reached PAYJS.
	if n := s.sim.Requests(); n != 3+2+2*3 {
		t.Errorf("PAYJS received %d requests, want 11", n)
	}
	for _, id := range []string{u1, u2, u3} {
		if got := s.state(t, id); got != payjstest.StateClosed {
			t.Errorf("order %s is %v, want closed", id, got)
		}
	}
	if m := count(t, s, "close"); m != len(records) {
		t.Errorf("%d close log lines for %d records", m, len(records))
	}
	// The refusals for good, m04-paid excepted: a paid order is an outcome, not a failure.
	if n := strings.Count(s.out.String(), `"SQSPermanentFailures":1`); n != 4 {
		t.Errorf("SQSPermanentFailures counted %d times, want 4", n)
	}
}

// edit applies edits to a sample event.
func edit(t *testing.T, name string, edits ...func(map[string]any)) []byte {
	t.Helper()
	m := sample(t, name)
	for _, e := range edits {
		e(m)
	}
	return mustJSON(t, m)
}

// withBody sets an HTTP event's body and Content-Type ("" for none),
// base64-encoded when b64.
func withBody(body, contentType string, b64 bool) func(map[string]any) {
	return func(m map[string]any) {
		if b64 {
			body = base64.StdEncoding.EncodeToString([]byte(body))
		}
		m["body"], m["isBase64Encoded"] = body, b64
		for _, hk := range []string{"headers", "multiValueHeaders"} {
			h, ok := m[hk].(map[string]any)
			if !ok {
				continue
			}
			for k := range h {
				if strings.EqualFold(k, "content-type") {
					delete(h, k)
				}
			}
			if contentType != "" {
				if hk == "headers" {
					h["Content-Type"] = contentType
				} else {
					h["Content-Type"] = []any{contentType}
				}
			}
		}
	}
}

func withMethod(method string) func(map[string]any) {
	return func(m map[string]any) {
		if _, ok := m["httpMethod"]; ok {
			m["httpMethod"] = method
			return
		}
		obj(obj(m, "requestContext"), "http")["method"] = method
		if rk, ok := m["routeKey"].(string); ok && rk != "$default" {
			_, tmpl, _ := strings.Cut(rk, " ")
			m["routeKey"] = method + " " + tmpl
		}
	}
}

// withPath makes the event one for the $default route (or a REST proxy
// resource) at path, for the handler to match itself.
func withPath(path string) func(map[string]any) {
	return func(m map[string]any) {
		delete(m, "pathParameters")
		if _, ok := m["httpMethod"]; ok {
			m["resource"], m["path"] = "/{proxy+}", path
			return
		}
		m["rawPath"], m["routeKey"] = path, "$default"
		obj(obj(m, "requestContext"), "http")["path"] = path
	}
}

// withPathID makes the event one for the orders route with id, no body.
func withPathID(id string) func(map[string]any) {
	return func(m map[string]any) {
		withBody("", "", false)(m)
		m["pathParameters"] = map[string]any{"payjs_order_id": id}
		if _, ok := m["httpMethod"]; ok {
			m["resource"], m["path"] = "/orders/{payjs_order_id}/close", "/orders/"+url.PathEscape(id)+"/close"
			return
		}
		m["rawPath"] = "/orders/" + url.PathEscape(id) + "/close"
		m["routeKey"] = "POST /orders/{payjs_order_id}/close"
	}
}

func set(key string, v any) func(map[string]any) {
	return func(m map[string]any) { m[key] = v }
}

// TestMalformedEvents sends every malformed shape of every event kind
// through one function instance. Each is refused before any network
// call with a final (not retryable) answer in its kind's shape: an HTTP
// status for API Gateway and Function URLs, a result (never a Lambda
// error, so nothing is retried) for EventBridge and direct invokes, and
// for SQS an empty batchItemFailures with the record's code in its log
// line, so the message is deleted rather than redelivered. The one
// exception is an SQS event that cannot be decoded at all, which fails
// the invocation so that SQS redelivers the whole batch.
func TestMalformedEvents(t *testing.T) {
	t.Parallel()
	sm := mototest.Start(t)
	s := readyStack(t, sm, nil)
	id1, id2 := payjstest.DemoOrderUnpaid(1), payjstest.DemoOrderUnpaid(2)
	big := `{"payjs_order_id":"` + id1 + `","pad":"` + strings.Repeat("x", handler.MaxBodyBytes) + `"}`
	const (
		jsonCT = "application/json"
		formCT = "application/x-www-form-urlencoded"
	)
	type tc struct {
		name    string
		v       via
		payload []byte
		code    closing.Code
	}
	httpAPI := func(name string, code closing.Code, edits ...func(map[string]any)) tc {
		return tc{"http_api/" + name, viaHTTP, edit(t, "http-api.json", edits...), code}
	}
	rest := func(name string, code closing.Code, edits ...func(map[string]any)) tc {
		return tc{"rest_api/" + name, viaREST, edit(t, "rest-api.json", edits...), code}
	}
	furl := func(name string, code closing.Code, edits ...func(map[string]any)) tc {
		return tc{"function_url/" + name, viaFunctionURL, edit(t, "function-url.json", edits...), code}
	}
	eb := func(name string, code closing.Code, detail any) tc {
		return tc{"eventbridge/" + name, viaEventBridge, edit(t, "eventbridge.json", set("detail", detail)), code}
	}
	direct := func(name string, code closing.Code, payload string) tc {
		return tc{"direct/" + name, viaDirect, []byte(payload), code}
	}
	record := func(name string, code closing.Code, body string) tc {
		return tc{"sqs_record/" + name, viaSQS, sqsEvent(t, [2]string{"m-" + name, body}), code}
	}
	cases := []tc{
		httpAPI("get", closing.CodeMethodNotAllowed, withMethod(http.MethodGet)),
		httpAPI("unknown_route", closing.CodeNotFound, withPath("/orders/"+id1+"/refund")),
		httpAPI("close_without_body", closing.CodeInvalidRequest, withPath("/close")),
		httpAPI("empty_path_id", closing.CodeInvalidRequest, set("pathParameters", map[string]any{"payjs_order_id": ""})),
		httpAPI("invalid_path_id", closing.CodeInvalidOrderID, withPathID("bad-id!")),
		httpAPI("json_not_an_object", closing.CodeInvalidRequest, withPath("/close"), withBody(`["`+id1+`"]`, jsonCT, false)),
		httpAPI("json_cut_short", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":"`+id1, jsonCT, false)),
		httpAPI("json_id_number", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":2026112500000000000000000001}`, jsonCT, false)),
		httpAPI("json_id_null", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":null}`, jsonCT, false)),
		httpAPI("json_mchid_number", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":"`+id1+`","mchid":1528140051}`, jsonCT, false)),
		httpAPI("json_unknown_mchid", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":"`+id1+`","mchid":"9999999999"}`, jsonCT, false)),
		httpAPI("form_id_twice", closing.CodeInvalidRequest, withPath("/close"), withBody("payjs_order_id="+id1+"&payjs_order_id="+id2, formCT, false)),
		httpAPI("form_bad_escape", closing.CodeInvalidRequest, withPath("/close"), withBody("payjs_order_id=%zz", formCT, false)),
		httpAPI("path_and_body_disagree", closing.CodeInvalidRequest, withPathID(id1), withBody(`{"payjs_order_id":"`+id2+`"}`, jsonCT, false)),
		httpAPI("body_over_4KiB", closing.CodePayloadTooLarge, withPath("/close"), withBody(big, jsonCT, false)),
		httpAPI("base64_body_over_4KiB", closing.CodePayloadTooLarge, withPath("/close"), withBody(big, jsonCT, true)),
		httpAPI("bad_base64", closing.CodeInvalidRequest, withPath("/close"), set("body", "not base64!"), set("isBase64Encoded", true)),
		httpAPI("no_content_type_not_json", closing.CodeUnsupportedMediaType, withPath("/close"), withBody("payjs_order_id="+id1, "", false)),
		httpAPI("json_id_twice", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":"`+id1+`","payjs_order_id":"`+id2+`"}`, jsonCT, false)),
		httpAPI("json_id_in_two_cases", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":"`+id1+`","PAYJS_ORDER_ID":"`+id2+`"}`, jsonCT, false)),
		httpAPI("json_misspelled_close_after_as_form", closing.CodeInvalidRequest, withPathID(id1), withBody(`{"closeAfter":"15m"}`, formCT, false)),
		httpAPI("json_no_request_field", closing.CodeInvalidRequest, withPathID(id1), withBody(`{"order":"`+id1+`"}`, "", false)),
		httpAPI("form_unknown_field", closing.CodeInvalidRequest, withPathID(id1), withBody("closeAfter=15m", formCT, false)),
		httpAPI("close_at_offset_out_of_range", closing.CodeInvalidRequest, withPathID(id1), withBody(`{"close_at":"2026-11-29T12:15:00+24:00"}`, jsonCT, false)),
		httpAPI("text_plain", closing.CodeUnsupportedMediaType, withPath("/close"), withBody(id1, "text/plain", false)),
		httpAPI("charset_latin1", closing.CodeUnsupportedMediaType, withPath("/close"), withBody(`{"payjs_order_id":"`+id1+`"}`, jsonCT+"; charset=iso-8859-1", false)),
		httpAPI("headers_not_an_object", closing.CodeInvalidRequest, withPath("/close"), withBody(`{"payjs_order_id":"`+id1+`"}`, jsonCT, false), set("headers", "content-type: application/json")),
		httpAPI("method_not_a_string", closing.CodeInvalidRequest, func(m map[string]any) { obj(obj(m, "requestContext"), "http")["method"] = 1 }),

		rest("get", closing.CodeMethodNotAllowed, withMethod(http.MethodGet)),
		rest("unknown_route", closing.CodeNotFound, withPath("/refund")),
		rest("form_without_id", closing.CodeInvalidRequest, withBody("mchid="+payjstest.DemoMchID, formCT, false)),
		rest("form_invalid_id", closing.CodeInvalidOrderID, withBody("payjs_order_id=bad-id%21", formCT, false)),
		rest("invalid_path_id", closing.CodeInvalidOrderID, withPathID("bad-id!")),
		rest("body_over_4KiB", closing.CodePayloadTooLarge, withBody(big, jsonCT, false)),
		rest("no_content_type", closing.CodeUnsupportedMediaType, withBody("payjs_order_id="+id1, "", false)),

		furl("get", closing.CodeMethodNotAllowed, withMethod(http.MethodGet)),
		furl("unknown_path", closing.CodeNotFound, withPath("/refund")),
		furl("no_body", closing.CodeInvalidRequest, withBody("", "", false)),
		furl("bad_base64", closing.CodeInvalidRequest, set("body", "%%%"), set("isBase64Encoded", true)),
		furl("json_not_an_object", closing.CodeInvalidRequest, withBody(`"`+id1+`"`, jsonCT, true)),
		furl("body_over_4KiB", closing.CodePayloadTooLarge, withBody(big, jsonCT, true)),
		furl("invalid_path_id", closing.CodeInvalidOrderID, withBody("", "", false), withPath("/orders/bad-id%21/close")),

		eb("detail_without_id", closing.CodeInvalidRequest, map[string]any{"order": id1}),
		eb("detail_id_number", closing.CodeInvalidRequest, map[string]any{"payjs_order_id": 1}),
		eb("detail_id_invalid", closing.CodeInvalidOrderID, map[string]any{"payjs_order_id": "bad-id!"}),
		eb("detail_mchid_invalid", closing.CodeInvalidRequest, map[string]any{"payjs_order_id": id1, "mchid": "1528140051&key="}),
		eb("detail_mchid_unknown", closing.CodeInvalidRequest, map[string]any{"payjs_order_id": id1, "mchid": "9999999999"}),
		eb("detail_not_an_object", closing.CodeUnsupportedEvent, id1),
		eb("detail_misspelled_close_at", closing.CodeInvalidRequest, map[string]any{"payjs_order_id": id1, "Close_At": "2026-11-29T12:15:00Z"}),

		record("body_not_json", closing.CodeInvalidRequest, "payjs_order_id="+id1),
		record("body_empty", closing.CodeInvalidRequest, ""),
		record("body_unknown_object", closing.CodeUnsupportedEvent, `{"order":"`+id1+`"}`),
		record("body_invalid_id", closing.CodeInvalidOrderID, `{"payjs_order_id":"bad-id!"}`),
		record("body_id_number", closing.CodeInvalidRequest, `{"payjs_order_id":1}`),
		record("body_id_twice", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1+`","payjs_order_id":"`+id2+`"}`),
		record("body_misspelled_id", closing.CodeInvalidRequest, `{"PAYJS_ORDER_ID":"`+id1+`"}`),
		record("body_eventbridge_without_id", closing.CodeInvalidRequest, string(edit(t, "eventbridge.json", set("detail", map[string]any{})))),
		{"sqs/mixed_event_sources", viaDirect, []byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"a","body":"{}"},{"eventSource":"aws:sns"}]}`), closing.CodeUnsupportedEvent},

		direct("id_twice", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1+`","payjs_order_id":"`+id2+`"}`),
		direct("misspelled_id_only", closing.CodeInvalidRequest, `{"PAYJS_ORDER_ID":"`+id1+`"}`),
		direct("misspelled_mchid", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1+`","MchId":"`+payjstest.DemoMchID+`"}`),
		direct("id_number", closing.CodeInvalidRequest, `{"payjs_order_id":2026112500000000000000000001}`),
		direct("id_null", closing.CodeInvalidRequest, `{"payjs_order_id":null}`),
		direct("id_empty", closing.CodeInvalidRequest, `{"payjs_order_id":""}`),
		direct("id_invalid", closing.CodeInvalidOrderID, `{"payjs_order_id":"bad-id!"}`),
		direct("mchid_number", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1+`","mchid":1}`),
		direct("mchid_invalid", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1+`","mchid":"15 28"}`),
		direct("mchid_unknown", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1+`","mchid":"9999999999"}`),
		direct("empty_object", closing.CodeUnsupportedEvent, `{}`),
		direct("unknown_object", closing.CodeUnsupportedEvent, `{"order":"`+id1+`"}`),
		direct("array", closing.CodeInvalidRequest, `["`+id1+`"]`),
		direct("string", closing.CodeInvalidRequest, `"`+id1+`"`),
		direct("number", closing.CodeInvalidRequest, `2026112500000000000000000001`),
		direct("null", closing.CodeInvalidRequest, `null`),
		direct("empty", closing.CodeInvalidRequest, ``),
		direct("cut_short", closing.CodeInvalidRequest, `{"payjs_order_id":"`+id1),
		direct("not_json", closing.CodeInvalidRequest, `payjs_order_id=`+id1),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := s.call(t, c.v, c.payload)
			if c.v == viaSQS {
				if len(a.failures) != 0 {
					t.Errorf("batchItemFailures = %q, want none", a.failures)
				}
				msgID := strings.TrimPrefix(c.name, "sqs_record/")
				l := s.out.find(t, "close", map[string]any{"sqs_message_id": "m-" + msgID})
				if l == nil || l["error_code"] != string(c.code) || l["retryable"] != false {
					t.Errorf("log line %v, want error_code %s, not retryable", l, c.code)
				}
				return
			}
			expect(t, c.v, "", a, c.code)
			if c.code == closing.CodeMethodNotAllowed && a.headers["Allow"] != "POST, DELETE" {
				t.Errorf("405 without Allow: POST, DELETE: %v", a.headers)
			}
		})
	}

	t.Run("sqs/record_body_not_a_string", func(t *testing.T) {
		// Not one record can be told apart: the invocation fails and SQS
		// redelivers the whole batch (and in the end dead-letters it).
		r := run(s.h, []byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"a","body":{"payjs_order_id":"`+id1+`"}}]}`), 10*time.Second)
		if r.err == nil {
			t.Fatalf("answered %s, want the invocation to fail", r.out)
		}
	})

	if n := s.sim.Requests(); n != 0 {
		t.Errorf("PAYJS received %d requests for malformed events", n)
	}
}

// TestTLSVerificationCannotBeTurnedOff points the function at a PAYJS
// simulator serving HTTPS with a certificate no system trusts. The close
// must fail (payjs_unavailable, the certificate named in the log) without
// a single request reaching PAYJS, while a client that does trust the
// certificate closes the same order: what failed is verification. No
// setting of the function's configuration is a TLS switch.
func TestTLSVerificationCannotBeTurnedOff(t *testing.T) {
	t.Parallel()
	tr, ok := payjs.NewHTTPClient().Transport.(*http.Transport)
	if !ok || tr.TLSClientConfig == nil || tr.TLSClientConfig.InsecureSkipVerify || tr.TLSClientConfig.MinVersion < 0x0303 {
		t.Fatalf("the shared PAYJS HTTP client does not verify TLS 1.2+: %+v", tr.TLSClientConfig)
	}

	sm := mototest.Start(t)
	sim := payjstest.NewTLSServer(payjstest.WithDemoData())
	t.Cleanup(sim.Close)
	s := &stack{sm: sm, sim: sim, secret: secretName(t), out: newCapture()}
	sm.CreateSecret(t, s.secret, demoSecret)
	var mu sync.Mutex
	var read []string
	env := map[string]string{"PAYJS_SECRET_ID": s.secret, "PAYJS_BASE_URL": sim.URL}
	h, err := build(sm, func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		read = append(read, name)
		return env[name]
	}, s.out)
	if err != nil {
		t.Fatal(err)
	}
	s.h = h

	id := payjstest.DemoOrderUnpaid(1)
	for _, v := range allVias {
		expect(t, v, id, s.close(t, v, id, 10*time.Second), closing.CodePayjsUnavailable)
	}
	if n := sim.Requests(); n != 0 {
		t.Errorf("PAYJS received %d requests over an unverified connection", n)
	}
	if got := s.state(t, id); got != payjstest.StateUnpaid {
		t.Errorf("order is %v, want unpaid", got)
	}
	l := s.out.find(t, "close", map[string]any{"error_code": closing.CodePayjsUnavailable})
	if l == nil || !strings.Contains(fmt.Sprint(l["cause"]), "certificate") {
		t.Errorf("the close log line does not name the certificate: %v", l)
	}
	tls := regexp.MustCompile(`(?i)tls|ssl|cert|insecure|verify|skip`)
	for _, name := range read {
		if tls.MatchString(name) {
			t.Errorf("Build reads %s: TLS verification must not be configurable", name)
		}
	}

	// The control: trusting the certificate, the same order closes.
	c, err := payjs.NewClient(payjstest.DemoKey, payjs.WithBaseURL(sim.URL), payjs.WithHTTPClient(sim.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.CloseOrder(context.Background(), id); err != nil || !res.Verified {
		t.Fatalf("close with a client trusting the simulator: %+v, %v", res, err)
	}
}

// TestPlainHTTPBaseURLRefusedAtInit: PAYJS_BASE_URL must be https://,
// except on loopback addresses. Anything else fails the cold start with a
// configuration error naming the variable, before any network call, and
// without quoting credentials the URL may hold.
func TestPlainHTTPBaseURLRefusedAtInit(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://payjs.cn",
		"http://payjs.cn:443",
		"HTTP://PAYJS.CN",
		"http://10.0.0.1",
		"http://0.0.0.0:8080",
		"http://127.0.0.1.nip.io",
		"http://localhost.example.com",
		"http://127.0.0.1@payjs.example",
		"https://user:hunter2@payjs.cn",
		"https://payjs.cn/?key=hunter2",
		"https://payjs.cn/#hunter2",
		"ftp://payjs.cn",
		"payjs.cn",
		"//payjs.cn",
		"https://",
	} {
		t.Run(u, func(t *testing.T) {
			out := newCapture()
			h, err := build(nil, func(name string) string {
				return map[string]string{"PAYJS_SECRET_ID": "payjs-close", "PAYJS_BASE_URL": u}[name]
			}, out)
			var ce *ConfigError
			if h != nil || !errors.As(err, &ce) || ce.Var != "PAYJS_BASE_URL" || !strings.Contains(err.Error(), "PAYJS_BASE_URL") {
				t.Fatalf("Build = %v, %v; want a configuration error naming PAYJS_BASE_URL", h, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the URL's secret part: %v", err)
			}
			if out.String() != "" {
				t.Errorf("Build wrote %q before failing", out.String())
			}
		})
	}
}

// TestRedeliveryAfterALostAnswerFindsTheOrderClosed: when PAYJS closed the
// order but its answer was lost on the way back (cut short, over the cap,
// wrongly signed), the caller is told to retry (payjs_bad_response), and
// the retry, here SQS's redelivery, gets PAYJS's return_code 0
// "订单已关闭": a success, already_closed, so the message is deleted. A
// close is idempotent.
func TestRedeliveryAfterALostAnswerFindsTheOrderClosed(t *testing.T) {
	t.Parallel()
	sm := mototest.Start(t)
	for _, k := range []payjstest.FaultKind{payjstest.FaultTruncated, payjstest.FaultOversize, payjstest.FaultWrongSign} {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			s := readyStack(t, sm, nil)
			id := s.order(payjstest.StateUnpaid)
			s.sim.Inject(payjstest.Fault{Kind: k})
			a := s.close(t, viaSQS, id, 10*time.Second)
			expect(t, viaSQS, id, a, closing.CodePayjsBadResponse)
			if got := s.state(t, id); got != payjstest.StateClosed {
				t.Fatalf("order is %v, want closed by the first delivery", got)
			}
			a = s.close(t, viaSQS, id, 10*time.Second) // the redelivery
			expect(t, viaSQS, id, a, "")
			l := s.out.find(t, "close", map[string]any{"outcome": closing.StatusAlreadyClosed})
			if l == nil || l["return_msg"] != payjstest.MsgAlreadyClosed {
				t.Errorf("redelivery logged %v, want already_closed %q", l, payjstest.MsgAlreadyClosed)
			}
			if n := s.sim.Requests(); n != 2 {
				t.Errorf("PAYJS received %d requests, want 2", n)
			}
		})
	}
}
