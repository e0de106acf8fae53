package secret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// GetSecretValueAPI is the one Secrets Manager call the store makes;
// *secretsmanager.Client implements it.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrUnavailable matches (with errors.Is) every error of [Store.Get]: no
// key could be loaded yet. The handler answers config_unavailable.
var ErrUnavailable = errors.New("secret: key unavailable")

// Reason classifies why the secret could not be loaded.
type Reason string

// The reasons a load fails.
const (
	// ReasonNotFound: Secrets Manager has no such secret
	// (ResourceNotFoundException).
	ReasonNotFound Reason = "not_found"
	// ReasonAccessDenied: the function's role may not read the secret, or
	// KMS may not decrypt it, or the credentials were refused.
	ReasonAccessDenied Reason = "access_denied"
	// ReasonThrottled: Secrets Manager kept throttling the call.
	ReasonThrottled Reason = "throttled"
	// ReasonTimeout: the context ended before Secrets Manager answered.
	ReasonTimeout Reason = "timeout"
	// ReasonUnreachable: the endpoint could not be reached or answered
	// with a server error.
	ReasonUnreachable Reason = "unreachable"
	// ReasonRejected: Secrets Manager refused the call for another reason
	// (e.g. a secret marked for deletion), or no secret id was given.
	ReasonRejected Reason = "rejected"
	// ReasonMalformed: the secret was read but its content is unusable;
	// the error wraps a *[MalformedError].
	ReasonMalformed Reason = "malformed"
)

// ReasonOf returns the Reason of the first *[LoadError] in err's chain, or
// "" when there is none.
func ReasonOf(err error) Reason {
	var le *LoadError
	if errors.As(err, &le) {
		return le.Reason
	}
	return ""
}

// LoadError is the error of a failed load. It names the secret id and the
// reason, never the secret's content. errors.Is(err, ErrUnavailable) is
// true; errors.As reaches the cause, e.g. a
// *types.ResourceNotFoundException, a smithy.APIError or a *MalformedError.
type LoadError struct {
	// SecretID is the secret's name or ARN as configured.
	SecretID string
	// Reason classifies the failure.
	Reason Reason
	// Err is the cause.
	Err error
}

// Error returns `secret "ID": REASON: CAUSE`.
func (e *LoadError) Error() string {
	return fmt.Sprintf("secret %q: %s: %v", e.SecretID, strings.ReplaceAll(string(e.Reason), "_", " "), e.Err)
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// Is makes every LoadError match [ErrUnavailable].
func (e *LoadError) Is(target error) bool { return target == ErrUnavailable }

// Defaults of [NewStore].
const (
	DefaultTTL            = 5 * time.Minute
	DefaultRefreshTimeout = 2 * time.Second
	DefaultRefreshRetry   = 30 * time.Second
	// MinForcedRefresh is the least time between two reads that
	// [Store.Refresh] forces.
	MinForcedRefresh = 10 * time.Second
	// The wait before another first load after a failed one: it starts
	// at FirstLoadBackoff and doubles up to MaxLoadBackoff, so that
	// sandboxes do not feed a throttling storm.
	FirstLoadBackoff = time.Second
	MaxLoadBackoff   = 30 * time.Second
)

// Option configures a [Store].
type Option func(*Store)

// WithTTL sets how long a loaded secret is used before it is read again;
// 0 means never. The default is [DefaultTTL]. A negative TTL panics.
func WithTTL(ttl time.Duration) Option {
	if ttl < 0 {
		panic("secret: negative TTL")
	}
	return func(s *Store) { s.ttl = ttl }
}

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// WithLogger sets where loads and failed refreshes are logged; the default
// is slog.Default(). Log lines carry the secret id and the mchids, never a
// key or the secret's text.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l }
}

// WithOnLoad sets a function called after every GetSecretValue call, cold
// or refresh, with its outcome and duration, for metrics. It is called
// without the store's lock held, possibly from several goroutines.
func WithOnLoad(fn func(ok bool, d time.Duration)) Option {
	return func(s *Store) { s.onLoad = fn }
}

// WithRefreshTimeout bounds a refresh, that is a load while a stale set is
// at hand, so that a slow Secrets Manager delays the request that triggered
// it by at most d; 0 leaves only the caller's context. The first load is
// bounded by the caller's context only. The default is
// [DefaultRefreshTimeout]. A negative d panics.
func WithRefreshTimeout(d time.Duration) Option {
	if d < 0 {
		panic("secret: negative refresh timeout")
	}
	return func(s *Store) { s.refreshTimeout = d }
}

// WithRefreshRetry sets how long the last good set is used after a failed
// refresh before the next attempt, so that an outage does not slow every
// request; never longer than the TTL. 0 retries on the next Get. The
// default is [DefaultRefreshRetry]. A negative d panics.
func WithRefreshRetry(d time.Duration) Option {
	if d < 0 {
		panic("secret: negative refresh retry")
	}
	return func(s *Store) { s.refreshRetry = d }
}

