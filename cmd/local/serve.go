package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/payjs-close/payjs-close/cmd/closeorder/wire"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// functionTimeout is the deadline of each request, as the deployed
// function's Timeout in template.yaml.
const functionTimeout = 10 * time.Second

// shutdownTimeout bounds how long requests in flight may finish after
// Ctrl-C.
const shutdownTimeout = 5 * time.Second

// serve runs the simulator on payjsAddr and the function behind the
// gateway on addr until ctx is done.
func serve(ctx context.Context, addr, payjsAddr string, getenv func(string) string, stdout io.Writer) error {
	out := &lineWriter{w: stdout}
	apiLn, err := listenLoopback(ctx, "-addr", addr)
	if err != nil {
		return err
	}
	defer func() { _ = apiLn.Close() }() // Serve closes it too
	simLn, err := listenLoopback(ctx, "-payjs-addr", payjsAddr)
	if err != nil {
		return err
	}
	sim := payjstest.NewServer(payjstest.WithListener(simLn), payjstest.WithDemoData())
	defer sim.Close()

	sched := newLocalScheduler()
	h, closeIdle, err := newLocalHandler(sim.URL, getenv, out, sched)
	if err != nil {
		return err
	}
	defer closeIdle()
	defer sched.Stop() // before the simulator closes: a close may be firing

	apiURL := "http://" + apiLn.Addr().String()
	if _, err := io.WriteString(out, banner(apiURL, sim.URL)); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           &gateway{fn: h, timeout: functionTimeout},
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(apiLn) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", apiURL, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down %s: %w", apiURL, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	sched.Stop()
	_, err = fmt.Fprintln(out, "stopped")
	return err
}

// newLocalHandler builds the function as cmd/closeorder's wiring does,
// with the demo key in place of Secrets Manager, sched in place of
// EventBridge Scheduler (on sched's clock), and PAYJS at baseURL; sched
// invokes the function it returns. Its logs go to out. closeIdle closes
// the PAYJS connections.
func newLocalHandler(baseURL string, getenv func(string) string, out io.Writer, sched *localScheduler) (h *handler.Handler, closeIdle func(), err error) {
	cfg, err := wire.LoadConfig(func(name string) string {
		switch name {
		case "PAYJS_SECRET_ID":
			return "local"
		case "PAYJS_BASE_URL":
			return baseURL
		case "PAYJS_OUTCOME_BUS":
			return cmp.Or(getenv(name), localBus) // printed, never sent
		}
		return getenv(name)
	})
	if err != nil {
		return nil, nil, err
	}
	demo, err := secret.One(payjstest.DemoMchID, payjstest.DemoKey) // the demo secret's merchant
	if err != nil {
		return nil, nil, err
	}
	hc := payjs.NewHTTPClient()
	log := handler.NewLogger(out, cfg.LogLevel)
	h = handler.New(handler.Deps{
		Keys:      demo,
		NewCloser: wire.Closers(cfg, hc),
		// The PAYJS_SCHEDULE_* settings are not needed: the stand-in
		// invokes this handler, whatever the target and role.
		Scheduler: sched,
		// Logs only: the metric lines are for CloudWatch.
		Obs:            handler.NewObserver(log, nil),
		SQSConcurrency: cfg.SQSConcurrency,
		Budget:         cfg.Timeout,
		Now:            sched.now,
		// The in-process stand-in fires on time to the millisecond, so
		// a demo need not wait the minute Scheduler is given.
		CloseNowWithin: localCloseNowWithin,
		Outcomes:       &printPublisher{log: log, bus: cfg.OutcomeBus, now: sched.now},
		PublishAll:     cfg.OutcomeAll,
	})
	sched.fn, sched.log = h, log
	return h, hc.CloseIdleConnections, nil
}

// listenLoopback listens on addr, which must be a loopback address: the
// function holds a key and the simulator a published demo key, and
// neither may be reachable from elsewhere.
func listenLoopback(ctx context.Context, flagName, addr string) (net.Listener, error) {
	if err := checkLoopback(flagName, addr); err != nil {
		return nil, err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("%s %q resolved to %s, which is not a loopback address", flagName, addr, ln.Addr())
	}
	return ln, nil
}

