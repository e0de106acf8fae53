package payjs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
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

const closePath = "/api/close"

// Client closes PAYJS orders for one merchant key. It is safe for
// concurrent use. Clients that share an [*http.Client] (see
// [NewHTTPClient] and [WithHTTPClient]) share its keep-alive connections,
// so one Client per merchant costs nothing extra.
type Client struct {
	key         string
	base        string // without trailing slash
	closeURL    string
	hc          *http.Client
	timeout     time.Duration
	maxAttempts int
	requireSign bool
	userAgent   string
	header      http.Header // of every close request; read-only
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

// WithTimeout sets the time budget of one Close, retries included
// (default [DefaultTimeout]). A context deadline that comes sooner wins.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRequireSignature makes a success answer without a "sign" field a
// [KindBadResponse] error instead of an unverified success.
func WithRequireSignature(require bool) Option { return func(c *Client) { c.requireSign = require } }

// WithMaxAttempts sets how many HTTP requests one Close may make for
// transient failures (default [DefaultMaxAttempts]; at least 1).
func WithMaxAttempts(n int) Option { return func(c *Client) { c.maxAttempts = n } }

// WithBackoff sets the first retry delay and its cap (defaults 100ms and
// 1s). The bound doubles with each attempt, up to the cap; each delay is
// drawn at random between half the bound and the bound, so that clients
// failing together do not retry together. A server's Retry-After, when
// longer, wins.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *Client) { c.backoffBase, c.backoffMax = base, maxDelay }
}

// WithUserAgent replaces the default User-Agent, "payjs-close/VERSION (+go)"
// (see [Version]).
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

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
		userAgent:   userAgent(),
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
	if c.maxAttempts < 1 {
		c.maxAttempts = 1
	}
	c.closeURL = c.base + closePath
	c.header = http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"},
		"Accept":       {"application/json"},
		"User-Agent":   {c.userAgent},
	}
	return c, nil
}

// CheckBaseURL reports whether u may serve as a PAYJS base URL: an
// absolute https:// URL, or http:// on a loopback host, without query,
// fragment or credentials.
func CheckBaseURL(u string) error {
	p, err := url.Parse(u)
	bad := func(why string) error {
		// Only scheme and host are quoted: whatever else the URL holds
		// (credentials, a query) may be secret.
		shown := "base URL"
		if err == nil && p.Host != "" {
			shown = fmt.Sprintf("base URL %q", p.Scheme+"://"+p.Host)
		}
		return &Error{Kind: KindInvalidInput, Msg: shown + " " + why}
	}
	if err != nil {
		return bad("is not a URL")
	}
	if p.Host == "" || p.User != nil || p.RawQuery != "" || p.Fragment != "" {
		return bad("must be scheme://host[:port][/path] without credentials, query or fragment")
	}
	switch p.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(p.Hostname()) {
			return nil
		}
		return bad("must use https:// (http:// is allowed on loopback hosts only)")
	}
	return bad("must use https://")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// NewHTTPClient returns an HTTP client tuned for a Lambda sandbox that
