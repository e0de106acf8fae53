package secret

// Integration tests: the real aws-sdk-go-v2 Secrets Manager client against
// moto (python3 -m moto.server, started by mototest). go test -short skips
// them; without -short a missing moto fails them with an install hint.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/payjs"
)

const (
	secretID = "payjs-close/local"
	mchID    = "1528140051"
	demoKey  = "payjs-close-local-demo-key"
	newKey   = "payjs-close-rotated-key-2"
	ttl      = 5 * time.Minute
)

func demoSecret(key string) string {
	return `{"mchid":"` + mchID + `","key":"` + key + `"}`
}

// env is one test's moto, store, clock and captured logs.
type env struct {
	srv   *mototest.Server
	store *Store
	clock *clock
	logs  *logBuffer
	loads *loadCounter
}

// setup starts moto, optionally creates the secret, and builds a store
// reading it with the real SDK client. Logs are checked at the end of the
// test for every key the test may have used.
func setup(t *testing.T, value string, opts ...Option) *env {
	t.Helper()
	srv := mototest.Start(t)
	if value != "" {
		srv.CreateSecret(t, secretID, value)
	}
	return newEnv(t, srv, srv.Client(t), opts...)
}

func newEnv(t *testing.T, srv *mototest.Server, api GetSecretValueAPI, opts ...Option) *env {
	t.Helper()
	e := &env{srv: srv, clock: newClock(), loads: &loadCounter{}}
	var log *slog.Logger
	log, e.logs = captureLogs(t, demoKey, newKey)
	opts = append([]Option{
		WithTTL(ttl), withClock(e.clock.Now), WithLogger(log), WithOnLoad(e.loads.add),
	}, opts...)
	e.store = NewStore(api, secretID, opts...)
	return e
}

func (e *env) get(t *testing.T) *Set {
	t.Helper()
	set, err := e.store.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return set
}

func key(t *testing.T, set *Set) string {
	t.Helper()
	m, err := set.Lookup(mchID)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", mchID, err)
	}
	return m.Key
}

func (e *env) calls() int { return e.srv.Calls("GetSecretValue") }

type loadCounter struct {
	mu       sync.Mutex
	ok, fail int
}

func (l *loadCounter) add(ok bool, _ time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.ok++
	} else {
		l.fail++
	}
}

func (l *loadCounter) counts() (ok, fail int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.fail
}

const (
	msgLoaded     = "secret loaded"
	msgLoadFailed = "secret load failed"
	msgStale      = "secret refresh failed; keeping the last good key"
)

func TestMotoColdStartLoad(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey))
	set := e.get(t)
	if got := key(t, set); got != demoKey {
		t.Error("the loaded key is not the secret's")
	}
	if m, err := set.Lookup(""); err != nil || m.MchID != mchID {
		t.Errorf("Lookup(\"\") = %v, %v", m, err)
	}
	if n := e.calls(); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", n)
	}
	lines := e.logs.records(t, msgLoaded)
	if len(lines) != 1 || lines[0]["secret_id"] != secretID || lines[0]["version_id"] == "" ||
		fmt.Sprint(lines[0]["merchants"]) != "map[count:1 mchids:[1528140051]]" {
		t.Errorf("load log = %v", lines)
	}
}

func TestMotoWarmGetsMakeNoCalls(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey))
	first := e.get(t)
	e.srv.ResetCalls()
	e.clock.Advance(ttl - time.Second)
	for range 50 {
		if set := e.get(t); set != first {
			t.Fatalf("a warm Get returned another set")
		}
	}
	if n := e.calls(); n != 0 {
		t.Errorf("50 warm Gets made %d GetSecretValue calls, want 0", n)
	}
	if ok, fail := e.loads.counts(); ok != 1 || fail != 0 {
		t.Errorf("OnLoad: %d ok, %d failed; want 1, 0", ok, fail)
	}
}

func TestMotoMissingSecret(t *testing.T) {
	t.Parallel()
	e := setup(t, "")
	for i := 1; i <= 2; i++ { // every Get after the back-off tries again
		if i > 1 {
			e.clock.Advance(MaxLoadBackoff)
		}
		_, err := e.store.Get(context.Background())
		if !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonNotFound {
			t.Fatalf("Get = %v (reason %q), want ErrUnavailable, not_found", err, ReasonOf(err))
		}
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("the SDK's ResourceNotFoundException is not reachable: %v", err)
		}
		want := `secret "payjs-close/local": not found: operation error Secrets Manager: GetSecretValue`
		if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("message %q, want prefix %q", err, want)
		}
		if n := e.calls(); n != i {
			t.Errorf("calls = %d after %d Gets (not found is not retried by the SDK)", n, i)
		}
	}
	lines := e.logs.records(t, msgLoadFailed)
	if len(lines) != 2 || lines[0]["level"] != "ERROR" || lines[0]["reason"] != "not_found" {
		t.Errorf("failure log = %v", lines)
	}
	// Created later, it is found by the next Get after the back-off.
	e.srv.CreateSecret(t, secretID, demoSecret(demoKey))
	e.clock.Advance(MaxLoadBackoff)
	if got := key(t, e.get(t)); got != demoKey {
		t.Error("wrong key once the secret exists")
	}
}

