package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/payjs-close/payjs-close/cmd/testkit/testlog"
)

// fakeAPI answers GetSecretValue with whatever answer returns.
type fakeAPI struct {
	mu     sync.Mutex
	calls  int
	answer func(ctx context.Context, call int) (*secretsmanager.GetSecretValueOutput, error)
}

func (f *fakeAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	f.calls++
	n, answer := f.calls, f.answer
	f.mu.Unlock()
	if aws.ToString(in.SecretId) != "payjs-close/test" {
		return nil, fmt.Errorf("fake: unexpected SecretId %q", aws.ToString(in.SecretId))
	}
	return answer(ctx, n)
}

func (f *fakeAPI) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeAPI) set(answer func(ctx context.Context, call int) (*secretsmanager.GetSecretValueOutput, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

// serve makes the fake answer text.
func serve(text string) func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
	return func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
		return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(text), VersionId: aws.String("v1")}, nil
	}
}

// fail makes the fake fail with err.
func fail(err error) func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
	return func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) { return nil, err }
}

func secretJSON(key string) string {
	return `{"mchid":"1528140051","key":"` + key + `"}`
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer collects JSON log lines, safe for concurrent writes.
type logBuffer struct{ testlog.Buffer }

// records returns the log lines with the given message.
func (b *logBuffer) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// loadedStore returns a store with ttl, logging nowhere, whose first load of testKey has
// landed, its fake API and the set it loaded.
func loadedStore(t *testing.T, ttl time.Duration) (*fakeAPI, *Store, *Set) {
	t.Helper()
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	s := NewStore(api, "payjs-close/test", WithTTL(ttl), WithLogger(slog.New(slog.DiscardHandler)))
	set, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return api, s, set
}

// captureLogs returns a logger writing JSON lines to a buffer, and fails
// the test at its end if any of secrets occurs in what was logged.
func captureLogs(t *testing.T, secrets ...string) (*slog.Logger, *logBuffer) {
	t.Helper()
	buf := &logBuffer{}
	t.Cleanup(func() { assertNoSecret(t, "logs", buf.String(), secrets...) })
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func TestStoreWarmGetMakesNoCall(t *testing.T) {
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	log, logs := captureLogs(t, testKey)
	s := NewStore(api, "payjs-close/test", WithLogger(log))
	first, err := s.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if m, err := first.Lookup(""); err != nil || m.Key != testKey {
		t.Fatalf("Lookup = %v, %v", m, err)
	}
	for range 50 {
		set, err := s.Get(context.Background())
		if err != nil || set != first {
			t.Fatalf("warm Get = %p, %v; want the first set %p", set, err, first)
		}
	}
	if n := api.Calls(); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", n)
	}
	recs := logs.records(t, "secret loaded")
	if len(recs) != 1 || recs[0]["secret_id"] != "payjs-close/test" || recs[0]["version_id"] != "v1" || recs[0]["level"] != "INFO" {
		t.Errorf("load log lines = %v", recs)
	}
}

// TestStoreFailedLoad checks how every kind of failure is classified and
// reported while no set was ever loaded.
func TestStoreFailedLoad(t *testing.T) {
	tests := []struct {
		name   string
		answer func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error)
		reason Reason
		as     func(error) bool // the cause is reachable with errors.As
		msg    string
	}{
		{"not found", fail(&smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
			Err: &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}}),
			ReasonNotFound, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) },
			`secret "payjs-close/test": not found: operation error Secrets Manager: GetSecretValue`},
		{"access denied", fail(&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}),
			ReasonAccessDenied, func(err error) bool {
				var e smithy.APIError
				return errors.As(err, &e) && e.ErrorCode() == "AccessDeniedException"
			}, `secret "payjs-close/test": access denied: api error AccessDeniedException: not authorized`},
		{"KMS cannot decrypt", fail(&types.DecryptionFailure{Message: aws.String("kms")}),
			ReasonAccessDenied, nil, "access denied"},
		{"bad credentials", fail(&smithy.GenericAPIError{Code: "UnrecognizedClientException"}),
			ReasonAccessDenied, nil, "access denied"},
		{"throttled", fail(&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}),
			ReasonThrottled, nil, "throttled: api error ThrottlingException: Rate exceeded"},
		{"server error", fail(&types.InternalServiceError{Message: aws.String("oops")}),
			ReasonUnreachable, nil, "unreachable"},
		{"marked for deletion", fail(&types.InvalidRequestException{Message: aws.String("marked for deletion")}),
			ReasonRejected, nil, "rejected: InvalidRequestException: marked for deletion"},
		{"deadline", fail(fmt.Errorf("operation error: %w", context.DeadlineExceeded)),
			ReasonTimeout, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, "timeout"},
		{"connection refused", fail(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
			ReasonUnreachable, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, "unreachable: dial tcp: connection refused"},
		{"unreadable response", fail(&smithy.OperationError{ServiceID: "Secrets Manager", OperationName: "GetSecretValue",
			Err: &smithy.DeserializationError{Err: errors.New("invalid character 'Z'"), Snapshot: []byte(secretJSON(testKey))}}),
			ReasonUnreachable, nil, "unreadable response from Secrets Manager"},
		{"binary secret", func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
			return &secretsmanager.GetSecretValueOutput{SecretBinary: []byte(secretJSON(testKey))}, nil
		}, ReasonMalformed, nil, "holds no SecretString (binary secrets are not supported)"},
		{"key unusable", serve(secretJSON(testKey + "+")),
			ReasonMalformed, func(err error) bool { var e *MalformedError; return errors.As(err, &e) && e.Field == "key" },
			`secret "payjs-close/test": malformed: key: unusable`},
		{"key with a trailing newline", serve(secretJSON(testKey + `\n`)),
			ReasonMalformed, func(err error) bool { var e *MalformedError; return errors.As(err, &e) && e.Field == "key" },
			`secret "payjs-close/test": malformed: key: has white space (a space, tab or newline) at its start or end: store the key without it`},
		{"not JSON", serve("key=" + testKey),
			ReasonMalformed, nil, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{answer: tt.answer}
			log, logs := captureLogs(t, testKey, `Z'`)
			var loads []bool
			clk := newClock()
			s := NewStore(api, "payjs-close/test", WithLogger(log), withClock(clk.Now), WithOnLoad(func(ok bool, d time.Duration) { loads = append(loads, ok) }))
			for i := range 2 { // a Get after the back-off tries again while nothing was loaded
				if i > 0 {
					clk.Advance(MaxLoadBackoff)
				}
				set, err := s.Get(context.Background())
				if set != nil || err == nil {
					t.Fatalf("Get = %v, %v; want an error", set, err)
				}
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("errors.Is(err, ErrUnavailable) = false for %v", err)
				}
				if got := ReasonOf(err); got != tt.reason {
					t.Errorf("ReasonOf = %q, want %q", got, tt.reason)
				}
				if tt.as != nil && !tt.as(err) {
					t.Errorf("the cause is not reachable through %v", err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("message %q lacks %q", err, tt.msg)
				}
				assertNoSecret(t, "error", err.Error(), testKey, `Z'`)
				if n := api.Calls(); n != i+1 {
					t.Errorf("calls = %d after %d Gets", n, i+1)
				}
				// During the back-off the error is the failed load's again,
				// its reason said once.
				_, err = s.Get(context.Background())
				if api.Calls() != i+1 || ReasonOf(err) != tt.reason || strings.Count(err.Error(), strings.ReplaceAll(string(tt.reason), "_", " ")+": ") != 1 {
					t.Errorf("Get during the back-off = %v after %d calls", err, api.Calls())
				}
			}
			if fmt.Sprint(loads) != "[false false]" {
				t.Errorf("OnLoad saw %v, want two failures", loads)
			}
			recs := logs.records(t, "secret load failed")
			if len(recs) != 2 || recs[0]["level"] != "ERROR" || recs[0]["reason"] != string(tt.reason) || recs[0]["secret_id"] != "payjs-close/test" {
				t.Errorf("failure log lines = %v", recs)
			}
			// And once the cause is gone, the next Get after the back-off loads.
			api.set(serve(secretJSON(testKey)))
			clk.Advance(MaxLoadBackoff)
			if _, err := s.Get(context.Background()); err != nil {
				t.Errorf("Get after recovery: %v", err)
			}
		})
	}
}

