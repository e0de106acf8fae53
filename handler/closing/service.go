// Package closing is payjs-close's core: it closes PAYJS orders, now or
// later, and knows nothing of Lambda. It holds the request and its
// validation, the normalized [Result], the error codes and their meaning
// (HTTP status, status, retryability) in one table, and the [Service]
// that closes an order, schedules its close or cancels it, through the
// small interfaces it consumes: [Keys] (a merchant's key), [Closer]
// (PAYJS), [Scheduler] (EventBridge Scheduler) and [Observer] (logs and
// metrics). Package handler adapts Lambda's events to it; handler/secret
// and handler/schedule implement its interfaces.
//
//	svc := closing.New(closing.Config{
//		Keys: store, // *secret.Store
//		NewCloser: func(key string) (closing.Closer, error) {
//			return payjs.NewClient(key)
//		},
//	})
//	res, err := svc.Do(ctx, closing.Request{PayjsOrderID: "2026112500000000000000000001"})
//	// res is the answer, ok or not; err, when set, is why it failed (for the log)
package closing

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
)

// Keys gives the merchants' PAYJS keys. *secret.Store is the production
// one. Its errors match [ErrKeysUnavailable] (no key could be loaded),
// [ErrMchIDRequired] or [ErrUnknownMerchant] through errors.Is.
type Keys interface {
	// Key returns the merchant that mchid names ("" names the only
	// merchant) and its key.
	Key(ctx context.Context, mchid string) (merchant, key string, err error)
	// Rekey reads the keys again even inside their TTL, because PAYJS
	// rejected a signature made with seenKey, and returns mchid's
	// merchant and key as read. It answers a key newer than seenKey when
	// it has one, waits for a read in flight rather than answer the key
	// that read replaces, and may answer seenKey when it read it moments
	// ago.
	Rekey(ctx context.Context, mchid, seenKey string) (merchant, key string, err error)
}

// Closer closes one PAYJS order with one merchant's key. *payjs.Client is
// the production one.
type Closer interface {
	CloseOrder(ctx context.Context, payjsOrderID string) (*payjs.Result, error)
}

// Observer hears what the Service does besides answering: a key that
// PAYJS rejects, a key rotation healed, a schedule made or deleted.
// *handler.Observer logs and counts them.
type Observer interface {
	// KeyMismatch: PAYJS rejected the signature even after the keys
	// were read again.
	KeyMismatch(ctx context.Context, req Request)
	// KeyRotationHealed: PAYJS rejected the signature of the key in use
	// and took the key read again.
	KeyRotationHealed(ctx context.Context, req Request)
	// Scheduled: a schedule's "create", "reschedule" or "cancel"; at is
	// zero for a cancel.
	Scheduled(ctx context.Context, action string, req Request, at time.Time)
}

// Config is what a Service needs from outside.
type Config struct {
	// Keys gives the merchant keys.
	Keys Keys
	// NewCloser builds the Closer for one merchant key. It is called
	// once per merchant and key, never per request.
	NewCloser func(key string) (Closer, error)
	// Scheduler creates and deletes scheduled closes; nil turns
	// scheduling off (a request with close_at is then invalid).
	Scheduler Scheduler
	// Observer hears key mismatches, rotations and schedules; nil
	// discards them.
	Observer Observer
	// Budget bounds one request, key lookup and PAYJS retries included
	// (default payjs.DefaultTimeout).
	Budget time.Duration
	// Now is the clock for scheduled closes (default time.Now).
	Now func() time.Time
	// CloseNowWithin is how soon a requested close time counts as now
	// (default 60s: a schedule could not fire much sooner).
	CloseNowWithin time.Duration
}

// Service closes orders, schedules their close and cancels it.
type Service struct {
	cfg Config

	mu      sync.Mutex
	closers map[string]keyedCloser // by mchid
}

// keyedCloser is a merchant's Closer and the key it signs with.
type keyedCloser struct {
	mchid, key string
	c          Closer
}

// reserve is the time kept back from the caller's deadline to shape and
// return the answer after a request gives up.
const reserve = 200 * time.Millisecond

// New returns a Service.
func New(c Config) *Service {
	if c.Observer == nil {
		c.Observer = discard{}
	}
	c.Budget = cmp.Or(c.Budget, payjs.DefaultTimeout)
	c.CloseNowWithin = cmp.Or(c.CloseNowWithin, time.Minute)
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{cfg: c, closers: make(map[string]keyedCloser)}
}

