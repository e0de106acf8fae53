// Command local runs the payjs-close function on this machine, on
// loopback only, with no AWS account, no Docker and no internet.
//
// Usage:
//
//	local [-addr 127.0.0.1:3000] [-payjs-addr 127.0.0.1:8086]
//	local -invoke events/direct.json
//
// Without -invoke (`make run`) it starts the PAYJS simulator with the demo
// orders, builds the function in this process with the local demo key,
// and serves the deployed HTTP API's routes, as `sam local start-api`
// does:
//
//	curl -i -X POST http://127.0.0.1:3000/orders/2026112500000000000000000001/close
//
// Scheduled closes (close_at, close_after) are kept by a stand-in for
// EventBridge Scheduler in this process, which delivers the schedule's
// input to the function as an SQS record, as the close queue would, when
// it is due (locally, a close more than 1 s
// ahead is scheduled; deployed, more than 60 s); DELETE cancels:
//
//	curl -i -X POST http://127.0.0.1:3000/orders/2026112500000000000000000003/close -d '{"close_after":"10s"}' -H 'Content-Type: application/json'
//	curl -i -X POST http://127.0.0.1:3000/orders/2026112500000000000000000004/close -d '{"close_after":"1h"}' -H 'Content-Type: application/json'
//	curl -i -X DELETE http://127.0.0.1:3000/orders/2026112500000000000000000004/close
//
// It prints the demo orders and curl lines to try, logs the function's
// JSON log lines to stdout, and stops on Ctrl-C (SIGINT) or SIGTERM,
// dropping the closes not yet due. The outcome events the function would
// put on its bus are logged too, in EventBridge's shape: a scheduled
// close's, and with PAYJS_OUTCOME_ALL=true every close's.
//
// With -invoke FILE (`make invoke EVENT=FILE`) it sends the event in FILE
// through the real bootstrap under the Lambda Runtime Interface Emulator
// (aws-lambda-rie, installed by `make tools`), with moto as Secrets Manager
// and EventBridge Scheduler and the simulator as PAYJS, prints the
// function's answer to stdout, then each schedule the invoke left in moto
// (`make invoke EVENT=events/schedule.json`), all as JSON (the emulator's
// and the function's output go to stderr), and exits: with status 1 when
// the answer is a failure (a result with "ok": false, an HTTP status of
// 400 or more, SQS records to redeliver, or a Lambda function error,
// printed as its error document), else 0.
//
// The flags:
//
//	-addr        loopback host:port of the HTTP API (default 127.0.0.1:3000)
//	-payjs-addr  loopback host:port of the PAYJS simulator (default 127.0.0.1:8086)
//	-invoke      an event file to invoke the bootstrap with, instead of serving
//
// PAYJS_TIMEOUT, PAYJS_REQUIRE_SIGNATURE and LOG_LEVEL configure the
// function as they do in Lambda.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// run serves the function until ctx is done, or, with -invoke, invokes it
// once. args are the command line (args[0] the program name); getenv is
// os.Getenv outside tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3000", "loopback `host:port` of the HTTP API")
	payjsAddr := fs.String("payjs-addr", "127.0.0.1:8086", "loopback `host:port` of the PAYJS simulator")
	event := fs.String("invoke", "", "invoke the bootstrap under aws-lambda-rie with the event in `file`, print the answer and exit")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *event != "" {
		return invoke(ctx, *event, getenv, stdout, stderr)
	}
	// Every flag is checked before anything listens: a bad -payjs-addr
	// must not be hidden by -addr's port being taken.
	if err := checkLoopback("-addr", *addr); err != nil {
		return err
	}
	if err := checkLoopback("-payjs-addr", *payjsAddr); err != nil {
		return err
	}
	return serve(ctx, *addr, *payjsAddr, getenv, stdout)
}
