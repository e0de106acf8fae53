// Package payjstest runs a PAYJS look-alike on loopback, for tests, local
// runs and benchmarks, in the spirit of net/http/httptest.
//
// A [Server] holds merchants (mchid and key) and orders, and answers
// POST /api/close as PAYJS does: it looks the order up, verifies the
// request's signature under the order's merchant key, and answers
// return_code 1 "SUCCESS", signed, or return_code 0 with PAYJS's Chinese
// reason (see [MsgBadSign] and the other Msg constants), which
// [payjs.Refusals] classifies. Closing an unpaid order closes it. HEAD and
// GET "/" answer 200, for health checks.
//
// [Server.Inject] makes the next requests misbehave (latency, HTTP 5xx or
// 429, HTML, invalid JSON, truncated or oversized bodies, wrong or missing
// signatures, dropped connections), before PAYJS handles them or, with
// [Fault.AfterClose], after; [Server.Requests], [Server.Connections] and
// [Server.PeakInFlight] count what clients did.
//
//	srv := payjstest.NewServer()
//	defer srv.Close()
//	srv.AddMerchant("1528140051", "merchant-key")
//	srv.AddOrder(payjstest.Order{ID: "2026112500000000000000000001", MchID: "1528140051"})
//	c, _ := payjs.NewClient("merchant-key", payjs.WithBaseURL(srv.URL))
//	res, err := c.CloseOrder(ctx, "2026112500000000000000000001")
//
// Every method of a Server is safe for concurrent use, including while
// requests are being served.
package payjstest

import (
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
)

// Server is a running PAYJS simulator. Create it with [NewServer] or
// [NewTLSServer] and stop it with [Server.Close].
type Server struct {
	// URL is the base URL of the simulator, "http://127.0.0.1:PORT"
	// ("https://" for NewTLSServer), without a trailing slash: the value
	// for [payjs.WithBaseURL].
	URL string

	ts     *httptest.Server
	hc     *http.Client
	now    func() time.Time
	logger *slog.Logger
	done   chan struct{} // closed by Close: ends injected delays
	once   sync.Once

	requests    atomic.Int64
	connections atomic.Int64
	inFlight    atomic.Int64
	peak        atomic.Int64 // most requests in flight at once

	mu        sync.Mutex
	merchants map[string]string // mchid -> key, as the merchant holds it
	orders    map[string]*Order
	faults    []Fault
	outcomes  map[Outcome]int
}

// Option configures a Server at creation.
type Option func(*config)

type config struct {
	listener net.Listener
	now      func() time.Time
	logger   *slog.Logger
	demo     bool
}

// WithListener makes the server accept connections on ln instead of a new
// listener on 127.0.0.1 with a free port. The standalone simulator uses it
// to serve a fixed address. The server closes ln.
func WithListener(ln net.Listener) Option { return func(c *config) { c.listener = ln } }

// WithClock replaces time.Now as the simulator's clock: it decides which
// orders are older than [CloseWindow] and when orders without a Created
// time were created.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithLogger logs one line per request (method, path, order id, outcome,
// HTTP status, injected fault, duration) to l. Signatures are never
// logged. Without it the server logs nothing.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDemoData seeds the server with the demo merchant and orders (see
// [Server.AddDemoData]) before it accepts its first request.
func WithDemoData() Option { return func(c *config) { c.demo = true } }

// NewServer starts and returns a simulator serving plain HTTP on
// 127.0.0.1. The caller should call Close when finished. Like
// httptest.NewServer, it panics if it cannot listen.
func NewServer(opts ...Option) *Server { return start(false, opts) }

// NewTLSServer starts and returns a simulator serving HTTPS on 127.0.0.1
// with a self-signed certificate; [Server.Client] trusts it.
func NewTLSServer(opts ...Option) *Server { return start(true, opts) }

func start(useTLS bool, opts []Option) *Server {
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		now:       cfg.now,
		logger:    cfg.logger,
		done:      make(chan struct{}),
		merchants: make(map[string]string),
		orders:    make(map[string]*Order),
		outcomes:  make(map[Outcome]int),
	}
	if cfg.demo {
		s.AddDemoData()
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/api/close", s.serveClose)
	mux.HandleFunc("/", s.serveRoot)

	s.ts = httptest.NewUnstartedServer(mux)
	if cfg.listener != nil {
		_ = s.ts.Listener.Close()
		s.ts.Listener = cfg.listener
	}
	s.ts.Config.ReadHeaderTimeout = 10 * time.Second
	s.ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.connections.Add(1)
		}
	}
	// Aborted connections are part of the simulator's job; net/http's
	// complaints about them are noise.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if s.logger != nil {
		s.ts.Config.ErrorLog = slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)
	}

	s.hc = payjs.NewHTTPClient()
	if useTLS {
		s.ts.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(s.ts.Certificate())
		tr, ok := s.hc.Transport.(*http.Transport)
		if !ok {
			panic("payjstest: payjs.NewHTTPClient has no *http.Transport")
		}
		tr.TLSClientConfig.RootCAs = pool
	} else {
		s.ts.Start()
	}
	s.URL = s.ts.URL
	return s
}

