package handler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
)

// merchantAt is PAYJS's side of key rotation: it accepts signatures made
// with key only, and counts the closes it was asked for.
type merchantAt struct {
	mu    sync.Mutex
	key   string
	tries int
}

func (m *merchantAt) closer(key string) (closing.Closer, error) {
	return closerFunc(func(_ context.Context, id string) (*payjs.Result, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.tries++
		if key != m.key {
			return nil, &payjs.Error{Kind: payjs.KindKeyMismatch, Msg: "rejected", Attempts: 1,
				Result: &payjs.Result{ReturnCode: 0, ReturnMsg: "签名错误", PayjsOrderID: id, Attempts: 1}}
		}
		return &payjs.Result{ReturnCode: 1, ReturnMsg: "SUCCESS", PayjsOrderID: id, Verified: true, Attempts: 1}, nil
	}), nil
}

type closerFunc func(ctx context.Context, id string) (*payjs.Result, error)

func (f closerFunc) CloseOrder(ctx context.Context, id string) (*payjs.Result, error) {
	return f(ctx, id)
}

// secretsManager is Secrets Manager holding one secret whose key can be
// changed, counting its calls.
type secretsManager struct {
	mu    sync.Mutex
	key   string
	err   error
	calls int
}

func (s *secretsManager) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(`{"mchid":"` + testMchID + `","key":"` + s.key + `"}`), VersionId: aws.String("v")}, nil
}

func (s *secretsManager) set(key string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.err = key, err
}

func (s *secretsManager) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// rotationHarness is a handler with the real secret store, and PAYJS
// knowing the merchant's key. A test that moves the store's clock runs in
// a synctest bubble and sleeps.
func rotationHarness(t *testing.T, secretKey, payjsKey string) (*harness, *secretsManager, *merchantAt) {
	t.Helper()
	hs := newHarness(t)
	sm := &secretsManager{key: secretKey}
	store := secret.NewStore(sm, "payjs-close", secret.WithLogger(slog.New(slog.DiscardHandler)))
	m := &merchantAt{key: payjsKey}
	hs.h.deps.Keys, hs.h.deps.NewCloser = store, m.closer
	hs.rebuild()
	return hs, sm, m
}

const rotatedKey = "rotated-key-value"

func TestKeyRotationHealsWithinOneInvoke(t *testing.T) {
	// The sandbox loaded the old key; the merchant then rotated it at
	// PAYJS and in the secret. The next close heals, without waiting for
	// the TTL.
	hs, sm, m := rotationHarness(t, testKey, rotatedKey)
	if _, _, err := hs.h.deps.Keys.Key(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	sm.set(rotatedKey, nil)
	out, lerr := hs.invoke(t, event(t, "direct.json"))
	if lerr != nil {
		t.Fatalf("Lambda error %v", lerr)
	}
	res := decodeResult(t, out)
	if !res.OK || res.Status != closing.StatusClosed || res.Attempts != 2 || m.tries != 2 || sm.count() != 2 {
		t.Errorf("result %+v after %d closes and %d secret reads; want closed with the new key in one invoke", res, m.tries, sm.count())
	}
	if !strings.Contains(hs.out.String(), `"KeyRotationsHealed":1`) || !strings.Contains(hs.out.String(), `"level":"WARN","message":"PAYJS rejected the signature`) {
		t.Errorf("the healed mismatch was not logged at WARN and counted apart: %s", hs.out.String())
	}
	if strings.Contains(hs.out.String(), `"KeyMismatches"`) {
		t.Errorf("a mismatch the rotation healed counted in KeyMismatches, which pages")
	}
}

func TestKeyMismatchOnEveryWayIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The secret holds a wrong key and nobody has fixed it yet.
		hs, sm, m := rotationHarness(t, testKey, rotatedKey)

		// Direct: a Lambda error typed key_mismatch, so that async retries
		// and the dead-letter queue take over.
		_, lerr := hs.invoke(t, event(t, "direct.json"))
		if lerr == nil || lerr.Type != string(closing.CodeKeyMismatch) {
			t.Fatalf("direct: %v, want a key_mismatch Lambda error", lerr)
		}
		if sm.count() != 2 || m.tries != 1 {
			t.Errorf("%d secret reads, %d closes; want the load and one forced refresh, no retry with the same key", sm.count(), m.tries)
		}
		// HTTP: 503, retryable. Within 10 s of the last forced refresh, the
		// secret is not read again.
		a := hs.invokeHTTP(t, event(t, "http-api.json"))
		if a.status != 503 || a.result.Code() != closing.CodeKeyMismatch || !a.result.Failure.Retryable || a.result.Upstream == nil {
			t.Errorf("HTTP: %d %+v", a.status, a.result)
		}
		if sm.count() != 2 {
			t.Errorf("a second mismatch within 10 s read the secret again (%d reads)", sm.count())
		}
		// SQS: the record is listed for a retry.
		sqs := event(t, "sqs.json", firstRecordOnly)
		out, _ := hs.invoke(t, sqs)
		if !strings.Contains(string(out), `"itemIdentifier":"`) {
			t.Errorf("SQS answer %s, want the record retried", out)
		}
		// Ten seconds later the secret, now fixed, is read again at once.
		sm.set(rotatedKey, nil)
		time.Sleep(secret.MinForcedRefresh) // fake time
		a = hs.invokeHTTP(t, event(t, "http-api.json"))
		if a.status != 200 || a.result.Status != closing.StatusClosed || sm.count() != 3 {
			t.Errorf("after the fix: %d %+v, %d reads", a.status, a.result, sm.count())
		}
		for _, out := range []string{hs.out.String()} {
			if strings.Contains(out, rotatedKey) || strings.Contains(out, testKey) {
				t.Error("a key reached the output")
			}
		}
	})
}

func TestKeyLoadBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, sm, m := rotationHarness(t, testKey, testKey)
		sm.set(testKey, errors.New("dial tcp: connection refused"))
		start := time.Now()
		for i := range 3 {
			a := hs.invokeHTTP(t, event(t, "http-api.json"))
			if a.status != 503 || a.result.Code() != closing.CodeConfigUnavailable || !a.result.Failure.Retryable {
				t.Fatalf("invoke %d: %d %+v", i, a.status, a.result)
			}
		}
		if sm.count() != 1 {
			t.Errorf("3 invokes within the back-off made %d Secrets Manager calls, want 1", sm.count())
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("answering config_unavailable took %v", d)
		}
		// 1 s later it tries again, fails, and now waits 2 s.
		time.Sleep(time.Second)
		hs.invokeHTTP(t, event(t, "http-api.json"))
		time.Sleep(1500 * time.Millisecond)
		hs.invokeHTTP(t, event(t, "http-api.json"))
		if sm.count() != 2 {
			t.Errorf("%d calls, want 2: the second wait is 2 s", sm.count())
		}
		// Secrets Manager is back: the next try after the wait succeeds and
		// resets the back-off.
		sm.set(testKey, nil)
		time.Sleep(500 * time.Millisecond)
		if a := hs.invokeHTTP(t, event(t, "http-api.json")); a.status != 200 || m.tries != 1 {
			t.Errorf("after recovery: %d %+v", a.status, a.result)
		}
	})
}

func TestPAYJSMessageIsClipped(t *testing.T) {
	hs := newHarness(t)
	long := strings.Repeat("订单", 10000) // 60 KB
	hs.closer.answer = func(id string) (*payjs.Result, error) {
		return nil, &payjs.Error{Kind: payjs.KindRejected, Msg: "rejected", Attempts: 1, Result: &payjs.Result{ReturnMsg: long, PayjsOrderID: id, Attempts: 1}}
	}
	out, lerr := hs.invoke(t, event(t, "direct.json"))
	if lerr != nil {
		t.Fatal(lerr)
	}
	res := decodeResult(t, out)
	if res.Code() != closing.CodePayjsRejected || len(res.Upstream.ReturnMsg) > 256 || !strings.HasPrefix(long, res.Upstream.ReturnMsg) || len(out) > 2048 {
		t.Errorf("result of %d bytes, return_msg of %d bytes; want it clipped to 256 on a character boundary", len(out), len(res.Upstream.ReturnMsg))
	}
	for line := range strings.Lines(hs.out.String()) {
		if len(line) > 2048 {
			t.Errorf("log line of %d bytes", len(line))
		}
	}
}

func TestDirectInvokesWithUnrelatedFieldsClose(t *testing.T) {
	for _, payload := range []string{
		`{"payjs_order_id":"` + order1 + `","version":2}`,
		`{"payjs_order_id":"` + order1 + `","source":{"app":"shop"}}`,
		`{"payjs_order_id":"` + order1 + `","requestContext":"x","Records":5,"detail":[1]}`,
		`{"payjs_order_id":"` + order1 + `","note":{"deep":[{"x":null}]},"amount":1.5}`,
	} {
		hs := newHarness(t)
		out, lerr := hs.invoke(t, []byte(payload))
		if lerr != nil {
			t.Fatalf("%s: %v", payload, lerr)
		}
		if res := decodeResult(t, out); !res.OK || len(hs.closer.asked) != 1 {
			t.Errorf("%s: %+v, want the order closed", payload, res)
		}
	}
}

