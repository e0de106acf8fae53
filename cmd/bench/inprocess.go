package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/cmd/closeorder/wire"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// closeLoopArg, as the only argument, makes the command the fourth peer:
// payjs-close's handler, wired as the bootstrap wires it (wire.Build with
// the function's environment, then GOMAXPROCS from wire.MaxProcs), in a
// process of its own, closing one order and then BENCH_CLOSES more back
// to back, exactly as the peers do (same environment, same orders, same
// JSON line out), so that its cost per close compares with theirs:
// response verification, the log line and the metric line (written to
// stderr, a pipe, as Lambda's stdout is) included.
const closeLoopArg = "-internal-close-loop"

func closeLoop(ctx context.Context, stdout, stderr io.Writer) error {
	start := time.Now()
	prefix := os.Getenv("BENCH_ORDER_PREFIX")
	n, err := strconv.Atoi(os.Getenv("BENCH_CLOSES"))
	if err != nil || prefix == "" {
		return errors.New(closeLoopArg + ": BENCH_ORDER_PREFIX and BENCH_CLOSES must be set")
	}
	h, err := wire.Build(ctx, os.Getenv, stderr)
	if err != nil {
		return err
	}
	if n, ok := wire.MaxProcs(os.Getenv, runtime.GOMAXPROCS(0)); ok { // as cmd/closeorder's run
		runtime.GOMAXPROCS(n)
	}
	invoke := func(i int) error {
		id := prefix + fmt.Sprintf("%0*d", 28-len(prefix), i)
		ictx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "bench-" + strconv.Itoa(i)})
		ictx, cancel := context.WithTimeout(ictx, 10*time.Second)
		defer cancel()
		// The answer is not decoded here: the peers do not decode theirs
		// twice either. runPeer checks every order at the simulator.
		_, err := h.Invoke(ictx, []byte(`{"payjs_order_id":"`+id+`","mchid":"`+payjstest.DemoMchID+`"}`))
		return err
	}
	if err := invoke(0); err != nil {
		return err
	}
	first := time.Since(start)
	t := time.Now()
	for i := 1; i <= n; i++ {
		if err := invoke(i); err != nil {
			return err
		}
	}
	per := 0.0
	if n > 0 {
		per = ms(time.Since(t)) / float64(n)
	}
	_, err = fmt.Fprintf(stdout, "{\"first_ms\":%.3f,\"per_close_ms\":%.4f}\n", ms(first), per)
	return err
}
