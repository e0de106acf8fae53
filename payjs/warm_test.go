package payjs_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// After Warm, the first close goes out on Warm's connection, and Warm
// itself sent nothing: the simulator saw one request on one connection.
func TestWarmConnectsAndSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(...payjstest.Option) *payjstest.Server
	}{
		{"http", payjstest.NewServer},
		{"https", payjstest.NewTLSServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer // one line per request, whatever its path
			srv := tc.start(payjstest.WithDemoData(), payjstest.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
			t.Cleanup(srv.Close)
			if err := payjs.Warm(context.Background(), srv.Client(), srv.URL+"/"); err != nil {
				t.Fatalf("Warm: %v", err)
			}
			res, err := newClient(t, srv).CloseOrder(context.Background(), unpaid1)
			if err != nil || !res.Verified || res.Attempts != 1 {
				t.Fatalf("CloseOrder after Warm = %+v, %v", res, err)
			}
			if conns, reqs := srv.Connections(), srv.Requests(); conns != 1 || reqs != 1 {
				t.Errorf("Warm and a close: %d connections, %d close requests; want 1 and 1", conns, reqs)
			}
			srv.Close() // every request has been logged
			if n := strings.Count(log.String(), "msg=request"); n != 1 {
				t.Errorf("the simulator saw %d requests, want only the close:\n%s", n, &log)
			}
		})
	}
}

// A failed or refused warm-up reports why and leaves the client as it was.
func TestWarmErrors(t *testing.T) {
	srv := newSim(t)
	tlsSrv := payjstest.NewTLSServer()
	t.Cleanup(tlsSrv.Close)
	dead := payjstest.NewServer()
	dead.Close() // nothing listens there any more

	tests := []struct {
		name string
		hc   *http.Client
		url  string
		kind payjs.Kind
		want string // in the message
	}{
		{"plain http off loopback", srv.Client(), "http://payjs.cn", payjs.KindInvalidInput, "https"},
		{"nothing listens", srv.Client(), dead.URL, payjs.KindUnavailable, "refused"},
		{"certificate not trusted", payjs.NewHTTPClient(), tlsSrv.URL, payjs.KindUnavailable, "certificate"},
		{"client without a transport", &http.Client{}, srv.URL, payjs.KindInvalidInput, "NewHTTPClient"},
		{"transport without dialers", &http.Client{Transport: &http.Transport{}}, srv.URL, payjs.KindInvalidInput, "NewHTTPClient"},
		{"transport with other dialers", &http.Client{Transport: &http.Transport{
			DialContext: (&net.Dialer{}).DialContext, DialTLSContext: (&tls.Dialer{}).DialContext,
		}}, srv.URL, payjs.KindInvalidInput, "NewHTTPClient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := payjs.Warm(context.Background(), tc.hc, tc.url)
			if payjs.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Warm = %v, want %s mentioning %q", err, tc.kind, tc.want)
			}
		})
	}
	var cv *tls.CertificateVerificationError
	if err := payjs.Warm(context.Background(), payjs.NewHTTPClient(), tlsSrv.URL); !errors.As(err, &cv) {
		t.Errorf("Warm with an untrusted certificate = %v, want a *tls.CertificateVerificationError", err)
	}

	// The client whose warm-ups failed still closes, on one connection.
	before := srv.Connections()
	if _, err := newClient(t, srv).CloseOrder(context.Background(), unpaid1); err != nil {
		t.Fatalf("CloseOrder after failed warm-ups: %v", err)
	}
	if got := srv.Connections() - before; got > 1 {
		t.Errorf("the close opened %d connections, want at most 1", got)
	}
}

// Warm's connection serves only the address it was made for: a request
// elsewhere dials its own and drops it.
func TestWarmConnectionForAnotherAddress(t *testing.T) {
	warmed, other := newSim(t), newSim(t)
	hc := payjs.NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	if err := payjs.Warm(context.Background(), hc, warmed.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, other, payjs.WithHTTPClient(hc)).CloseOrder(context.Background(), unpaid1); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, warmed, payjs.WithHTTPClient(hc)).CloseOrder(context.Background(), unpaid1); err != nil {
		t.Fatal(err)
	}
	if got := other.Connections(); got != 1 {
		t.Errorf("the other server saw %d connections, want 1", got)
	}
	if got := warmed.Connections(); got != 2 {
		t.Errorf("the warmed server saw %d connections, want 2: Warm's, dropped, and the close's own", got)
	}
}

// Warm negotiates HTTP/2 as the transport would, and the first request
// runs over that connection.
func TestWarmHTTP2(t *testing.T) {
	var conns atomic.Int64
	protos := make(chan string, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		_, _ = io.WriteString(w, `{"return_code":1,"return_msg":"SUCCESS"}`)
	}))
	ts.EnableHTTP2 = true
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	hc := payjs.NewHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("NewHTTPClient's transport is a %T", hc.Transport)
	}
	tr.TLSClientConfig.RootCAs = pool

	if err := payjs.Warm(context.Background(), hc, ts.URL); err != nil {
		t.Fatalf("Warm: %v", err)
	}
	c, err := payjs.NewClient("k", payjs.WithBaseURL(ts.URL), payjs.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CloseOrder(context.Background(), unpaid1); err != nil {
		t.Fatal(err)
	}
	if p := <-protos; p != "HTTP/2.0" || conns.Load() != 1 {
		t.Errorf("the close went over %s on %d connections, want HTTP/2.0 on 1", p, conns.Load())
	}
}

// Warm-ups and closes may run at once (run with -race).
func TestWarmConcurrentWithCloses(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for n := 1; n <= 4; n++ {
		wg.Go(func() { errs <- payjs.Warm(context.Background(), srv.Client(), srv.URL) })
		wg.Go(func() {
			_, err := c.CloseOrder(context.Background(), payjstest.DemoOrderUnpaid(n))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
