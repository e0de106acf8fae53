package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
)

// slowSecretsManager is a secretsManager a network hop away: each read
// takes latency (fake time, inside a synctest bubble).
type slowSecretsManager struct {
	*secretsManager
	latency time.Duration
}

func (s slowSecretsManager) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	time.Sleep(s.latency)
	return s.secretsManager.GetSecretValue(ctx, in, opts...)
}

// rotatedSandbox is a warm sandbox holding the old key, with the real
// secret store reading a Secrets Manager latency away, right after the
// merchant rotated the key at PAYJS and in the secret.
func rotatedSandbox(t *testing.T, latency time.Duration) (*harness, *secretsManager, *merchantAt) {
	t.Helper()
	hs := newHarness(t)
	sm := &secretsManager{key: testKey}
	hs.h.deps.Keys = secret.NewStore(slowSecretsManager{sm, latency}, "payjs-close", secret.WithLogger(slog.New(slog.DiscardHandler)))
	m := &merchantAt{key: testKey}
	hs.h.deps.NewCloser = m.closer
	hs.h.deps.SQSConcurrency = 10
	hs.rebuild()
	if _, _, err := hs.h.deps.Keys.Key(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	sm.set(rotatedKey, nil)
	m.mu.Lock()
	m.key = rotatedKey
	m.mu.Unlock()
	return hs, sm, m
}

// TestKeyRotationHealsAnSQSBatch: a batch of 10 served at once during a
// rotation all close, with one shared read of the secret, and nothing
// counts in KeyMismatches.
func TestKeyRotationHealsAnSQSBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, sm, _ := rotatedSandbox(t, 20*time.Millisecond)
		var e events.SQSEvent
		for i := range 10 {
			e.Records = append(e.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), EventSource: "aws:sqs",
				Body: fmt.Sprintf(`{"payjs_order_id":"rot%d"}`, i)})
		}
		payload, _ := json.Marshal(e)
		out, lerr := hs.invoke(t, payload)
		if lerr != nil {
			t.Fatal(lerr)
		}
		if string(out) != `{"batchItemFailures":[]}` {
			t.Errorf("answer %s; want every record closed", out)
		}
		if sm.count() != 2 {
			t.Errorf("%d secret reads; want the load and one shared refresh", sm.count())
		}
		log := hs.out.String()
		if n := strings.Count(log, `"KeyRotationsHealed":1`); n != 10 || strings.Contains(log, `"KeyMismatches"`) {
			t.Errorf("%d healed, KeyMismatches counted %v; want 10 healed and none counted", n, strings.Contains(log, `"KeyMismatches"`))
		}
	})
}

// TestKeyRotationHealsFiftyConcurrentCloses: 50 closes in one sandbox,
// Secrets Manager 200 ms away, all close.
func TestKeyRotationHealsFiftyConcurrentCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, sm, _ := rotatedSandbox(t, 200*time.Millisecond)
		results := make([]closing.Result, 50)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				results[i] = hs.h.serve(lambdaCtx(t), EventDirect, "", closing.Request{PayjsOrderID: fmt.Sprintf("rot%d", i)}, nil)
			})
		}
		wg.Wait()
		for i, res := range results {
			if !res.OK || res.Status != closing.StatusClosed {
				t.Errorf("close %d: %+v; want closed with the new key", i, res)
			}
		}
		if sm.count() != 2 {
			t.Errorf("%d secret reads; want the load and one shared refresh", sm.count())
		}
		if strings.Contains(hs.out.String(), `"KeyMismatches"`) {
			t.Error("a healed rotation counted in KeyMismatches")
		}
	})
}

// TestKeyMismatchAfterTheRefreshStillCounts: when the refreshed secret
// still holds a key PAYJS refuses, the mismatch counts and is logged at
// ERROR, once per close.
func TestKeyMismatchAfterTheRefreshStillCounts(t *testing.T) {
	hs, sm, _ := rotationHarness(t, testKey, "neither-key-in-the-secret")
	if _, _, err := hs.h.deps.Keys.Key(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	sm.set(rotatedKey, nil) // a new key, but not the one PAYJS holds
	_, lerr := hs.invoke(t, event(t, "direct.json"))
	if lerr == nil || lerr.Type != string(closing.CodeKeyMismatch) {
		t.Fatalf("%v, want a key_mismatch Lambda error", lerr)
	}
	log := hs.out.String()
	if strings.Count(log, `"KeyMismatches":1`) != 1 || strings.Contains(log, `"KeyRotationsHealed"`) || !strings.Contains(log, `"level":"ERROR","message":"PAYJS rejected the signature`) {
		t.Errorf("want one KeyMismatches at ERROR and no heal: %s", log)
	}
}