// calls one host: keep-alive connections reused across invocations,
// bounded dial and TLS handshake times, TLS 1.2 or later with
// certificate verification on.
func NewHTTPClient() *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone() // proxy from the environment, HTTP/2, sane limits
	} else {
		// Someone replaced http.DefaultTransport: start from scratch.
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 32
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 3 * time.Second
	t.ResponseHeaderTimeout = 0 // the per-close budget bounds every request
	t.ForceAttemptHTTP2 = true
	// http.DefaultTransport has no TLSClientConfig of its own, so one is
	// made here; InsecureSkipVerify stays false.
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = tls.VersionTLS12
	return &http.Client{
		Transport: t,
		// PAYJS answers directly; a redirect is not a close response.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Warm opens a keep-alive connection to baseURL ahead of the first close
// (DNS, TCP and, for https, TLS), by sending "HEAD /" and discarding the
// answer, whatever its status. Call it during init, alongside other work,
// so that the first close reuses a ready connection.
func Warm(ctx context.Context, hc *http.Client, baseURL string) error {
	if err := CheckBaseURL(baseURL); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, strings.TrimRight(baseURL, "/")+"/", nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent())
	resp, err := hc.Do(req)
	if err != nil {
		return &Error{Kind: KindUnavailable, Msg: "warm-up failed", Err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	return resp.Body.Close()
}

// Result is PAYJS's answer to a close.
type Result struct {
	// ReturnCode is PAYJS's return_code: 1 success, 0 failure.
	ReturnCode int
	// ReturnMsg is PAYJS's return_msg, such as "SUCCESS" or a Chinese reason.
	ReturnMsg string
	// PayjsOrderID is the order id PAYJS answered for.
	PayjsOrderID string
	// Verified reports whether the answer carried a signature that
	// verified under the merchant key.
	Verified bool
	// Attempts is the number of HTTP requests made.
	Attempts int
}

// Close asks PAYJS to close the order payjsOrderID.
//
// It returns a Result on success (return_code 1, signature verified or,
// unless [WithRequireSignature], absent). Every failure is an [*Error]:
// [KindInvalidInput] before any request, [KindRejected] with the Result
// when PAYJS answers return_code 0, and [KindBadResponse],
// [KindUnavailable] or [KindTimeout] otherwise. Connection failures and
// HTTP 5xx or 429 are retried with exponential backoff and jitter while
// the time budget and ctx allow; nothing else is.
func (c *Client) Close(ctx context.Context, payjsOrderID string) (*Result, error) {
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

	sign := closeSign(payjsOrderID, c.key)
	body := "payjs_order_id=" + payjsOrderID + "&sign=" + sign

	var last *Error
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
		last = err
		wait := c.backoff(attempt)
		if retryAfter > wait {
			wait = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			// Waiting would outlive the budget: give up now, while the
			// caller still has time to answer.
			return nil, last
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			e := ctxError(ctx)
			e.Attempts = attempt
			return nil, e
		case <-t.C:
		}
	}
}

// backoff returns the delay before attempt+1: full jitter below
// base*2^(attempt-1), capped.
func (c *Client) backoff(attempt int) time.Duration {
	bound := c.backoffBase << (attempt - 1)
	if bound > c.backoffMax || bound <= 0 {
		bound = c.backoffMax
	}
	if bound <= 0 {
		return 0
	}
	return bound/2 + rand.N(bound/2+1) //nolint:gosec // jitter spreads retries; it needs no unpredictability
}

// do makes one HTTP request. The returned duration is the server's
// Retry-After, when it sent one with a 429 or 5xx.
func (c *Client) do(ctx context.Context, body, orderID string) (*Result, *Error, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.closeURL, strings.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: KindInvalidInput, Msg: "cannot build request", Err: err}, 0
	}
	// The transport only reads the headers, so every request shares
	// one map; http.Client may edit them (redirects), so it gets a copy.
	req.Header = c.header

	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, transportError(ctx, err), 0
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		drain(resp.Body)
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

// drain reads a little of an unwanted body so the connection can be
// reused, without reading an unbounded amount.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 4<<10)) }

func transportError(ctx context.Context, err error) *Error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return ctxError(ctx)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Msg: "no answer within the time budget", Err: err}
	}
	if badCertificate(err) {
		// Not transient: asking again within this close would only meet
		// the same certificate. The caller may still retry later.
		return &Error{Kind: KindUnavailable, Msg: "PAYJS's TLS certificate does not verify", Err: err, final: true}
	}
	return &Error{Kind: KindUnavailable, Msg: "cannot reach PAYJS", Err: err}
}

// badCertificate reports whether err is a failed TLS certificate check.
func badCertificate(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// ctxError is the error of a close whose context ended: canceled by the
// caller (unavailable: nobody waits for the answer any more) or past its
// deadline (timeout).
func ctxError(ctx context.Context) *Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return &Error{Kind: KindUnavailable, Msg: "close canceled", Err: context.Canceled}
	}
	return &Error{Kind: KindTimeout, Msg: "no answer within the time budget", Err: context.DeadlineExceeded}
}

// roundTrip sends req through the client's transport directly. A close
// needs none of http.Client's extras (redirects are refused, no cookie
// jar, the budget is the context's deadline), and skipping them saves
// their per-request allocations. A client with a Jar or a Timeout gets
// its http.Client path.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	if c.hc.Jar != nil || c.hc.Timeout != 0 {
		req.Header = req.Header.Clone()
		return c.hc.Do(req)
	}
	t := c.hc.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return t.RoundTrip(req)
}

// userAgent names the product and its version, as PAYJS's logs see us.
func userAgent() string { return "payjs-close/" + Version + " (+go)" }

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
