package secret

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// current returns the set the store holds now, as a caller that just got
// it from Get would have seen it.
func (s *Store) current() *Set {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

// blockedRotation makes the fake answer the rotated key once release is
// closed.
func blockedRotation(release <-chan struct{}) func(context.Context, int) (*secretsmanager.GetSecretValueOutput, error) {
	return func(ctx context.Context, n int) (*secretsmanager.GetSecretValueOutput, error) {
		<-release
		return serve(secretJSON("rotated-key-value"))(ctx, n)
	}
}

// TestStoreRefreshWaitsForTheReadInFlight: a caller whose signature PAYJS
// rejected while the TTL's refresh is under way gets that refresh's keys,
// not the keys it replaces, and no second read is made.
func TestStoreRefreshWaitsForTheReadInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api, s, old := loadedStore(t, time.Minute)
		api.set(blockedRotation(release))
		time.Sleep(time.Minute) // fake time: the TTL passes
		go func() { _, _ = s.Get(context.Background()) }()
		synctest.Wait() // the TTL refresh is blocked in the API

		var got *Set
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, err = s.Refresh(context.Background(), old)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatalf("Refresh answered %v while a read was in flight; want it to wait", got)
		default:
		}
		close(release)
		<-done
		if err != nil || got == old || got == nil {
			t.Fatalf("Refresh = %p, %v; want the new set", got, err)
		}
		if m, _ := got.Lookup(""); m.Key != "rotated-key-value" {
			t.Errorf("Refresh answered a set without the rotated key")
		}
		if c := api.Calls(); c != 2 {
			t.Errorf("calls = %d, want 2: the load and the one refresh", c)
		}
	})
}

// TestStoreConcurrentRefreshesShareOneRead: the closes of one sandbox that
// all saw a mismatch with the same keys share one read, and all get the
// new keys, inside the 10 s limit as well.
func TestStoreConcurrentRefreshesShareOneRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		api, s, old := loadedStore(t, time.Hour)
		api.set(blockedRotation(release))
		const n = 50
		sets := make([]*Set, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { sets[i], _ = s.Refresh(context.Background(), old) })
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		for i, got := range sets {
			if got == nil || got == old || got != sets[0] {
				t.Fatalf("caller %d got %p, want the one new set %p", i, got, sets[0])
			}
		}
		// A caller that still signed with the old keys, later, gets the
		// new ones at once: no read, whatever the 10 s limit says.
		if got, _ := s.Refresh(context.Background(), old); got != sets[0] {
			t.Errorf("a late Refresh with the old keys = %p, want the current set", got)
		}
		if c := api.Calls(); c != 2 {
			t.Errorf("calls = %d, want 2: the load and one shared refresh", c)
		}
	})
}
