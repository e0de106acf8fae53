// Command bench measures payjs-close as Lambda runs it, beside what a user
// would pick instead, on this machine and on loopback only, and prints
// the figures as a markdown table. `make bench` runs it after the Go
// benchmarks.
//
//	go run ./cmd/bench [-cold 30] [-warm 300] [-peers=true] [-peer-runs 7] [-peer-closes 200] [-o file.md] [-v]
//
// It starts moto (Secrets Manager, holding the demo secret) and the PAYJS
// simulator through cmd/internal/devstack, then, alternating between the
// two functions, restarts aws-lambda-rie for each of -cold cold starts of
// the project's bootstrap and of the minimal Go Lambda kept in
// cmd/bench/baseline, and makes -warm warm invokes of each in all
// (spread over the cold sandboxes). From the emulator's REPORT lines, the
// functions' own log lines, the simulator's connection count, moto's
// call count and /proc it takes: init, first close, the cold start as a
// caller sees it (emulator start to first response), warm invokes,
// closes inside the function, peak RSS, TCP connections to PAYJS and
// Secrets Manager calls. It builds both bootstraps for linux/arm64 and
// linux/amd64 (-s -w, -trimpath, -tags lambda.norpc) for their sizes.
//
// With -peers it also runs, -peer-runs times each, the programs of
// cmd/bench/peers (Python with requests and boto3, Node.js with the AWS
// SDK v3 and fetch, and a straightforward Go program, which also runs
// with GOMAXPROCS=1 for reference), each loading the key from moto and
// closing one order, for their whole-process wall time and peak RSS
// (wait4's rusage), and -peer-runs times more with -peer-closes further
// closes for the cost of each (medians reported). This project's handler
// runs the same loop in a process of its own (see closeLoopArg). The Node
// peer's one dependency is installed with npm into .bin/bench-node on
// first use.
//
// Every process it starts is in a process group of its own and is killed
// when it returns, or when it is killed itself (Linux).
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
	cold       int
	warm       int
	peers      bool
	peerRuns   int
	peerCloses int
	out        string
	verbose    bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 2 && args[1] == closeLoopArg {
		return closeLoop(ctx, stdout, stderr)
	}
	var o options
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.cold, "cold", 30, "cold starts of each function")
	fs.IntVar(&o.warm, "warm", 300, "warm invokes of each function, spread over its cold sandboxes")
	fs.BoolVar(&o.peers, "peers", true, "also run the Python, Node.js and Go peer programs")
	fs.IntVar(&o.peerRuns, "peer-runs", 7, "one-shot runs, and per-close runs, of each peer")
	fs.IntVar(&o.peerCloses, "peer-closes", 200, "additional closes of each peer's per-close run")
	fs.StringVar(&o.out, "o", "", "also write the markdown report to this `file`")
	fs.BoolVar(&o.verbose, "v", false, "copy the emulators' and functions' output to stderr")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.cold < 1 || o.warm < 0 || o.peerRuns < 1 || o.peerCloses < 1 {
		return errors.New("-cold, -peer-runs and -peer-closes must be at least 1, -warm at least 0")
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