// Store loads the secret from Secrets Manager and caches it. It is safe for
// concurrent use; build one per process.
//
// The first Get loads the secret. Until a load has succeeded, Get fails with
// a *[LoadError] (errors.Is ErrUnavailable), so a cold start during an
// outage does not crash and a later invoke tries again: after a failed load
// the next one waits [FirstLoadBackoff], doubling to [MaxLoadBackoff], and a
// Get during the wait fails at once without calling Secrets Manager.
// Once loaded, Get answers from memory, making no Secrets Manager call,
// until the TTL has passed; then one caller refreshes synchronously, bounded
// by the refresh timeout, while concurrent callers get the current set
// without waiting. A failed refresh keeps the last good set, logs a warning
// and is retried after the refresh retry interval. Concurrent callers of a
// first load share one GetSecretValue call.
//
// The refresh is synchronous rather than in the background because Lambda
// freezes a sandbox between invokes: a background refresh would be
// suspended mid-call and could only finish during a later invoke anyway.
type Store struct {
	api            GetSecretValueAPI
	id             string
	ttl            time.Duration
	refreshTimeout time.Duration
	refreshRetry   time.Duration
	now            func() time.Time
	log            *slog.Logger
	onLoad         func(ok bool, d time.Duration)

	mu     sync.Mutex
	set    *Set      // last good set; nil until a load succeeds
	next   time.Time // when set is due for a refresh (unused when ttl is 0)
	flight *flight   // the load under way, if any

	lastForced time.Time // when Refresh last forced a read
	failures   int       // failed first loads in a row
	retryAt    time.Time // no first load before then
	lastErr    error     // the last failed first load's error
}

// flight is one GetSecretValue call that callers share. set and err are
// written before done is closed.
type flight struct {
	done chan struct{}
	set  *Set
	err  error
}

// NewStore returns a store for the secret id (a name or an ARN) read
// through api. It makes no call: the first [Store.Get] loads the secret.
func NewStore(api GetSecretValueAPI, id string, opts ...Option) *Store {
	s := &Store{
		api:            api,
		id:             id,
		ttl:            DefaultTTL,
		refreshTimeout: DefaultRefreshTimeout,
		refreshRetry:   DefaultRefreshRetry,
		now:            time.Now,
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// SecretID returns the secret id the store reads.
func (s *Store) SecretID() string { return s.id }

// Get returns the current set of merchants, loading or refreshing it as
// described on [Store]. It returns the same *Set until a refresh reads
// different content, so callers may cache per-set values (such as PAYJS
// clients) keyed by the pointer. Its error is always a *[LoadError].
func (s *Store) Get(ctx context.Context) (*Set, error) {
	s.mu.Lock()
	now := s.now()
	if s.set != nil && !s.due(now) {
		set := s.set
		s.mu.Unlock()
		return set, nil
	}
	if s.set == nil && s.flight == nil && now.Before(s.retryAt) {
		err := &LoadError{SecretID: s.id, Reason: ReasonOf(s.lastErr),
			Err: fmt.Errorf("not read again until %s after %d failed loads: %w", s.retryAt.Sub(now).Round(time.Millisecond), s.failures, errors.Unwrap(s.lastErr))}
		s.mu.Unlock()
		return nil, err
	}
	if f := s.flight; f != nil {
		stale := s.set
		s.mu.Unlock()
		if stale != nil {
			return stale, nil // being refreshed: no need to wait for it
		}
		select {
		case <-f.done:
			return f.set, f.err
		case <-ctx.Done():
			return nil, &LoadError{SecretID: s.id, Reason: ReasonTimeout, Err: ctx.Err()}
		}
	}
	f := &flight{done: make(chan struct{})}
	s.flight = f
	stale := s.set
	s.mu.Unlock()
	return s.fly(ctx, f, stale)
}

// fly makes the call of flight f, which the caller has registered with
// the store's lock held, and lands it.
func (s *Store) fly(ctx context.Context, f *flight, stale *Set) (*Set, error) {
	landed := false
	defer func() {
		if !landed { // the API panicked: release the waiters, let the panic go on
			_, _ = s.land(f, stale, nil, &LoadError{SecretID: s.id, Reason: ReasonUnreachable, Err: errors.New("load panicked")})
		}
	}()
	fresh, err := s.fetch(ctx, stale)
	set, err := s.land(f, stale, fresh, err)
	landed = true
	return set, err
}

// Refresh reads the secret again even inside the TTL, as when PAYJS
// rejected a signature made with the keys seen, and returns the keys to
// try next:
//
//   - when the current set is not seen (another caller's refresh, or the
//     TTL's, already replaced it), the current set, without a read;
//   - when a read is in flight, its outcome, once it lands: never the keys
//     it is replacing;
//   - else a new read, at most once every [MinForcedRefresh]; sooner, the
//     current set.
//
// So the closes of one sandbox that all saw a mismatch share one read.
// With nothing loaded yet, Refresh is Get.
func (s *Store) Refresh(ctx context.Context, seen *Set) (*Set, error) {
	s.mu.Lock()
	switch {
	case s.set == nil && s.flight == nil:
		s.mu.Unlock()
		return s.Get(ctx)
	case s.flight != nil:
		f := s.flight
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.set, f.err
		case <-ctx.Done():
			return nil, &LoadError{SecretID: s.id, Reason: ReasonTimeout, Err: ctx.Err()}
		}
	case s.set != seen:
		set := s.set
		s.mu.Unlock()
		return set, nil
	}
	now := s.now()
	if !s.lastForced.IsZero() && now.Sub(s.lastForced) < MinForcedRefresh {
		set := s.set
		s.mu.Unlock()
		return set, nil
	}
	s.lastForced = now
	f := &flight{done: make(chan struct{})}
	s.flight = f
	stale := s.set
	s.mu.Unlock()
	return s.fly(ctx, f, stale)
}

// due reports whether the current set must be refreshed at now.
func (s *Store) due(now time.Time) bool {
	return s.ttl > 0 && !now.Before(s.next)
}

// land records the outcome of f and releases its waiters.
func (s *Store) land(f *flight, stale, fresh *Set, err error) (*Set, error) {
	s.mu.Lock()
	now := s.now()
	switch {
	case err == nil:
		if stale != nil && stale.equal(fresh) {
			fresh = stale // unchanged: keep the pointer, and what callers keyed on it
		}
		s.set = fresh
		s.next = now.Add(s.ttl)
		s.failures, s.retryAt, s.lastErr = 0, time.Time{}, nil
	case stale == nil:
		s.failures++
		s.retryAt = now.Add(min(FirstLoadBackoff<<min(s.failures-1, 5), MaxLoadBackoff))
		s.lastErr = err
	default:
		retry := s.refreshRetry
		if retry > s.ttl {
			retry = s.ttl
		}
		s.next = now.Add(retry)
		fresh, err = stale, nil
	}
	s.flight = nil
	f.set, f.err = fresh, err
	s.mu.Unlock()
	close(f.done)
	return fresh, err
}

// fetch makes one GetSecretValue call, reports it, and logs its outcome.
func (s *Store) fetch(ctx context.Context, stale *Set) (*Set, error) {
	if stale != nil && s.refreshTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.refreshTimeout)
		defer cancel()
	}
	start := time.Now()
	set, version, err := s.load(ctx)
	d := time.Since(start)
	if s.onLoad != nil {
		s.onLoad(err == nil, d)
	}
	attrs := []slog.Attr{slog.String("secret_id", s.id), slog.Float64("duration_ms", float64(d.Microseconds())/1000)}
	switch {
	case err == nil:
		s.log.LogAttrs(ctx, slog.LevelInfo, "secret loaded", append(attrs,
			slog.String("version_id", version), slog.Any("merchants", set), slog.Bool("refresh", stale != nil))...)
	case stale != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "secret refresh failed; keeping the last good key", append(attrs,
			slog.String("reason", string(ReasonOf(err))), slog.String("error", err.Error()))...)
	default:
		s.log.LogAttrs(ctx, slog.LevelError, "secret load failed", append(attrs,
			slog.String("reason", string(ReasonOf(err))), slog.String("error", err.Error()))...)
	}
	return set, err
}