// Close shuts the server down and blocks until every outstanding request
// has completed. Injected delays end early. Calling Close again does
// nothing.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.ts.Close()
		s.hc.CloseIdleConnections()
	})
}

// Client returns an HTTP client for the server, built by
// [payjs.NewHTTPClient] (certificate verification on) and, for a TLS
// server, trusting the server's certificate. Its idle connections are
// closed by Close.
func (s *Server) Client() *http.Client { return s.hc }

// Requests returns how many requests reached /api/close, whatever their
// method, outcome or injected fault.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// InFlight returns how many close requests the server is serving now
// (an injected Delay included).
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// PeakInFlight returns the most close requests the server served at once
// since it started or since [Server.ResetPeakInFlight]: how hard a client
// hit it, for tests of a concurrency bound.
func (s *Server) PeakInFlight() int { return int(s.peak.Load()) }

// ResetPeakInFlight starts a new measure of [Server.PeakInFlight] from the
// requests in flight now.
func (s *Server) ResetPeakInFlight() { s.peak.Store(s.inFlight.Load()) }

// enter counts a close request in flight, and the peak; the caller calls
// the function it returns when the request is done.
func (s *Server) enter() (leave func()) {
	n := s.inFlight.Add(1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { s.inFlight.Add(-1) }
}

// Connections returns how many TCP connections clients opened to the
// server. A client that reuses its keep-alive connection opens one.
func (s *Server) Connections() int { return int(s.connections.Load()) }

// Outcomes returns how many close requests ended with each outcome.
func (s *Server) Outcomes() map[Outcome]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.outcomes)
}

// AddMerchant adds a merchant, or replaces its key. The key is what the
// merchant holds; like PAYJS, the server URL-decodes it before signing
// (so that a key holding "+" or "%" never verifies a client's signature).
func (s *Server) AddMerchant(mchid, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.merchants[mchid] = key
}

// AddOrder adds an order, or replaces the order with the same ID. A zero
// Created is the server clock's current time. An order whose merchant
// was never added is answered as unknown.
func (s *Server) AddOrder(o Order) {
	if o.Created.IsZero() {
		o.Created = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = &o
}

// Order returns the order id as it stands now.
func (s *Server) Order(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Orders returns every order, sorted by ID.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.orders))
	for _, id := range slices.Sorted(maps.Keys(s.orders)) {
		out = append(out, *s.orders[id])
	}
	return out
}

// AddDemoData adds the demo merchant [DemoMchID] with key [DemoKey] and
// the orders of [DemoOrders], created relative to the server's clock.
// Orders already present with those IDs are reset.
func (s *Server) AddDemoData() {
	s.AddMerchant(DemoMchID, DemoKey)
	for _, o := range DemoOrders(s.now()) {
		s.AddOrder(o)
	}
}

// Inject queues a fault. Each request to /api/close takes one unit of the
// fault at the head of the queue: a fault with Count n affects the next n
// requests, then the next fault in the queue (if any) takes over. A
// fault with Count [Forever] stays at the head until [Server.ClearFaults].
// Inject panics on an unknown Kind.
func (s *Server) Inject(f Fault) {
	if f.Kind < FaultLatency || f.Kind > FaultBody {
		panic("payjstest: Inject: unknown FaultKind")
	}
	switch {
	case f.Count < 0:
		f.Count = Forever
	case f.Count == 0:
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes every queued fault: the next requests are answered
// normally.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault consumes one unit of the fault at the head of the queue.
func (s *Server) takeFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	if f.Count != Forever {
		s.faults[0].Count--
		if s.faults[0].Count == 0 {
			s.faults = s.faults[1:]
		}
	}
	return f, true
}

// serveRoot answers "/" (HEAD or GET, for health checks) and 404s the
// rest.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status := http.StatusOK
	switch {
	case r.URL.Path != "/":
		status = http.StatusNotFound
		http.NotFound(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", status)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "payjstest: PAYJS simulator; POST /api/close\n")
	}
	s.log(r, entry{status: status}, start)
}

// entry is what one request's log line says beyond method and path.
type entry struct {
	orderID    string
	outcome    Outcome
	status     int
	returnCode int // -1: no PAYJS answer
	fault      FaultKind
}

func (s *Server) log(r *http.Request, e entry, start time.Time) {
	if s.logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
	if e.orderID != "" {
		attrs = append(attrs, slog.String("payjs_order_id", e.orderID))
	}
	if e.outcome != "" {
		attrs = append(attrs, slog.String("outcome", string(e.outcome)))
	}
	if e.status != 0 {
		attrs = append(attrs, slog.Int("status", e.status))
	}
	if e.outcome != "" && e.returnCode >= 0 {
		attrs = append(attrs, slog.Int("return_code", e.returnCode))
	}
	if e.fault != 0 {
		attrs = append(attrs, slog.String("fault", e.fault.String()))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(start)))
	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}
