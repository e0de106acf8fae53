package secret

import (
	"context"
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
		api := &fakeAPI{answer: serve(secretJSON(testKey))}
		s := NewStore(api, "payjs-close/test", WithTTL(time.Minute), WithRefreshTimeout(0),
			WithLogger(slog.New(slog.DiscardHandler)))
		first, err := s.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
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
		s := NewStore(api, "payjs-close/test", WithTTL(time.Minute), WithRefreshRetry(retry), WithLogger(log))
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
		api := &fakeAPI{answer: serve(secretJSON(testKey))}
		s := NewStore(api, "payjs-close/test", WithTTL(time.Minute), WithRefreshTimeout(0),
			WithLogger(slog.New(slog.DiscardHandler)))
		first, err := s.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
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