func TestMotoMalformedSecret(t *testing.T) {
	t.Parallel()
	srv := mototest.Start(t)
	tests := []struct {
		name, value, problem string
		unusable             bool
	}{
		{"not JSON", "mchid=" + mchID + "&key=" + demoKey, "not JSON (syntax error at byte 1)", false},
		{"no key", `{"mchid":"` + mchID + `"}`, `key: is missing`, false},
		{"key with plus", demoSecret(demoKey + "+"), `key: unusable: key contains "+" or "%"`, true},
		{"key with percent", demoSecret("%41" + demoKey), `key: unusable`, true},
		{"empty merchants", `{"merchants":[]}`, "merchants: is empty", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "malformed/" + strings.ReplaceAll(tt.name, " ", "-")
			srv.CreateSecret(t, id, tt.value)
			log, l := captureLogs(t, demoKey, tt.value)
			store := NewStore(srv.Client(t), id, WithLogger(log))
			_, err := store.Get(context.Background())
			if !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonMalformed {
				t.Fatalf("Get = %v, want ErrUnavailable, malformed", err)
			}
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("no *MalformedError in %v", err)
			}
			want := `secret "` + id + `": malformed: ` + tt.problem
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q, want prefix %q", err, want)
			}
			if errors.Is(err, payjs.ErrUnusableKey) != tt.unusable {
				t.Errorf("errors.Is(err, payjs.ErrUnusableKey) = %v", !tt.unusable)
			}
			if strings.Contains(err.Error(), demoKey) || strings.Contains(err.Error(), tt.value) {
				t.Errorf("the error quotes the secret: %q", err)
			}
			if lines := l.records(t, msgLoadFailed); len(lines) != 1 || lines[0]["reason"] != "malformed" ||
				!strings.Contains(fmt.Sprint(lines[0]["error"]), tt.problem) {
				t.Errorf("failure log = %v", lines)
			}
		})
	}
}

func TestMotoRotationAfterTTL(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey))
	first := e.get(t)
	e.srv.PutSecretValue(t, secretID, demoSecret(newKey))

	e.clock.Advance(ttl - time.Second)
	if set := e.get(t); set != first || key(t, set) != demoKey || e.calls() != 1 {
		t.Fatalf("before the TTL: a new set or a call (%d calls)", e.calls())
	}
	e.clock.Advance(time.Second)
	set := e.get(t)
	if set == first || key(t, set) != newKey {
		t.Error("after the TTL the rotated key is not used")
	}
	if n := e.calls(); n != 2 {
		t.Errorf("calls = %d, want 2", n)
	}
	if lines := e.logs.records(t, msgLoaded); len(lines) != 2 || lines[1]["refresh"] != true ||
		lines[0]["version_id"] == lines[1]["version_id"] {
		t.Errorf("load logs = %v", lines)
	}
}

func TestMotoDownAfterFirstLoadKeepsStaleKey(t *testing.T) {
	t.Parallel()
	const retry = 30 * time.Second
	e := setup(t, demoSecret(demoKey), withRefreshRetry(retry))
	first := e.get(t)

	e.srv.Stop()
	e.clock.Advance(ttl)
	start := time.Now()
	set, err := e.store.Get(context.Background())
	if err != nil || set != first || key(t, set) != demoKey {
		t.Fatalf("Get with Secrets Manager down = %v, %v; want the stale set", set, err)
	}
	t.Logf("refresh against a stopped endpoint took %v", time.Since(start))
	warn := e.logs.records(t, msgStale)
	if len(warn) != 1 || warn[0]["level"] != "WARN" || warn[0]["reason"] != "unreachable" || warn[0]["secret_id"] != secretID ||
		!strings.Contains(fmt.Sprint(warn[0]["error"]), "connection refused") {
		t.Errorf("warning = %v", warn)
	}
	if ok, fail := e.loads.counts(); ok != 1 || fail != 1 {
		t.Errorf("OnLoad: %d ok, %d failed; want 1, 1", ok, fail)
	}

	// Back up (with a rotated key): used once the retry interval is over.
	e.srv.Restart(t)
	e.srv.PutSecretValue(t, secretID, demoSecret(newKey))
	e.clock.Advance(retry - time.Second)
	if set := e.get(t); set != first {
		t.Error("refreshed within the retry interval")
	}
	e.clock.Advance(time.Second)
	if set := e.get(t); set == first || key(t, set) != newKey {
		t.Error("the recovered Secrets Manager's key is not used")
	}
	if n := e.calls(); n != 2 {
		t.Errorf("calls = %d, want 2 (first load, refresh after recovery)", n)
	}
}

