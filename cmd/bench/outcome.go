package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// outcomeBus is the event bus, in moto, of the sandbox that publishes
// outcome events.
const outcomeBus = "payjs-close-bench"

// publishBatches measures what outcome events add to an SQS batch of 10:
// a second loopback sandbox of ours, configured as the first plus
// PAYJS_OUTCOME_BUS (moto's EventBridge), closes n batches, taken in turn
// with n batches of the sandbox without a bus, PAYJS answering each close
// in sqsLatency. A publishing batch counts only when it made exactly one
// PutEvents call and reported no record for retry (an event EventBridge
// did not take would be one). The bus's one rule matches nothing: moto
// delivers to an SQS target slowly (0.5 to 2.5 s a call here), which would
// measure moto, not the function.
func (b *bench) publishBatches(ctx context.Context, n int) (without, with []time.Duration, err error) {
	p := &b.loopback
	plain := p.funcs[0]
	pub, err := b.startPublisher(ctx)
	if err != nil {
		return nil, nil, err
	}
	p.sim.Inject(payjstest.Fault{Kind: payjstest.FaultLatency, Delay: sqsLatency, Count: payjstest.Forever})
	defer p.sim.ClearFaults()
	published := func() (time.Duration, error) {
		calls := b.stack.Moto.Calls(mototest.OpPutEvents)
		d, err := b.closeBatch(ctx, p, pub, 10)
		if n := b.stack.Moto.Calls(mototest.OpPutEvents) - calls; err == nil && n != 1 {
			err = fmt.Errorf("%s: %d PutEvents calls for a batch of 10, want 1", pub.name, n)
		}
		return d, err
	}
	// Warm both: connections to PAYJS, and the EventBridge client and its
	// connection, are made by the first batch.
	if _, err := b.closeBatch(ctx, p, plain, 10); err != nil {
		return nil, nil, err
	}
	if _, err := published(); err != nil {
		return nil, nil, err
	}
	for range n {
		d, err := b.closeBatch(ctx, p, plain, 10)
		if err != nil {
			return nil, nil, err
		}
		without = append(without, d)
		if d, err = published(); err != nil {
			return nil, nil, err
		}
		with = append(with, d)
	}
	return without, with, nil
}

// startPublisher starts the publishing sandbox beside the loopback one,
// and the bus it publishes to.
func (b *bench) startPublisher(ctx context.Context) (*function, error) {
	rie, err := devstack.FindRIE(b.root, os.Getenv)
	if err != nil {
		return nil, err
	}
	if _, err := b.stack.Moto.CreateEventBusContext(ctx, outcomeBus, `{"source":["nobody"]}`); err != nil {
		return nil, err
	}
	env := b.stack.Env()
	env["PAYJS_OUTCOME_BUS"] = outcomeBus
	env["AWS_ENDPOINT_URL_EVENTBRIDGE"] = b.stack.Moto.URL
	out := &lines{copy: io.Discard}
	if b.o.verbose {
		out.copy = b.log
	}
	emu, err := devstack.StartEmulator(ctx, devstack.EmulatorOptions{RIE: rie, Bootstrap: filepath.Join(b.tmp, ours, "bootstrap"), Env: env, Output: out})
	if err != nil {
		return nil, fmt.Errorf("%s with a bus: %w", ours, err)
	}
	b.emus = append(b.emus, emu)
	return &function{name: ours + " with a bus", emu: emu, out: out}, nil
}
