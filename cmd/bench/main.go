// Command bench measures the payjs-close bootstrap as Lambda runs it,
// beside the minimal Go Lambda of cmd/bench/baseline, and prints one
// markdown table: each target, our figure, the baseline's, their ratio and
// PASS or FAIL. `make bench` runs it.
//
//	go run ./cmd/bench [-cold 30] [-warm 10] [-wan-cold 15] [-wan-warm 5] [-batches 10] [-o file.md] [-v]
//
// Both functions run under aws-lambda-rie (cmd/internal/devstack), each
// cold start in a fresh emulator, alternating between the two so that
// the machine's other work weighs on both alike. Two network profiles:
//
//   - loopback: moto as Secrets Manager and the PAYJS simulator over plain
//     HTTP, both on 127.0.0.1. Cold start (the invoke that starts the
//     bootstrap, until its answer), warm invokes, peak RSS, the
//     linux/arm64 bootstrap's size, and an SQS batch of 10 against the
//     simulator answering each close in 50 ms, against one close.
//   - WAN: the same moto and a simulator over TLS, each behind a delaying
//     proxy of this command (proxy.go) that puts Secrets Manager at
//     -secrets-rtt (30 ms) and PAYJS at -payjs-rtt (80 ms) round trip.
//     The bootstraps trust the simulator's certificate through
//     SSL_CERT_FILE. Start → first close, init and warm invokes.
//
// Figures are medians over the cold starts (warm invokes: over all of
// them) with their ranges. A missed target prints FAIL, but the command
// still exits 0: on a shared machine one run is noisy, and the lab notes
// in cmd/bench/README.md say how far runs move. Everything stays on
// 127.0.0.1, and every process it starts is killed when it returns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	cold, warm       int // loopback: cold starts of each function, warm invokes after each
	wanCold, wanWarm int // the same in the WAN profile
	batches          int // SQS batches (and as many single closes) against the slow PAYJS
	payjsRTT         time.Duration
	secretsRTT       time.Duration
	out              string
	verbose          bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.cold, "cold", 30, "loopback: cold starts of each function")
	fs.IntVar(&o.warm, "warm", 10, "loopback: warm invokes after each cold start")
	fs.IntVar(&o.wanCold, "wan-cold", 15, "WAN: cold starts of each function")
	fs.IntVar(&o.wanWarm, "wan-warm", 5, "WAN: warm invokes after each cold start")
	fs.IntVar(&o.batches, "batches", 10, "SQS batches of 10, and single closes, against PAYJS answering in 50 ms")
	fs.DurationVar(&o.payjsRTT, "payjs-rtt", 80*time.Millisecond, "WAN: round trip to PAYJS")
	fs.DurationVar(&o.secretsRTT, "secrets-rtt", 30*time.Millisecond, "WAN: round trip to Secrets Manager")
	fs.StringVar(&o.out, "o", "", "also write the report to this `file`")
	fs.BoolVar(&o.verbose, "v", false, "copy the emulators' and functions' output to stderr")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.cold < 1 || o.wanCold < 1 || o.batches < 1 || o.warm < 1 || o.wanWarm < 1 {
		return errors.New("-cold, -warm, -wan-cold, -wan-warm and -batches must be at least 1")
	}
	if o.payjsRTT < 0 || o.secretsRTT < 0 {
		return errors.New("-payjs-rtt and -secrets-rtt cannot be negative")
	}

	start := time.Now()
	b, err := newBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	rep, err := b.measure(ctx)
	if err != nil {
		return err
	}
	rep.command = commandLine(args)
	rep.took = time.Since(start)
	md := rep.markdown()
	if _, err := io.WriteString(stdout, md); err != nil {
		return err
	}
	if o.out != "" {
		return os.WriteFile(o.out, []byte(md), 0o600)
	}
	return nil
}