func TestMotoDownAtColdStartThenBack(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey))
	e.srv.Stop()
	_, err := e.store.Get(context.Background())
	if !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonUnreachable {
		t.Fatalf("Get while down = %v (reason %q), want unreachable", err, ReasonOf(err))
	}
	if !strings.HasPrefix(err.Error(), `secret "payjs-close/local": unreachable: `) {
		t.Errorf("message %q", err)
	}
	e.srv.Restart(t)
	e.clock.Advance(FirstLoadBackoff)
	if got := key(t, e.get(t)); got != demoKey {
		t.Error("wrong key after recovery")
	}
	if ok, fail := e.loads.counts(); ok != 1 || fail != 1 {
		t.Errorf("OnLoad: %d ok, %d failed; want 1, 1", ok, fail)
	}
}

func TestMotoAccessDenied(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey))
	e.srv.Fail("GetSecretValue", mototest.AccessDenied())
	_, err := e.store.Get(context.Background())
	if ReasonOf(err) != ReasonAccessDenied || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get = %v, want access_denied", err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Errorf("the SDK's API error is not reachable: %v", err)
	}
	if n := e.calls(); n != 1 {
		t.Errorf("calls = %d, want 1 (AccessDenied is not retried)", n)
	}
	if lines := e.logs.records(t, msgLoadFailed); len(lines) != 1 || lines[0]["reason"] != "access_denied" {
		t.Errorf("failure log = %v", lines)
	}
}

func TestMotoThrottled(t *testing.T) {
	t.Parallel()
	t.Run("throttled on every attempt", func(t *testing.T) {
		t.Parallel()
		srv := mototest.Start(t)
		srv.CreateSecret(t, secretID, demoSecret(demoKey))
		srv.Fail("GetSecretValue", mototest.Throttled())
		// One attempt per call: the SDK's throttling backoff (up to
		// seconds) is not what is under test.
		e := newEnv(t, srv, srv.Client(t, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }))
		_, err := e.store.Get(context.Background())
		if ReasonOf(err) != ReasonThrottled || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get = %v, want throttled", err)
		}
		if !strings.Contains(err.Error(), "ThrottlingException: Rate exceeded") {
			t.Errorf("message %q", err)
		}
		srv.ClearFaults()
		e.clock.Advance(FirstLoadBackoff)
		if key(t, e.get(t)) != demoKey {
			t.Error("wrong key")
		}
	})
	t.Run("throttled once, the SDK retries", func(t *testing.T) {
		t.Parallel()
		e := setup(t, demoSecret(demoKey))
		f := mototest.Throttled()
		f.Times = 1
		e.srv.Fail("GetSecretValue", f)
		if key(t, e.get(t)) != demoKey {
			t.Error("wrong key")
		}
		if n := e.calls(); n != 2 {
			t.Errorf("calls = %d, want 2", n)
		}
	})
}

func TestMotoSlowRefreshKeepsStaleKey(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey), withReadTimeout(300*time.Millisecond))
	first := e.get(t)
	e.srv.Fail("GetSecretValue", mototest.Slow(time.Minute))
	e.clock.Advance(ttl)
	start := time.Now()
	set, err := e.store.Get(context.Background())
	took := time.Since(start)
	if err != nil || set != first {
		t.Fatalf("Get = %v, %v; want the stale set", set, err)
	}
	// Generous above, for a loaded machine, and far below the minute of
	// the slow answer it did not wait for.
	if took < 300*time.Millisecond || took > 10*time.Second {
		t.Errorf("the refresh took %v, want about the 300ms read timeout", took)
	}
	if warn := e.logs.records(t, msgStale); len(warn) != 1 || warn[0]["reason"] != "timeout" {
		t.Errorf("warning = %v", warn)
	}
}

func TestMotoConcurrentColdGetsShareOneCall(t *testing.T) {
	t.Parallel()
	e := setup(t, demoSecret(demoKey))
	// Hold the first answer back so that all callers arrive during it.
	e.srv.Fail("GetSecretValue", mototest.Fault{Delay: 300 * time.Millisecond, Times: 1})
	const n = 25
	sets := make([]*Set, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sets[i], _ = e.store.Get(context.Background()) })
	}
	wg.Wait()
	for i := range sets {
		if sets[i] == nil || sets[i] != sets[0] {
			t.Fatalf("caller %d got %p, want %p", i, sets[i], sets[0])
		}
	}
	if c := e.calls(); c != 1 {
		t.Errorf("%d concurrent cold Gets made %d calls, want 1", n, c)
	}
}

// TestMotoEndpointFromEnvironment wires the store as cmd/closeorder does:
// config.LoadDefaultConfig honors AWS_ENDPOINT_URL_SECRETS_MANAGER.
func TestMotoEndpointFromEnvironment(t *testing.T) {
	srv := mototest.Start(t)
	arn := srv.CreateSecret(t, secretID, demoSecret(demoKey))
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	log, _ := captureLogs(t, demoKey)
	for _, id := range []string{secretID, arn} {
		store := NewStore(secretsmanager.NewFromConfig(cfg), id, WithLogger(log))
		set, err := store.Get(context.Background())
		if err != nil || key(t, set) != demoKey {
			t.Errorf("Get(%s) = %v", id, err)
		}
	}
	if n := srv.Calls("GetSecretValue"); n != 2 {
		t.Errorf("calls = %d, want 2", n)
	}
}
