package secret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The read in flight is shared, and runs apart from the caller that
// started it: these tests cover what that caller and the read do when they
// part, or when the read panics with a set at hand.

// TestStoreRefresherGivesUpWithItsContext: a Get refreshing past the TTL
// whose context ends first answers the set at hand, not an error; the
// read it started still lands, and its set is used without another call.
func TestStoreRefresherGivesUpWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api, s, first := loadedStore(t, time.Minute)
		api.set(blockedRotation(release)) // ignores the context
		time.Sleep(time.Minute)           // fake time: the TTL passes

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		got, err := s.Get(ctx)
		if got != first || err != nil || time.Since(start) != time.Second {
			t.Fatalf("Get = %p, %v after %v; want the set at hand %p when its 1s context ends", got, err, time.Since(start), first)
		}
		close(release)
		synctest.Wait() // the abandoned read lands
		got, err = s.Get(context.Background())
		if err != nil || got == first {
			t.Fatalf("Get after the read landed = %p, %v; want its new set", got, err)
		}
		if m, _ := got.Lookup(""); m.Key != "rotated-key-value" {
			t.Error("the landed read's set does not hold the rotated key")
		}
		if c := api.Calls(); c != 2 {
			t.Errorf("calls = %d, want 2: the load and the one refresh", c)
		}
	})
}

// TestStorePanickingRefreshKeepsTheSet: the API panics during a refresh.
// The panic reaches the Get that started the read; a Refresh waiting for
// it gets the set at hand, which stays in use until the refresh retry
// interval has passed, as after a failed refresh.
func TestStorePanickingRefreshKeepsTheSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const retry = 30 * time.Second
		release := make(chan struct{})
		api := &fakeAPI{answer: serve(secretJSON(testKey))}
		log, logs := captureLogs(t, testKey)
		s := NewStore(api, "payjs-close/test", WithTTL(time.Minute), withRefreshRetry(retry), WithLogger(log))
		first, err := s.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		api.set(func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
			<-release
			panic("boom")
		})
		time.Sleep(time.Minute)

		var recovered any
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() { recovered = recover() }()
			_, _ = s.Get(context.Background())
		}()
		synctest.Wait() // the refresher is blocked in the API
		type answer struct {
			set *Set
			err error
		}
		waited := make(chan answer)
		go func() {
			set, err := s.Refresh(context.Background(), first)
			waited <- answer{set, err}
		}()
		synctest.Wait()
		close(release)
		<-done
		if recovered != "boom" {
			t.Errorf("the refresher's panic = %v, want it to reach the refresher", recovered)
		}
		if a := <-waited; a.set != first || a.err != nil {
			t.Errorf("the waiting Refresh = %p, %v; want the set at hand %p", a.set, a.err, first)
		}
		if recs := logs.records(t, "secret load panicked"); len(recs) != 1 || recs[0]["level"] != "ERROR" {
			t.Errorf("panic log lines = %v", recs)
		}
		time.Sleep(retry - time.Nanosecond)
		if got, err := s.Get(context.Background()); got != first || err != nil || api.Calls() != 2 {
			t.Errorf("Get within the retry interval = %p, %v, %d calls; want the set at hand, no call", got, err, api.Calls())
		}
		api.set(serve(secretJSON("rotated-key-value")))
		time.Sleep(time.Nanosecond)
		if got, err := s.Get(context.Background()); got == first || err != nil || api.Calls() != 3 {
			t.Errorf("Get after the retry interval = %p, %v, %d calls; want a new set", got, err, api.Calls())
		}
	})
}

// TestStoreDueGetJoinsAForcedRead: when the TTL passes while a Refresh's
// read is in flight, the Get that would refresh takes that read's answer
// instead of making a second call.
func TestStoreDueGetJoinsAForcedRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api, s, first := loadedStore(t, time.Minute)
		api.set(blockedRotation(release))
		refreshed := make(chan *Set)
		go func() {
			set, _ := s.Refresh(context.Background(), first)
			refreshed <- set
		}()
		synctest.Wait() // the forced read is blocked in the API
		time.Sleep(time.Minute)
		got := make(chan *Set)
		go func() {
			set, err := s.Get(context.Background())
			if err != nil {
				t.Errorf("Get: %v", err)
			}
			got <- set
		}()
		synctest.Wait()
		close(release)
		r, g := <-refreshed, <-got
		if r == first || r == nil || g != r {
			t.Errorf("Refresh = %p, Get = %p; want both the one new set (not %p)", r, g, first)
		}
		if c := api.Calls(); c != 2 {
			t.Errorf("calls = %d, want 2: the load and the one shared read", c)
		}
	})
}

