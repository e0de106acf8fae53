package payjs

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// NewHTTPClient returns an HTTP client for a Lambda sandbox that calls
// one host: keep-alive connections reused across invocations, bounded
// dial and handshake times, TLS 1.2+ with certificates verified, HTTP/2
// where offered, and [Warm]'s connection handed to the first request. Its
// Transport is an *http.Transport; its TLSClientConfig may be adjusted
// (RootCAs, for instance) before the first request.
func NewHTTPClient() *http.Client {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone() // proxy from the environment, sane limits
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.IdleConnTimeout = 32, 16, 90*time.Second
	t.TLSHandshakeTimeout = 3 * time.Second
	t.ResponseHeaderTimeout = 0 // the per-close budget bounds every request
	t.ForceAttemptHTTP2 = true
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{} // InsecureSkipVerify stays false
	}
	t.TLSClientConfig.MinVersion = tls.VersionTLS12
	// The dialer makes the TLS handshakes, Warm's before the transport
	// sets up HTTP/2 on its first request: offer what it would offer.
	t.TLSClientConfig.NextProtos = []string{"h2", "http/1.1"}
	d := &dialer{t: t, net: net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.dial(ctx, network, addr, false)
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.dial(ctx, network, addr, true)
	}
	return &http.Client{
		Transport: t,
		// PAYJS answers directly; a redirect is not a close response.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialer makes the connections of a transport from NewHTTPClient. It
// exists for Warm: an http.Transport pools only connections it dialed, so
// Warm's connection waits here for the transport's next dial, which takes
// it if it is for the same address and closes it otherwise. The price:
// the dialer makes the TLS handshakes, as the transport would.
type dialer struct {
	t      *http.Transport
	net    net.Dialer
	mu     sync.Mutex
	parked net.Conn  // Warm's connection, until a dial takes it
	key    string    // what parked was dialed for
	until  time.Time // when parked is too old to hand out
}

// parkedFor is how long Warm's connection may wait: a server closes one
// that sends nothing (nginx after 60 s), and a dead one would cost the
// first close a failed attempt.
const parkedFor = 30 * time.Second

// warmKey marks Warm's dial; its *bool value is set once it parked.
type warmKey struct{}

func (d *dialer) dial(ctx context.Context, network, addr string, useTLS bool) (net.Conn, error) {
	key := fmt.Sprintf("%t %s %s", useTLS, network, addr)
	parked, warming := ctx.Value(warmKey{}).(*bool)
	d.mu.Lock()
	c, fits := d.parked, d.key == key && time.Now().Before(d.until) && !warming
	d.parked = nil
	d.mu.Unlock()
	if c != nil {
		if fits {
			return c, nil
		}
		_ = c.Close() // it will never be used
	}
	c, err := d.connect(ctx, network, addr, useTLS)
	if err == nil && warming {
		d.mu.Lock()
		old := d.parked // from a concurrent Warm
		d.parked, d.key, d.until, *parked = c, key, time.Now().Add(parkedFor), true
		d.mu.Unlock()
		if old != nil {
			_ = old.Close()
		}
	}
	return c, err
}

func (d *dialer) connect(ctx context.Context, network, addr string, useTLS bool) (net.Conn, error) {
	conn, err := d.net.DialContext(ctx, network, addr)
	if err != nil || !useTLS {
		return conn, err
	}
	cfg := d.t.TLSClientConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(d.t.TLSHandshakeTimeout, 10*time.Second))
	defer cancel()
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// Warm connects hc to baseURL ahead of the first close (DNS, TCP and, for
// https, the verified TLS handshake) and sends nothing: the connection
// waits in hc's transport for the next request, so that the first close
// after a cold start costs one round trip and no handshakes. Call it
// during init, alongside other work, with hc from [NewHTTPClient]. A
// connection older than 30 s is not used; through a proxy, Warm does nothing.
func Warm(ctx context.Context, hc *http.Client, baseURL string) error {
	if err := CheckBaseURL(baseURL); err != nil {
		return err
	}
	notOurs := &Error{Kind: KindInvalidInput, Msg: "warm-up needs an HTTP client from NewHTTPClient"}
	t, ok := hc.Transport.(*http.Transport)
	if !ok || t.DialContext == nil || t.DialTLSContext == nil {
		return notOurs
	}
	u, _ := url.Parse(baseURL) // CheckBaseURL parsed it
	if t.Proxy != nil {
		if p, err := t.Proxy(&http.Request{URL: u}); err != nil || p != nil {
			return nil // the transport would connect to the proxy
		}
	}
	dial, port := t.DialContext, cmp.Or(u.Port(), "80")
	if u.Scheme == "https" {
		dial, port = t.DialTLSContext, cmp.Or(u.Port(), "443")
	}
	parked := false
	c, err := dial(context.WithValue(ctx, warmKey{}, &parked), "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return &Error{Kind: KindUnavailable, Msg: "warm-up failed", Err: err}
	}
	if !parked {
		_ = c.Close()
		return notOurs
	}
	return nil
}
