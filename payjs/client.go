package payjs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the payjs-close version named in the User-Agent header. The
// build may override it with -ldflags "-X .../payjs.Version=...".
var Version = "0.1.0"

// Defaults of a [Client].
const (
	DefaultBaseURL     = "https://payjs.cn"
	DefaultTimeout     = 5 * time.Second
	DefaultMaxAttempts = 3
	// MaxResponseBytes caps how much of a PAYJS answer is read. A close
	// response is under 200 bytes; anything near the cap is not PAYJS.
	MaxResponseBytes = 64 << 10
)

// Client closes PAYJS orders for one merchant key. It is safe for
// concurrent use. Clients that share an [*http.Client] (see
// [NewHTTPClient] and [WithHTTPClient]) share its keep-alive connections,
// so one Client per merchant costs nothing extra.
type Client struct {
	key         string
	base        string // without trailing slash
	hc          *http.Client
	timeout     time.Duration
	maxAttempts int
	requireSign bool
	backoffBase time.Duration
	backoffMax  time.Duration
}

// Option configures a [Client].
type Option func(*Client)

// WithBaseURL sets the PAYJS endpoint base (default [DefaultBaseURL]).
// It must be https://, except on a loopback host (127.0.0.0/8, ::1,
// localhost), where http:// is allowed for local runs and tests.
func WithBaseURL(u string) Option { return func(c *Client) { c.base = strings.TrimRight(u, "/") } }

// WithHTTPClient sets the HTTP client, normally one from [NewHTTPClient]
// shared by every Client of the process. TLS verification is never turned
// off by this package; a client that does so is the caller's doing.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout sets the time budget of one CloseOrder, retries included
// (default [DefaultTimeout]). A context deadline that comes sooner wins.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRequireSignature makes a success answer without a "sign" field a
// [KindBadResponse] error instead of an unverified success.
func WithRequireSignature(require bool) Option { return func(c *Client) { c.requireSign = require } }

// WithMaxAttempts sets how many HTTP requests one CloseOrder may make for
// transient failures (default [DefaultMaxAttempts]; at least 1).
func WithMaxAttempts(n int) Option { return func(c *Client) { c.maxAttempts = n } }

// WithBackoff sets the first retry delay and its cap (defaults 100ms and
// 1s). The bound doubles with each attempt; each delay is drawn between
// half the bound and the bound, so that clients failing together do not
// retry together. A longer Retry-After from the server wins.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *Client) { c.backoffBase, c.backoffMax = base, maxDelay }
}

// NewClient returns a Client that signs with key. It refuses a key that
// PAYJS could never verify (see [ValidateKey]) and a base URL that is not
// https:// (or http:// on loopback). Errors are of type [*Error] with
// [KindInvalidInput] and never contain the key.
func NewClient(key string, opts ...Option) (*Client, error) {
	c := &Client{
		key:         key,
		base:        DefaultBaseURL,
		timeout:     DefaultTimeout,
		maxAttempts: DefaultMaxAttempts,
		backoffBase: 100 * time.Millisecond,
		backoffMax:  time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := CheckBaseURL(c.base); err != nil {
		return nil, err
	}
	if c.hc == nil {
		c.hc = NewHTTPClient()
	}
	if c.timeout <= 0 {
		return nil, &Error{Kind: KindInvalidInput, Msg: "timeout must be positive"}
	}
	c.maxAttempts = max(c.maxAttempts, 1)
	return c, nil
}

// CheckBaseURL reports whether u may serve as a PAYJS base URL: an
// absolute https:// URL, or http:// on a loopback host, without query,
// fragment or credentials.
func CheckBaseURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		// Nothing of u is quoted: credentials or a query may be secret.
		return &Error{Kind: KindInvalidInput, Msg: "base URL must be scheme://host[:port][/path] without credentials, query or fragment"}
	}
	loopback := strings.EqualFold(p.Hostname(), "localhost") || net.ParseIP(p.Hostname()).IsLoopback()
	if p.Scheme == "https" || p.Scheme == "http" && loopback {
		return nil
	}
	return &Error{Kind: KindInvalidInput, Msg: fmt.Sprintf("base URL %q must use https:// (http:// on a loopback host only)", p.Scheme+"://"+p.Host)}
}

// Result is PAYJS's answer to a close.
type Result struct {
	// ReturnCode is PAYJS's return_code: 1 success, 0 failure.
	ReturnCode int
	// ReturnMsg is PAYJS's message, such as "SUCCESS" or a Chinese
	// reason: its return_msg, else its msg, cut to [MaxMessageBytes]
	// (the signature is verified over the whole message first).
	ReturnMsg string
	// PayjsOrderID is the order id PAYJS answered for.
	PayjsOrderID string
	// Verified reports whether the answer's signature verified.
	Verified bool
	// Attempts is the number of HTTP requests made.
	Attempts int
}