// checkLoopback refuses an addr that is not a loopback host:port, before
// anything listens: a bad flag is reported as such even when another
// address is taken.
func checkLoopback(flagName, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q is not host:port", flagName, addr)
	}
	if ip, err := netip.ParseAddr(host); !strings.EqualFold(host, "localhost") && (err != nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s %q is not a loopback address (use 127.0.0.1, ::1 or localhost)", flagName, addr)
	}
	return nil
}

// banner says where things listen, what the demo orders do, and what to
// try.
func banner(apiURL, simURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "payjs-close: the function behind its HTTP API on %s (as `sam local start-api`)\n", apiURL)
	fmt.Fprintf(&b, "PAYJS simulator on %s with the demo merchant %s; the function uses the local demo key\n", simURL, payjstest.DemoMchID)
	b.WriteString("demo orders:\n")
	now := time.Now()
	for _, o := range payjstest.DemoOrders(now) {
		fmt.Fprintf(&b, "  %s  %s\n", o.ID, describe(o, now))
	}
	closeURL := func(id string) string { return apiURL + "/orders/" + id + "/close" }
	b.WriteString("try:\n")
	fmt.Fprintf(&b, "  curl -i -X POST %s   # 200 closed (again: 200 already_closed)\n", closeURL(payjstest.DemoOrderUnpaid(1)))
	fmt.Fprintf(&b, "  curl -i -X POST %s   # 409 order_paid: deliver or refund it\n", closeURL(payjstest.DemoOrderPaid))
	fmt.Fprintf(&b, "  curl -i -X POST %s   # 400 invalid_order_id\n", closeURL("not-an-order-id"))
	fmt.Fprintf(&b, "  curl -i -X POST %s   # 503 payjs_unavailable (retryable)\n", closeURL(payjstest.DemoOrderUnavailable))
	fmt.Fprintf(&b, "  curl -i -X POST %s/close -H 'Content-Type: application/json' -d '{\"payjs_order_id\":\"%s\"}'\n",
		apiURL, payjstest.DemoOrderUnpaid(2))
	b.WriteString(scheduleLines(closeURL(payjstest.DemoOrderUnpaid(3)), closeURL(payjstest.DemoOrderUnpaid(4))))
	b.WriteString("the function's JSON logs follow; stop with Ctrl-C\n")
	return b.String()
}

// Locally a close more than a second ahead is scheduled (deployed, more
// than a minute ahead), so that the banner's close_after of 10 s
// schedules and fires while one watches. The close the banner cancels is
// another order's, an hour ahead: canceling the one to watch would leave
// nothing to see.
const (
	localCloseNowWithin = time.Second
	demoCloseAfter      = "10s"
	demoCancelAfter     = "1h"
)

// scheduleLines are the banner's lines that schedule a close of the order
// at fireURL to watch it fire, and schedule and cancel a close of the
// order at cancelURL.
func scheduleLines(fireURL, cancelURL string) string {
	post := func(url, after string) string {
		return fmt.Sprintf("curl -i -X POST %s -H 'Content-Type: application/json' -d '{\"close_after\":\"%s\"}'", url, after)
	}
	return fmt.Sprintf("  %s   # 202 scheduled: the log shows the close %s later\n", post(fireURL, demoCloseAfter), demoCloseAfter) +
		fmt.Sprintf("  %s   # 202 scheduled, an hour ahead\n", post(cancelURL, demoCancelAfter)) +
		fmt.Sprintf("  curl -i -X DELETE %s   # 200 %s (again: 404 not_scheduled)\n", cancelURL, closing.StatusCancelled)
}

// describe says what closing a demo order answers.
func describe(o payjstest.Order, now time.Time) string {
	if o.FailStatus != 0 {
		return fmt.Sprintf("PAYJS answers HTTP %d: 503 payjs_unavailable", o.FailStatus)
	}
	outcome, msg := o.Verdict(now)
	switch outcome {
	case payjstest.OutcomeClosed:
		return "unpaid: 200 closed"
	case payjstest.OutcomeAlreadyClosed:
		return "closed: 200 already_closed"
	case payjstest.OutcomeAlreadyPaid:
		return "paid: 409 order_paid"
	case payjstest.OutcomeExpired:
		return fmt.Sprintf("unpaid, %d days old: 422 payjs_rejected (%s)", o.Age(now), msg)
	}
	return o.State.String() + ": 422 payjs_rejected (" + msg + ")"
}

// lineWriter serializes writes, so that log lines written from several
// requests at once never interleave, whatever the writer.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
