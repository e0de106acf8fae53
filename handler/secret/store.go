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
	"github.com/payjs-close/payjs-close/handler/closing"
	"golang.org/x/sync/singleflight"
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

// Error returns `secret "ID": REASON: CAUSE`. A *[MalformedError] in
// the cause reads without its own "secret: malformed: ", which the rest
// says already: `secret "ID": malformed: key: unusable`.
func (e *LoadError) Error() string {
	cause := fmt.Sprint(e.Err)
	if me := (*MalformedError)(nil); errors.As(e.Err, &me) {
		cause = strings.Replace(cause, me.Error(), me.detail(), 1)
	}
	return fmt.Sprintf("secret %q: %s: %s", e.SecretID, strings.ReplaceAll(string(e.Reason), "_", " "), cause)
}

// Unwrap returns the cause.
func (e *LoadError) Unwrap() error { return e.Err }

// Is makes every LoadError match [ErrUnavailable], and the core's
// [closing.ErrKeysUnavailable].
func (e *LoadError) Is(target error) bool {
	return target == ErrUnavailable || target == closing.ErrKeysUnavailable
}

// Defaults of [NewStore], and the limits a store keeps.
const (
	DefaultTTL = 5 * time.Minute
	// RefreshRetry is how long the last good set is used after a failed
	// refresh before the next attempt, never longer than the TTL, so that
	// an outage does not slow every request.
	RefreshRetry = 30 * time.Second
	// ReadTimeout bounds every read of the secret, a first load as well
	// as a refresh. A read is shared by the callers waiting for it and
	// outlives the one that started it, so it cannot be bounded by a
	// caller's context: each caller stops waiting when its own context
	// ends, and the read goes on for the others until it lands or
	// ReadTimeout passes. A Secrets Manager that has not answered by then
	// is treated as down: a first load fails and backs off, a refresh
	// keeps the last good set. It is also the longest a refresh delays
	// the request that triggered it.
	ReadTimeout = 2 * time.Second
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
// by [ReadTimeout], while concurrent callers get the current set
// without waiting. A failed refresh keeps the last good set, logs a warning
// and is retried after [RefreshRetry]. Callers that wait for a
// read (a first load, [Store.Refresh]) share the one in flight.
//
// The refresh is synchronous rather than in the background because Lambda
// freezes a sandbox between invokes: a background refresh would be
// suspended mid-call and could only finish during a later invoke anyway.
type Store struct {
	api          GetSecretValueAPI
	id           string
	ttl          time.Duration
	readTimeout  time.Duration
	refreshRetry time.Duration
	now          func() time.Time
	log          *slog.Logger
	onLoad       func(ok bool, d time.Duration)

	reads singleflight.Group // the read in flight, shared by its waiters

	mu         sync.Mutex
	set        *Set      // last good set; nil until a load succeeds
	next       time.Time // when set is due for a refresh (unused when ttl is 0)
	refreshing bool      // a Get is refreshing set: other Gets answer it meanwhile
	lastForced time.Time // when Refresh last forced a read
	failures   int       // failed first loads in a row
	retryAt    time.Time // no first load before then
	lastErr    error     // the last failed first load's error
}

// NewStore returns a store for the secret id (a name or an ARN) read
// through api. It makes no call: the first [Store.Get] loads the secret.
func NewStore(api GetSecretValueAPI, id string, opts ...Option) *Store {
	s := &Store{
		api:          api,
		id:           id,
		ttl:          DefaultTTL,
		readTimeout:  ReadTimeout,
		refreshRetry: RefreshRetry,
		now:          time.Now,
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Get returns the current set of merchants, loading or refreshing it as
// described on [Store]. Each successful read gives a new *Set, which is
// how [Store.Refresh] tells the keys a caller saw from newer ones. Its
// error is always a *[LoadError]; once a set is loaded, Get does not fail.
func (s *Store) Get(ctx context.Context) (*Set, error) {
	s.mu.Lock()
	set := s.set
	switch {
	case set == nil:
		s.mu.Unlock()
		return s.read(ctx, s.due)
	case s.refreshing || !s.due(s.now()):
		s.mu.Unlock()
		return set, nil
	}
	s.refreshing = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.refreshing = false
		s.mu.Unlock()
	}()
	if fresh, err := s.read(ctx, s.due); err == nil {
		return fresh, nil
	}
	return set, nil // ctx ended before the refresh did
}

// Refresh reads the secret again even inside the TTL, as when PAYJS
// rejected a signature made with the keys seen, and returns the keys to
// try next:
//
//   - when a read is in flight, its outcome, once it lands: never the keys
//     it is replacing;
//   - when the current set is not seen (another caller's refresh, or the
//     TTL's, already replaced it), the current set, without a read;
//   - else a new read, at most once every [MinForcedRefresh]; sooner, the
//     current set.
//
// So the closes of one sandbox that all saw a mismatch share one read.
// With nothing loaded yet, Refresh is Get.
func (s *Store) Refresh(ctx context.Context, seen *Set) (*Set, error) {
	return s.read(ctx, func(now time.Time) bool {
		// Until a read is forced, lastForced is the zero time: long ago.
		if s.set != seen || now.Sub(s.lastForced) < MinForcedRefresh {
			return false
		}
		s.lastForced = now
		return true
	})
}

// due reports whether the current set must be refreshed at now.
func (s *Store) due(now time.Time) bool {
	return s.ttl > 0 && !now.Before(s.next)
}

// read waits for the read in flight, or starts one, and returns its
// outcome; a caller whose ctx ends first gets a timeout, and the read
// goes on for the others (see [ReadTimeout]). A panic in the API goes on
// in the caller that started the read.
func (s *Store) read(ctx context.Context, want func(now time.Time) bool) (*Set, error) {
	var panicked any // set by the read when it is this caller's and panicked
	ch := s.reads.DoChan("", func() (any, error) {
		return s.fly(ctx, want, &panicked)
	})
	select {
	case r := <-ch:
		if panicked != nil {
			panic(panicked)
		}
		set, _ := r.Val.(*Set)
		return set, r.Err
	case <-ctx.Done():
		return nil, &LoadError{SecretID: s.id, Reason: ReasonTimeout, Err: ctx.Err()}
	}
}

// fly is the shared read. It first decides, with the lock held, whether
// to call Secrets Manager at all: not during the back-off after a failed
// first load, and, with a set at hand, only if want(now) says so (another
// read may have landed since the caller looked). A panic in the API lands
// as a failed read, so that the waiters are released, and is handed to
// the starter through *panicked.
func (s *Store) fly(ctx context.Context, want func(now time.Time) bool, panicked *any) (set *Set, err error) {
	s.mu.Lock()
	stale, now := s.set, s.now()
	switch {
	case stale == nil && now.Before(s.retryAt):
		err := &LoadError{SecretID: s.id, Reason: ReasonOf(s.lastErr),
			Err: fmt.Errorf("not read again until %s after %d failed loads: %w", s.retryAt.Sub(now).Round(time.Millisecond), s.failures, errors.Unwrap(s.lastErr))}
		s.mu.Unlock()
		return nil, err
	case stale != nil && !want(now):
		s.mu.Unlock()
		return stale, nil
	}
	s.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			*panicked = p
			s.log.LogAttrs(ctx, slog.LevelError, "secret load panicked", slog.String("secret_id", s.id))
			set, err = s.land(stale, nil, &LoadError{SecretID: s.id, Reason: ReasonUnreachable, Err: errors.New("load panicked")})
		}
	}()
	fresh, err := s.fetch(ctx, stale)
	return s.land(stale, fresh, err)
}

// land records the outcome of a read made with stale at hand: a failed
// first load starts or lengthens the back-off; a failed refresh keeps
// stale until the refresh retry interval has passed.
func (s *Store) land(stale, fresh *Set, err error) (*Set, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	switch {
	case err == nil:
		s.set, s.next = fresh, now.Add(s.ttl)
		s.failures, s.retryAt, s.lastErr = 0, time.Time{}, nil
		return fresh, nil
	case stale == nil:
		s.failures++
		s.retryAt = now.Add(min(FirstLoadBackoff<<min(s.failures-1, 5), MaxLoadBackoff))
		s.lastErr = err
		return nil, err
	}
	s.next = now.Add(min(s.refreshRetry, s.ttl))
	return stale, nil
}

// fetch makes one GetSecretValue call, reports it, and logs its outcome.
// The call keeps ctx's values (for the log lines) but not its deadline or
// cancellation: ctx is the context of the caller that started the read,
// which may give up long before the other callers waiting for the read.
func (s *Store) fetch(ctx context.Context, stale *Set) (*Set, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.readTimeout)
	defer cancel()
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