// slowRotation makes the fake answer the rotated key after d, or fail when
// the read's context ends first, as the SDK does.
func slowRotation(d time.Duration) func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
	return func(ctx context.Context, n int) (*secretsmanager.GetSecretValueOutput, error) {
		select {
		case <-time.After(d):
			return serve(secretJSON("rotated-key-value"))(ctx, n)
		case <-ctx.Done():
			return nil, fmt.Errorf("operation error Secrets Manager: GetSecretValue: %w", ctx.Err())
		}
	}
}

// TestStoreSharedReadOutlivesItsStarter: the caller that started a read
// has a nearly spent deadline, a second caller a long one. The first gives
// up with its own context; the read goes on and the second gets its new
// key, and the forced-read allowance it used was not wasted: a third
// Rekey gets the new key without another read.
func TestStoreSharedReadOutlivesItsStarter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{answer: serve(secretJSON(testKey))}
		s := NewStore(api, "payjs-close/test", WithTTL(time.Hour), WithLogger(slog.New(slog.DiscardHandler)))
		if _, _, err := s.Key(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		api.set(slowRotation(100 * time.Millisecond))

		short := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, _, err := s.Rekey(ctx, "", testKey)
			short <- err
		}()
		synctest.Wait() // the first caller's read is in the API
		start := time.Now()
		_, key, err := s.Rekey(context.Background(), "", testKey)
		if err != nil || key != "rotated-key-value" {
			t.Errorf("the second Rekey got the old key or %v; want the new key", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("the second Rekey took %v, want the read's 100ms", d)
		}
		if err := <-short; ReasonOf(err) != ReasonTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the first Rekey = %v, want a timeout of its own 20ms context", err)
		}
		if _, key, err := s.Rekey(context.Background(), "", testKey); err != nil || key != "rotated-key-value" {
			t.Errorf("a third Rekey got the old key or %v; want the new key", err)
		}
		if c := api.Calls(); c != 2 {
			t.Errorf("calls = %d, want 2: the load and the one shared read", c)
		}
	})
}

// TestStoreSharedFirstLoadOutlivesItsStarter: the same on a cold store. A
// first Get whose context ends before Secrets Manager answers does not
// fail the load for a second caller, nor start the back-off.
func TestStoreSharedFirstLoadOutlivesItsStarter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{answer: slowRotation(100 * time.Millisecond)}
		s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)))
		short := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, err := s.Get(ctx)
			short <- err
		}()
		synctest.Wait()
		set, err := s.Get(context.Background())
		if err != nil || set == nil {
			t.Fatalf("the second Get = %v, %v; want the loaded set", set, err)
		}
		if err := <-short; ReasonOf(err) != ReasonTimeout {
			t.Errorf("the first Get = %v, want a timeout of its own context", err)
		}
		if again, err := s.Get(context.Background()); again != set || err != nil || api.Calls() != 1 {
			t.Errorf("Get after the load = %p, %v, %d calls; want %p from memory", again, err, api.Calls(), set)
		}
	})
}

// TestStoreSlowFirstLoadIsBounded: a first load runs apart from its
// callers, so the store bounds it itself: a Secrets Manager that does not
// answer fails it after ReadTimeout, and the back-off starts.
func TestStoreSlowFirstLoadIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &fakeAPI{answer: func(ctx context.Context, _ int) (*secretsmanager.GetSecretValueOutput, error) {
			<-ctx.Done() // hangs until the read gives up
			return nil, ctx.Err()
		}}
		s := NewStore(api, "payjs-close/test", WithLogger(slog.New(slog.DiscardHandler)))
		start := time.Now()
		_, err := s.Get(context.Background())
		if d := time.Since(start); d != ReadTimeout || ReasonOf(err) != ReasonTimeout {
			t.Errorf("Get = %v after %v; want a timeout after %v", err, d, ReadTimeout)
		}
		if _, err := s.Get(context.Background()); ReasonOf(err) != ReasonTimeout || api.Calls() != 1 {
			t.Errorf("Get during the back-off = %v, %d calls; want the timeout again without a call", err, api.Calls())
		}
	})
}