func TestRESTAPIStageNamedLikeARoute(t *testing.T) {
	for _, stage := range []string{"orders", "close", "prod"} {
		hs := newHarness(t)
		payload := event(t, "rest-api.json", setPath("/orders/"+order1+"/close"), setBody("", "", false), func(m map[string]any) {
			rc, _ := m["requestContext"].(map[string]any)
			rc["stage"] = stage
		})
		a := hs.invokeHTTP(t, payload)
		if a.status != 200 || len(hs.closer.asked) != 1 || hs.closer.asked[0] != order1 {
			t.Errorf("stage %q: %d %+v", stage, a.status, a.result)
		}
	}
}

// TestAlreadyClosedAndPaidAnswers maps PAYJS's answers per way in.
func TestAlreadyClosedAndPaidAnswers(t *testing.T) {
	refused := func(kind payjs.Kind, msg string) func(string) (*payjs.Result, error) {
		return func(id string) (*payjs.Result, error) {
			return nil, &payjs.Error{Kind: kind, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: msg, PayjsOrderID: id, Attempts: 1}}
		}
	}
	cases := []struct {
		name   string
		answer func(string) (*payjs.Result, error)
		status string
		code   closing.Code
		http   int
	}{
		{"already closed", refused(payjs.KindAlreadyClosed, "订单已关闭"), closing.StatusAlreadyClosed, "", 200},
		{"paid", refused(payjs.KindPaid, "订单已支付"), closing.StatusPaid, closing.CodeOrderPaid, 409},
		{"other", refused(payjs.KindRejected, "订单不存在"), closing.StatusRejected, closing.CodePayjsRejected, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t)
			hs.closer.answer = tc.answer
			a := hs.invokeHTTP(t, event(t, "http-api.json"))
			if a.status != tc.http || a.result.Status != tc.status || a.result.Code() != tc.code || a.result.Upstream == nil {
				t.Errorf("HTTP: %d %+v", a.status, a.result)
			}
			out, lerr := hs.invoke(t, event(t, "direct.json"))
			if lerr != nil || decodeResult(t, out).Status != tc.status {
				t.Errorf("direct: %s %v, want the final result", out, lerr)
			}
			out, _ = hs.invoke(t, event(t, "sqs.json", firstRecordOnly))
			var resp struct{ BatchItemFailures []any }
			if json.Unmarshal(out, &resp) != nil || len(resp.BatchItemFailures) != 0 {
				t.Errorf("SQS: %s, want no retry", out)
			}
		})
	}
}

// firstRecordOnly edits an SQS sample down to its first record.
func firstRecordOnly(m map[string]any) {
	if recs, ok := m["Records"].([]any); ok {
		m["Records"] = recs[:1]
	}
}

// TestScheduledCloseOfAPaidOrderPagesNobody: a schedule closes the order
// "unless it is paid", so finding it paid is the customer paying in time.
// It answers order_paid as any close does, but only a close somebody asked
// for now counts in PaidOrders, the metric the PaidOrder alarm watches.
func TestScheduledCloseOfAPaidOrderPagesNobody(t *testing.T) {
	for _, tc := range []struct {
		payload string
		counted bool
	}{
		{`{"payjs_order_id":"` + order1 + `"}`, true},
		{`{"payjs_order_id":"` + order1 + `","scheduled":true}`, false},
		{`{"payjs_order_id":"` + order1 + `","scheduled":"yes"}`, true},
	} {
		hs := newHarness(t)
		hs.closer.answer = func(id string) (*payjs.Result, error) {
			return nil, &payjs.Error{Kind: payjs.KindPaid, Msg: "x", Attempts: 1, Result: &payjs.Result{ReturnMsg: "订单已支付", PayjsOrderID: id, Attempts: 1}}
		}
		// A schedule's message reaches the function through the close
		// queue: only there is "scheduled" honored (fromOutside).
		out, lerr := hs.invoke(t, sqsBodies(tc.payload))
		if lerr != nil || string(out) != `{"batchItemFailures":[]}` || !strings.Contains(hs.out.String(), `"error_code":"order_paid"`) {
			t.Fatalf("%s: %s %v, want order_paid, not retried", tc.payload, out, lerr)
		}
		if counted := strings.Contains(hs.out.String(), `"PaidOrders":1`); counted != tc.counted {
			t.Errorf("%s: PaidOrders counted %v, want %v", tc.payload, counted, tc.counted)
		}
	}
}