// CloseOrder asks PAYJS to close the order payjsOrderID. It returns a
// Result on success (return_code 1, signature verified or, unless
// [WithRequireSignature], absent). Every failure is an [*Error]:
// [KindInvalidInput] before any request; a Kind from [Refusals], with the
// Result, for a return_code 0 answer; otherwise [KindBadResponse],
// [KindUnavailable] or [KindTimeout]. Only connection failures and HTTP
// 5xx or 429 are retried, while the time budget and ctx allow.
func (c *Client) CloseOrder(ctx context.Context, payjsOrderID string) (*Result, error) {
	if !ValidOrderID(payjsOrderID) {
		return nil, &Error{Kind: KindInvalidInput, Msg: "payjs_order_id must be 1 to 32 characters of [0-9A-Za-z]"}
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.timeout {
		// The caller's deadline is later than the budget (or absent):
		// the budget bounds this close. Otherwise the caller's sooner
		// deadline already does, and a second timer would be waste.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}

	body := url.Values{
		"payjs_order_id": {payjsOrderID},
		"sign":           {Sign(map[string]string{"payjs_order_id": payjsOrderID}, c.key)},
	}.Encode()

	for attempt := 1; ; attempt++ {
		res, err, retryAfter := c.do(ctx, body, payjsOrderID)
		if err == nil {
			res.Attempts = attempt
			return res, nil
		}
		err.Attempts = attempt
		if err.Result != nil {
			err.Result.Attempts = attempt
		}
		if err.Kind != KindUnavailable || err.final || attempt >= c.maxAttempts {
			return nil, err
		}
		wait := max(c.backoff(attempt), retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			// Waiting would outlive the budget: give up now, while the
			// caller still has time to answer.
			return nil, err
		}
		select {
		case <-ctx.Done():
			e := ctxError(ctx)
			e.Attempts = attempt
			return nil, e
		case <-time.After(wait):
		}
	}
}

// backoff returns the delay before attempt+1: full jitter below
// base*2^(attempt-1), capped.
func (c *Client) backoff(attempt int) time.Duration {
	bound := c.backoffBase << (attempt - 1)
	if bound > c.backoffMax || bound <= 0 {
		bound = max(c.backoffMax, 0)
	}
	return bound/2 + rand.N(bound/2+1) //nolint:gosec // jitter spreads retries; it needs no unpredictability
}

// do makes one HTTP request. The returned duration is the server's
// Retry-After, when it sent one with a 429 or 5xx.
func (c *Client) do(ctx context.Context, body, orderID string) (*Result, *Error, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/close", strings.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: KindInvalidInput, Msg: "cannot build request", Err: err}, 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "payjs-close/"+Version+" (+go)")

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, err), 0
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		// Read a little, so that the connection can serve the retry.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("PAYJS answered HTTP %d", resp.StatusCode)},
			retryAfter(resp.Header.Get("Retry-After"))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, transportError(ctx, err), 0
		}
		return nil, &Error{Kind: KindBadResponse, Msg: "response body cut short", Err: err}, 0
	}
	if len(raw) > MaxResponseBytes {
		return nil, &Error{Kind: KindBadResponse, Msg: fmt.Sprintf("response body larger than %d bytes", MaxResponseBytes)}, 0
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Kind: KindBadResponse, Msg: fmt.Sprintf("PAYJS answered HTTP %d", resp.StatusCode)}, 0
	}
	res, perr := c.parse(raw, orderID)
	return res, perr, 0
}

func transportError(ctx context.Context, err error) *Error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return ctxError(ctx)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Msg: "no answer within the time budget", Err: err}
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		// Not transient: asking again within this close would only meet
		// the same certificate. The caller may still retry later.
		return &Error{Kind: KindUnavailable, Msg: "PAYJS's TLS certificate does not verify", Err: err, final: true}
	}
	return &Error{Kind: KindUnavailable, Msg: "cannot reach PAYJS", Err: err}
}

// ctxError is the error of a close whose context ended: canceled (nobody
// waits for the answer any more) or past its deadline.
func ctxError(ctx context.Context) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Kind: KindUnavailable, Msg: "close canceled", Err: context.Canceled}
	}
	return &Error{Kind: KindTimeout, Msg: "no answer within the time budget", Err: context.DeadlineExceeded}
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
