package secret

import "time"

// Options only tests need. The shipped store keeps its clock and its
// limits (ReadTimeout, RefreshRetry); these let a test outside a synctest
// bubble move time, or shorten a limit.

// withClock replaces time.Now, for tests of expiry.
func withClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// withReadTimeout bounds every read of the secret by d instead of
// ReadTimeout.
func withReadTimeout(d time.Duration) Option {
	return func(s *Store) { s.readTimeout = d }
}

// withRefreshRetry uses the last good set for d after a failed refresh
// instead of RefreshRetry (still never longer than the TTL).
func withRefreshRetry(d time.Duration) Option {
	return func(s *Store) { s.refreshRetry = d }
}