func TestStoreNoSecretID(t *testing.T) {
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	_, err := NewStore(api, "", WithLogger(slog.New(slog.DiscardHandler))).Get(context.Background())
	if !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonRejected || api.Calls() != 0 {
		t.Errorf("Get = %v (reason %q, %d calls), want a rejected load without a call", err, ReasonOf(err), api.Calls())
	}
}

func TestStoreRefreshAfterTTL(t *testing.T) {
	const ttl = 5 * time.Minute
	tests := []struct {
		name      string
		ttl       time.Duration
		advance   time.Duration
		next      string // what Secrets Manager holds after the first load
		wantCalls int
		wantNew   bool // a different *Set is returned: each read gives one
		wantKey   string
	}{
		{"before TTL: cached", ttl, ttl - time.Nanosecond, secretJSON("rotated"), 1, false, testKey},
		{"at TTL: refreshed", ttl, ttl, secretJSON("rotated"), 2, true, "rotated"},
		{"past TTL, unchanged: read again, a new set", ttl, 2 * ttl, secretJSON(testKey), 2, true, testKey},
		{"TTL 0: never refreshed", 0, 1000 * time.Hour, secretJSON("rotated"), 1, false, testKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{answer: serve(secretJSON(testKey))}
			clk := newClock()
			log, _ := captureLogs(t, testKey, "rotated")
			s := NewStore(api, "payjs-close/test", WithTTL(tt.ttl), withClock(clk.Now), WithLogger(log))
			first, err := s.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			api.set(serve(tt.next))
			clk.Advance(tt.advance)
			got, err := s.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n := api.Calls(); n != tt.wantCalls {
				t.Errorf("calls = %d, want %d", n, tt.wantCalls)
			}
			if (got != first) != tt.wantNew {
				t.Errorf("new set = %v, want %v", got != first, tt.wantNew)
			}
			if m, _ := got.Lookup(""); m.Key != tt.wantKey {
				t.Errorf("wrong key after refresh (want the %q one)", tt.wantKey)
			}
			again, _ := s.Get(context.Background())
			if again != got || api.Calls() != tt.wantCalls {
				t.Errorf("Get right after: %p (want %p), %d calls", again, got, api.Calls())
			}
		})
	}
}