// load reads and parses the secret.
func (s *Store) load(ctx context.Context) (*Set, string, error) {
	if s.id == "" {
		return nil, "", &LoadError{Reason: ReasonRejected, Err: errors.New("no secret id given")}
	}
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.id)})
	if err != nil {
		return nil, "", &LoadError{SecretID: s.id, Reason: classify(err), Err: scrub(err)}
	}
	if out == nil || out.SecretString == nil {
		return nil, "", &LoadError{SecretID: s.id, Reason: ReasonMalformed,
			Err: &MalformedError{Problem: "holds no SecretString (binary secrets are not supported)"}}
	}
	set, err := Parse(*out.SecretString)
	if err != nil {
		return nil, "", &LoadError{SecretID: s.id, Reason: ReasonMalformed, Err: err}
	}
	return set, aws.ToString(out.VersionId), nil
}

// classify tells why a GetSecretValue call failed.
func classify(err error) Reason {
	var notFound *types.ResourceNotFoundException
	var decrypt *types.DecryptionFailure
	var api smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &notFound):
		return ReasonNotFound
	case errors.As(err, &decrypt):
		return ReasonAccessDenied
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
			"InvalidSignatureException", "IncompleteSignature", "ExpiredTokenException",
			"InvalidClientTokenId", "MissingAuthenticationToken":
			return ReasonAccessDenied
		case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
			return ReasonThrottled
		}
		if api.ErrorFault() == smithy.FaultServer {
			return ReasonUnreachable
		}
		return ReasonRejected
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ReasonTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	}
	return ReasonUnreachable
}

// scrub drops the detail of a response that could not be decoded: the
// decoder's message may quote a character of the response, which holds the
// secret.
func scrub(err error) error {
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return errors.New("GetSecretValue: unreadable response from Secrets Manager")
	}
	return err
}