// Do validates req and closes the order, or schedules or cancels its
// close, within the request's budget. The Result is the answer, ok or
// not; err is why it failed, its cause for the log, never for the caller.
func (s *Service) Do(ctx context.Context, req Request) (Result, error) {
	res, err := s.do(ctx, req)
	if err != nil {
		partial := res // how many attempts a failed close made, and whether PAYJS signed its answer
		res = Failed(err)
		res.Attempts, res.Verified, res.MchID = partial.Attempts, partial.Verified, partial.MchID
	}
	return res, err
}

func (s *Service) do(ctx context.Context, req Request) (Result, error) {
	at, err := req.validate(s.cfg.Now(), s.cfg.CloseNowWithin)
	if err != nil {
		return Result{}, err
	}
	// One deadline bounds the key load too: a first load from a Secrets
	// Manager that hangs must end in config_unavailable before the
	// Lambda deadline, not in a timed-out invocation.
	dl := time.Now().Add(s.cfg.Budget)
	if ldl, ok := ctx.Deadline(); ok && ldl.Add(-reserve).Before(dl) {
		dl = ldl.Add(-reserve)
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	switch {
	case (req.Cancel || !at.IsZero()) && s.cfg.Scheduler == nil:
		return Result{}, Errorf(CodeInvalidRequest, "scheduled closes are off: set PAYJS_SCHEDULE_GROUP to use close_at, close_after and cancel")
	case req.Cancel:
		return s.cancel(ctx, req)
	case !at.IsZero():
		return s.schedule(ctx, req, at)
	}
	return s.closeOrder(ctx, req)
}

// closeOrder asks PAYJS to close the order. When PAYJS rejects the
// signature, the key may have been rotated: the keys are read again (one
// read shared by the closes of the sandbox that saw the same key) and, if
// they hold another key, the close is tried once more with it. Only a
// mismatch that outlives the refresh reaches Observer.KeyMismatch, and
// only a retry PAYJS answered reaches Observer.KeyRotationHealed.
func (s *Service) closeOrder(ctx context.Context, req Request) (res Result, err error) {
	kc, err := s.closer(ctx, req, s.cfg.Keys.Key)
	if err != nil {
		return Result{}, err
	}
	defer func() { res.MchID = kc.mchid }()
	pr, err := kc.c.CloseOrder(ctx, req.PayjsOrderID)
	if payjs.KindOf(err) != payjs.KindKeyMismatch {
		return fromPayjs(pr, err)
	}
	first, err := fromPayjs(pr, err)
	fresh, ferr := s.closer(ctx, req, func(ctx context.Context, mchid string) (string, string, error) {
		return s.cfg.Keys.Rekey(ctx, mchid, kc.key)
	})
	if ferr != nil || fresh.key == kc.key {
		s.cfg.Observer.KeyMismatch(ctx, req)
		return first, err // the keys hold the same key: asking again cannot help
	}
	res, err = fromPayjs(fresh.c.CloseOrder(ctx, req.PayjsOrderID))
	res.Attempts += first.Attempts
	switch {
	case ErrorCode(err) == CodeKeyMismatch:
		s.cfg.Observer.KeyMismatch(ctx, req)
	case err == nil || res.Upstream != nil:
		// PAYJS answered the new key's request: it took the signature.
		// A retry it never answered proves nothing either way, and the
		// close is retried later.
		s.cfg.Observer.KeyRotationHealed(ctx, req)
	}
	return res, err
}

// closer returns the Closer for req's merchant with the key that key
// returns, building a client only for a key it has not seen (cold start,
// or a refresh that found a new key).
func (s *Service) closer(ctx context.Context, req Request, key func(ctx context.Context, mchid string) (string, string, error)) (keyedCloser, error) {
	mchid, k, err := key(ctx, req.MchID)
	if err != nil {
		return keyedCloser{}, dependencyError(err, req, keysUnavailable)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kc, ok := s.closers[mchid]; ok && kc.key == k {
		return kc, nil
	}
	c, err := s.cfg.NewCloser(k)
	if err != nil {
		return keyedCloser{}, &Error{Code: CodeConfigUnavailable, Message: "the PAYJS key is unusable; fix the secret", Cause: err}
	}
	kc := keyedCloser{mchid: mchid, key: k, c: c}
	s.closers[mchid] = kc
	return kc, nil
}

// discard is the Observer of a Service given none.
type discard struct{}

func (discard) KeyMismatch(context.Context, Request)                  {}
func (discard) KeyRotationHealed(context.Context, Request)            {}
func (discard) Scheduled(context.Context, string, Request, time.Time) {}