func TestStoreFailedRefreshKeepsStale(t *testing.T) {
	const ttl, retry = 5 * time.Minute, 30 * time.Second
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	clk := newClock()
	log, logs := captureLogs(t, testKey, "rotated")
	var loads []bool
	s := NewStore(api, "payjs-close/test", WithTTL(ttl), withRefreshRetry(retry), withClock(clk.Now), WithLogger(log),
		WithOnLoad(func(ok bool, _ time.Duration) { loads = append(loads, ok) }))
	first, err := s.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	api.set(fail(&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}))
	clk.Advance(ttl)

	got, err := s.Get(context.Background())
	if err != nil || got != first {
		t.Fatalf("Get during an outage = %p, %v; want the stale set %p", got, err, first)
	}
	warn := logs.records(t, "secret refresh failed; keeping the last good key")
	if len(warn) != 1 || warn[0]["level"] != "WARN" || warn[0]["reason"] != "throttled" ||
		warn[0]["secret_id"] != "payjs-close/test" || !strings.Contains(fmt.Sprint(warn[0]["error"]), "ThrottlingException") {
		t.Errorf("warning lines = %v", warn)
	}

	// Within the retry interval nothing is tried, so an outage does not
	// slow every request.
	clk.Advance(retry - time.Nanosecond)
	if got, err := s.Get(context.Background()); err != nil || got != first || api.Calls() != 2 {
		t.Errorf("Get within the retry interval = %p, %v, %d calls; want stale, 2 calls", got, err, api.Calls())
	}
	// Then it is, and a recovered Secrets Manager's new key is taken.
	api.set(serve(secretJSON("rotated")))
	clk.Advance(time.Nanosecond)
	got, err = s.Get(context.Background())
	if err != nil || got == first || api.Calls() != 3 {
		t.Fatalf("Get after the retry interval = %p, %v, %d calls; want a new set, 3 calls", got, err, api.Calls())
	}
	if m, _ := got.Lookup(""); m.Key != "rotated" {
		t.Error("the refreshed set does not hold the rotated key")
	}
	if fmt.Sprint(loads) != "[true false true]" {
		t.Errorf("OnLoad saw %v", loads)
	}
}

