package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler/closing"
)

// localScheduler stands in for EventBridge Scheduler under `make run`: it
// keeps each scheduled close as a timer in this process and, when it is
// due, hands the function an SQS event whose one record's body is the
// schedule's input, as Scheduler sends it to the close queue and the
// queue's event source delivers it, so the close runs the SQS code path;
// then it forgets the schedule, as ActionAfterCompletion DELETE does.
// There is one function and no queue here, so the target and role are not
// needed. Scheduling an order again moves its timer; Cancel stops it; Stop
// stops them all.
type localScheduler struct {
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) timer // time.AfterFunc outside tests
	timeout   time.Duration                         // of each invoke, as the function's Timeout

	// fn and log are set once the function is built, before it serves.
	fn  invoker
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]*pendingClose // by schedule name
	fired   int
	stopped bool
	running sync.WaitGroup // invokes in flight
}

// timer is what localScheduler needs of a *time.Timer.
type timer interface{ Stop() bool }

// pendingClose is one schedule and its timer.
type pendingClose struct {
	close closing.ScheduledClose
	t     timer
}

// newLocalScheduler returns a localScheduler on the real clock.
func newLocalScheduler() *localScheduler {
	return &localScheduler{
		now:       time.Now,
		afterFunc: func(d time.Duration, f func()) timer { return time.AfterFunc(d, f) },
		timeout:   functionTimeout,
		log:       slog.New(slog.DiscardHandler),
		pending:   make(map[string]*pendingClose),
	}
}

// Schedule sets a timer for s.At, replacing the one for s.Name if any.
func (l *localScheduler) Schedule(_ context.Context, s closing.ScheduledClose) (moved bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false, &closing.Error{Code: closing.CodeScheduleUnavailable, Message: "the local scheduler is stopped"}
	}
	old, moved := l.pending[s.Name]
	if moved {
		old.t.Stop() // should it fire meanwhile, fire sees it replaced
	}
	p := &pendingClose{close: s}
	l.pending[s.Name] = p
	// The timer cannot fire p before p.t is set: fire takes l.mu.
	p.t = l.afterFunc(s.At.Sub(l.now()), func() { l.fire(p) })
	return moved, nil
}

// Cancel stops the timer of the schedule name.
func (l *localScheduler) Cancel(_ context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pending[name]
	if !ok {
		return closing.ErrNotScheduled
	}
	p.t.Stop()
	delete(l.pending, name)
	return nil
}

// fire delivers p's input to the function as an SQS record, unless p was
// moved, canceled or stopped since its timer was set.
func (l *localScheduler) fire(p *pendingClose) {
	l.mu.Lock()
	if l.stopped || l.pending[p.close.Name] != p {
		l.mu.Unlock()
		return
	}
	delete(l.pending, p.close.Name)
	l.fired++
	reqID := fmt.Sprintf("local-scheduled-%06d", l.fired)
	l.running.Add(1)
	l.mu.Unlock()
	defer l.running.Done()

	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: reqID})
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	l.log.InfoContext(ctx, "local scheduler: a scheduled close is due; delivering its input to the function as an SQS record",
		slog.String("schedule", p.close.Name), slog.String("close_at", p.close.At.UTC().Format(time.RFC3339)), slog.String("input", p.close.Input))
	out, err := l.fn.Invoke(ctx, sqsDelivery(reqID, p.close.Input))
	var resp events.SQSEventResponse
	if err == nil {
		err = json.Unmarshal(out, &resp)
	}
	if err != nil || len(resp.BatchItemFailures) > 0 {
		// The function has logged the close; in AWS, the close queue
		// delivers the message again, then moves it to its dead-letter
		// queue.
		l.log.WarnContext(ctx, "local scheduler: the function failed the scheduled close; the close queue would deliver it again, then dead-letter it",
			slog.String("schedule", p.close.Name), slog.Any("error", err), slog.Int("batch_item_failures", len(resp.BatchItemFailures)))
	}
}

// localQueueARN names the close queue the stand-in plays.
const localQueueARN = "arn:aws:sqs:us-east-1:000000000000:payjs-close-local-close"

// sqsDelivery is the SQS event the close queue's event source would hand
// the function for a message of body, as Scheduler's SQS target sends it.
func sqsDelivery(messageID, body string) []byte {
	b, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: messageID, Body: body, EventSource: "aws:sqs", EventSourceARN: localQueueARN, AWSRegion: "us-east-1",
		Attributes: map[string]string{"ApproximateReceiveCount": "1"},
	}}})
	return b // an SQSEvent of strings always encodes
}

// Stop stops every timer, so that no close fires after it, and waits for
// the invokes in flight. Schedules made afterwards fail; calling it again
// does nothing more.
func (l *localScheduler) Stop() {
	l.mu.Lock()
	l.stopped = true
	n := len(l.pending)
	for name, p := range l.pending {
		p.t.Stop()
		delete(l.pending, name)
	}
	l.mu.Unlock()
	if n > 0 {
		l.log.Info("local scheduler: stopped; the scheduled closes not yet due are dropped", slog.Int("dropped", n))
	}
	l.running.Wait()
}
