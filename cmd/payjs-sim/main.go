// Command payjs-sim runs the PAYJS simulator of package payjstest as a
// process, seeded with the project's demo merchant and orders, for local
// runs and for the function under the Lambda emulator.
//
// Usage:
//
//	payjs-sim [-addr 127.0.0.1:8086] [-latency 0s]
//
// It serves plain HTTP on a loopback address only (point PAYJS_BASE_URL at
// the URL it prints), prints the demo merchant and orders at start, logs
// one line per request, and stops on SIGINT or SIGTERM.
//
// The flags:
//
//	-addr     loopback host:port to listen on (default $PAYJS_SIM_ADDR, else 127.0.0.1:8086)
//	-latency  delay added to every close request (default 0)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "payjs-sim:", err)
		os.Exit(1)
	}
}

const defaultAddr = "127.0.0.1:8086"

// run serves the simulator until ctx is done. args are the command line
// (args[0] the program name); getenv is os.Getenv outside tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := defaultAddr
	if v := getenv("PAYJS_SIM_ADDR"); v != "" {
		addr = v
	}
	fs.StringVar(&addr, "addr", addr, "loopback `host:port` to listen on (env PAYJS_SIM_ADDR)")
	latency := fs.Duration("latency", 0, "`delay` added to every close request")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *latency < 0 {
		return errors.New("-latency must not be negative")
	}
	if err := checkLoopback(addr); err != nil {
		return err
	}

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		_ = ln.Close()
		return fmt.Errorf("-addr %q resolved to %s, which is not a loopback address", addr, ln.Addr())
	}
	url := "http://" + ln.Addr().String()
	// The banner is written before the server starts, so that it never
	// interleaves with request logs.
	if _, err := io.WriteString(stdout, banner(url, *latency)); err != nil {
		_ = ln.Close()
		return err
	}

	logger := slog.New(slog.NewTextHandler(stdout, nil))
	srv := payjstest.NewServer(
		payjstest.WithListener(ln),
		payjstest.WithDemoData(),
		payjstest.WithLogger(logger),
	)
	if *latency > 0 {
		srv.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: *latency, Count: payjstest.Forever})
	}
	<-ctx.Done()
	srv.Close()
	logger.Info("stopped", "requests", srv.Requests(), "connections", srv.Connections())
	return nil
}

// checkLoopback refuses any address but a loopback one: the simulator
// knows a published demo key and must not be reachable from elsewhere.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q is not host:port", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-addr %q is not a loopback address (use 127.0.0.1, ::1 or localhost)", addr)
}

// banner says where the simulator listens and what it holds.
func banner(url string, latency time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "payjs-sim: PAYJS simulator listening on %s (use it as PAYJS_BASE_URL)\n", url)
	fmt.Fprintf(&b, "demo merchant: mchid %s, key %s (the public local demo key, never a real one)\n",
		payjstest.DemoMchID, payjstest.DemoKey)
	if latency > 0 {
		fmt.Fprintf(&b, "every close is delayed by %v\n", latency)
	}
	b.WriteString("demo orders:\n")
	now := time.Now()
	for _, o := range payjstest.DemoOrders(now) {
		fmt.Fprintf(&b, "  %s  %s\n", o.ID, describe(o, now))
	}
	b.WriteString("stop with Ctrl-C (SIGINT) or SIGTERM\n")
	return b.String()
}

// describe says what closing a demo order answers.
func describe(o payjstest.Order, now time.Time) string {
	if o.FailStatus != 0 {
		return fmt.Sprintf("answers HTTP %d every time (payjs_unavailable)", o.FailStatus)
	}
	outcome, msg := o.Verdict(now)
	switch outcome {
	case payjstest.OutcomeClosed:
		return "unpaid: closes (return_code 1 " + msg + ")"
	case payjstest.OutcomeExpired:
		return fmt.Sprintf("unpaid, created %d days ago: return_code 0 %s", o.Age(now), msg)
	}
	return o.State.String() + ": return_code 0 " + msg
}
