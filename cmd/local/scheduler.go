package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/payjs-close/payjs-close/handler"
)

// localScheduler stands in for EventBridge Scheduler under `make run`: it
// keeps each scheduled close as a timer in this process and, when it is
// due, invokes the function with the schedule's input, as Scheduler
// invokes it (a direct invoke), then forgets the schedule, as
// ActionAfterCompletion DELETE does. There is one function here, so the
// target and role are not needed. Scheduling an order again moves its
// timer; Cancel stops it; Stop stops them all.
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
	close handler.ScheduledClose
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
func (l *localScheduler) Schedule(_ context.Context, s handler.ScheduledClose) (moved bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false, &handler.Error{Code: handler.CodeScheduleUnavailable, Message: "the local scheduler is stopped"}
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
		return handler.ErrNotScheduled
	}
	p.t.Stop()
	delete(l.pending, name)
	return nil
}

// fire invokes the function with p's input, unless p was moved, canceled
// or stopped since its timer was set.
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

	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID:       reqID,
		InvokedFunctionArn: p.close.Target,
	})
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	l.log.InfoContext(ctx, "local scheduler: a scheduled close is due; invoking the function with its input",
		slog.String("schedule", p.close.Name), slog.String("close_at", p.close.At.UTC().Format(time.RFC3339)), slog.String("input", p.close.Input))
	if _, err := l.fn.Invoke(ctx, []byte(p.close.Input)); err != nil {
		// The function has logged the close; in AWS, Lambda's
		// asynchronous retries and on-failure destination take over.
		l.log.WarnContext(ctx, "local scheduler: the function failed the scheduled invoke; Lambda would retry it asynchronously",
			slog.String("schedule", p.close.Name), slog.String("error", err.Error()))
	}
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