func TestStoreRefreshRetryNeverBeyondTTL(t *testing.T) {
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	clk := newClock()
	s := NewStore(api, "payjs-close/test", WithTTL(10*time.Second), withRefreshRetry(time.Hour),
		withClock(clk.Now), WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := s.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	api.set(fail(errors.New("down")))
	clk.Advance(10 * time.Second)
	_, _ = s.Get(context.Background()) // fails, stale kept
	clk.Advance(10 * time.Second)
	_, _ = s.Get(context.Background())
	if n := api.Calls(); n != 3 {
		t.Errorf("calls = %d, want 3: a retry one TTL after the failed refresh", n)
	}
}

// TestStoreColdCallersShareOneCall starts many Gets on a cold store while
// Secrets Manager has not answered yet.
func TestStoreColdCallersShareOneCall(t *testing.T) {
	for _, ok := range []bool{true, false} {
		t.Run(fmt.Sprintf("load ok %v", ok), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				api := &fakeAPI{answer: func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
					<-release
					if !ok {
						return nil, errors.New("down")
					}
					return serve(secretJSON(testKey))(context.Background(), 0)
				}}
				s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)))
				const n = 20
				sets := make([]*Set, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { sets[i], errs[i] = s.Get(context.Background()) })
				}
				synctest.Wait() // all n are blocked: one in the API, the others waiting for it
				if c := api.Calls(); c != 1 {
					t.Errorf("calls while %d callers wait = %d, want 1", n, c)
				}
				close(release)
				wg.Wait()
				for i := range n {
					if ok && (errs[i] != nil || sets[i] != sets[0] || sets[i] == nil) {
						t.Errorf("caller %d got %p, %v; want %p", i, sets[i], errs[i], sets[0])
					}
					if !ok && (!errors.Is(errs[i], ErrUnavailable) || sets[i] != nil) {
						t.Errorf("caller %d got %p, %v; want ErrUnavailable", i, sets[i], errs[i])
					}
				}
				if c := api.Calls(); c != 1 {
					t.Errorf("calls = %d, want 1", c)
				}
			})
		})
	}
}

// TestStoreRefreshDoesNotHoldUpOthers: while one caller refreshes, the
// others get the current set at once.
func TestStoreRefreshDoesNotHoldUpOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api, s, first := loadedStore(t, time.Minute)
		api.set(func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
			<-release
			return serve(secretJSON("rotated"))(context.Background(), 0)
		})
		time.Sleep(time.Minute) // fake time: the TTL passes

		var refreshed *Set
		done := make(chan struct{})
		go func() {
			defer close(done)
			refreshed, _ = s.Get(context.Background())
		}()
		synctest.Wait() // the refresher is blocked in the API
		for range 5 {
			if got, err := s.Get(context.Background()); got != first || err != nil {
				t.Errorf("Get during a refresh = %p, %v; want the current set at once", got, err)
			}
		}
		close(release)
		<-done
		if refreshed == first || refreshed == nil {
			t.Errorf("the refresher got %p, want a new set", refreshed)
		}
		if got, _ := s.Get(context.Background()); got != refreshed {
			t.Errorf("Get after the refresh = %p, want %p", got, refreshed)
		}
		if c := api.Calls(); c != 2 {
			t.Errorf("calls = %d, want 2", c)
		}
	})
}

// TestStoreSlowRefreshIsBounded: a Secrets Manager that does not answer
// delays the refreshing request by ReadTimeout only.
func TestStoreSlowRefreshIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{answer: serve(secretJSON(testKey))}
		log, logs := captureLogs(t, testKey)
		s := NewStore(api, "payjs-close/test", WithTTL(time.Minute), WithLogger(log))
		first, err := s.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		api.set(func(ctx context.Context, _ int) (*secretsmanager.GetSecretValueOutput, error) {
			<-ctx.Done() // hangs until the caller gives up
			return nil, ctx.Err()
		})
		time.Sleep(time.Minute)
		start := time.Now()
		got, err := s.Get(context.Background())
		if elapsed := time.Since(start); elapsed != ReadTimeout {
			t.Errorf("refresh took %v, want ReadTimeout, %v", elapsed, ReadTimeout)
		}
		if got != first || err != nil {
			t.Errorf("Get = %p, %v; want the stale set", got, err)
		}
		warn := logs.records(t, "secret refresh failed; keeping the last good key")
		if len(warn) != 1 || warn[0]["reason"] != "timeout" {
			t.Errorf("warning lines = %v", warn)
		}
	})
}

func TestStoreWaiterGivesUpWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api := &fakeAPI{answer: func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
			<-release
			return serve(secretJSON(testKey))(context.Background(), 0)
		}}
		s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)))
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := s.Get(context.Background()); err != nil {
				t.Errorf("leader: %v", err)
			}
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := s.Get(ctx)
		if !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiter Get = %v, want a timeout LoadError", err)
		}
		close(release)
		<-done
	})
}

func TestStorePanickingAPIReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api := &fakeAPI{answer: func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
			<-release
			panic("boom")
		}}
		clk := newClock()
		s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)), withClock(clk.Now))
		var recovered any
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() { recovered = recover() }()
			_, _ = s.Get(context.Background())
		}()
		synctest.Wait()
		waited := make(chan error)
		go func() {
			_, err := s.Get(context.Background())
			waited <- err
		}()
		synctest.Wait()
		close(release)
		<-done
		if recovered != "boom" {
			t.Errorf("the leader's panic = %v, want it to propagate", recovered)
		}
		if err := <-waited; !errors.Is(err, ErrUnavailable) {
			t.Errorf("waiter got %v, want ErrUnavailable", err)
		}
		api.set(serve(secretJSON(testKey)))
		clk.Advance(FirstLoadBackoff)
		if _, err := s.Get(context.Background()); err != nil {
			t.Errorf("Get after the panic: %v", err)
		}
	})
}

// TestStoreBacksOffAfterFailedLoads: while no key was ever loaded, a Get
// during the wait after a failed load fails at once without a call; the
// wait doubles from 1 s to 30 s.
func TestStoreBacksOffAfterFailedLoads(t *testing.T) {
	api := &fakeAPI{answer: fail(&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"})}
	clk := newClock()
	s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)), withClock(clk.Now))
	calls := 0
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		_, err := s.Get(context.Background())
		calls++
		if api.Calls() != calls || ReasonOf(err) != ReasonThrottled {
			t.Fatalf("Get made %d calls in all (want %d): %v", api.Calls(), calls, err)
		}
		clk.Advance(wait - time.Millisecond)
		_, err = s.Get(context.Background())
		if api.Calls() != calls || !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonThrottled {
			t.Fatalf("a Get %v into a %v wait called Secrets Manager or lost the reason: %v", wait-time.Millisecond, wait, err)
		}
		_, err = s.Refresh(context.Background(), nil) // with nothing loaded, Refresh is Get
		if api.Calls() != calls || !errors.Is(err, ErrUnavailable) || ReasonOf(err) != ReasonThrottled {
			t.Fatalf("a Refresh %v into a %v wait called Secrets Manager or lost the reason: %v", wait-time.Millisecond, wait, err)
		}
		clk.Advance(time.Millisecond)
	}
	api.set(serve(secretJSON(testKey)))
	if _, err := s.Get(context.Background()); err != nil || api.Calls() != calls+1 {
		t.Errorf("Get after the wait: %v, %d calls", err, api.Calls())
	}
}

func TestStoreRefreshIsForcedAtMostEveryTenSeconds(t *testing.T) {
	api := &fakeAPI{answer: serve(secretJSON(testKey))}
	clk := newClock()
	s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)), withClock(clk.Now), WithTTL(time.Hour))
	first, err := s.Refresh(context.Background(), s.current()) // nothing loaded yet: a plain load
	if err != nil || api.Calls() != 1 {
		t.Fatalf("Refresh = %v, %d calls", err, api.Calls())
	}
	api.set(serve(secretJSON("rotated-key-value")))
	got, _ := s.Refresh(context.Background(), s.current())
	if api.Calls() != 2 || got == first {
		t.Fatalf("a Refresh inside the TTL made %d calls in all and kept the old set", api.Calls())
	}
	clk.Advance(MinForcedRefresh - time.Millisecond)
	if _, _ = s.Refresh(context.Background(), s.current()); api.Calls() != 2 {
		t.Errorf("a Refresh within 10 s of the last read the secret again")
	}
	clk.Advance(time.Millisecond)
	third, _ := s.Refresh(context.Background(), s.current())
	if api.Calls() != 3 {
		t.Errorf("a Refresh 10 s after the last did not read the secret")
	}
	// The read found the secret unchanged, and still gives a new set: a
	// caller holding the set before it gets the read's answer at once.
	if third == got || third == nil {
		t.Fatalf("the third read answered %p; want a new set", third)
	}
	if m, _ := third.Lookup(""); m.Key != "rotated-key-value" {
		t.Error("the third read's set lost the key")
	}
	if late, _ := s.Refresh(context.Background(), got); late != third || api.Calls() != 3 {
		t.Errorf("a Refresh with the set before the read = %p, %d calls; want %p without a read", late, api.Calls(), third)
	}
	if again, _ := s.Get(context.Background()); again != third || api.Calls() != 3 {
		t.Errorf("Get after the read = %p, %d calls; want its set %p without a read", again, api.Calls(), third)
	}
}
