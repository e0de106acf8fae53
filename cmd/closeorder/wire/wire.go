// Package wire builds the payjs-close handler from the environment: the
// configuration, the Secrets Manager key store, the shared PAYJS HTTP
// client and the observer. Init work that waits on the network (the
// secret fetch, and the PAYJS connection warm-up) runs concurrently, so a
// cold start costs the slower of the two, not their sum.
package wire

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/outcome"
	"github.com/payjs-close/payjs-close/handler/schedule"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
)

// Init work is bounded so that a slow dependency cannot eat Lambda's
// 10 s init phase: what is not ready by then is retried on first use. The
// key's first load waits as long as the store lets any read run.
const (
	secretInitTimeout = secret.ReadTimeout
	warmTimeout       = 2 * time.Second
)

// Build reads the configuration through getenv and returns the handler,
// with its logs and metrics going to stdout. Only a bad configuration is
// an error; a key that cannot be loaded yet is not (requests answer
// config_unavailable and the next one tries again).
func Build(ctx context.Context, getenv func(string) string, stdout io.Writer) (*handler.Handler, error) {
	start := time.Now()
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	obs := handler.NewJSONObserver(stdout, cfg.LogLevel).WithStack(cfg.MetricsStack)
	log := obs.Logger()
	if cfg.LogLevelNote != "" {
		log.WarnContext(ctx, cfg.LogLevelNote)
	}

	// The PAYJS warm-up needs nothing else: it starts first, so that
	// loading the AWS configuration overlaps it too.
	hc := payjs.NewHTTPClient()
	var wg sync.WaitGroup
	var warmErr error
	var warmTime time.Duration
	wg.Go(func() {
		t := time.Now()
		c, cancel := context.WithTimeout(ctx, warmTimeout)
		defer cancel()
		warmErr = payjs.Warm(c, hc, cfg.BaseURL)
		warmTime = time.Since(t)
	})

	// Lambda hands the function its credentials in the environment; the
	// EC2 instance metadata endpoint is never the answer, and off Lambda
	// (tests, make invoke) asking it would send traffic off loopback.
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil {
		wg.Wait()
		return nil, err
	}
	store := secret.NewStore(secretsmanager.NewFromConfig(awsCfg), cfg.SecretID,
		secret.WithTTL(cfg.SecretTTL),
		secret.WithLogger(log),
		secret.WithOnLoad(obs.SecretLoaded),
	)
	t := time.Now()
	kctx, cancel := context.WithTimeout(ctx, secretInitTimeout)
	_, keyErr := store.Get(kctx)
	cancel()
	keyTime := time.Since(t)
	wg.Wait()

	attrs := []slog.Attr{
		slog.String("version", payjs.Version),
		slog.Bool("key_loaded", keyErr == nil),
		slog.Float64("key_ms", ms(keyTime)),
		slog.Bool("payjs_warm", warmErr == nil),
		slog.Float64("warm_ms", ms(warmTime)),
		slog.Float64("init_ms", ms(time.Since(start))),
	}
	level := slog.LevelInfo
	if keyErr != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("key_error", keyErr.Error()))
	}
	if warmErr != nil {
		attrs = append(attrs, slog.String("warm_error", warmErr.Error()))
	}
	log.LogAttrs(ctx, level, "init", attrs...)

	deps := handler.Deps{
		Keys:           store,
		NewCloser:      Closers(cfg, hc),
		Obs:            obs,
		SQSConcurrency: cfg.SQSConcurrency,
		Budget:         cfg.Timeout,
	}
	if cfg.ScheduleGroup != "" {
		deps.Scheduler = schedule.New(awsCfg, schedule.Config{Group: cfg.ScheduleGroup, RoleARN: cfg.ScheduleRoleARN, TargetARN: cfg.ScheduleTargetARN, DLQARN: cfg.ScheduleDLQARN})
	}
	if cfg.OutcomeBus != "" {
		deps.Outcomes = publisher{outcome.New(awsCfg, outcome.Config{Bus: cfg.OutcomeBus, Source: handler.OutcomeSource})}
		deps.PublishAll = cfg.OutcomeAll
	}
	return handler.New(deps), nil
}

// publisher is the handler's Publisher on EventBridge: outcome events
// become PutEvents entries (the same fields; package outcome does not
// import package handler).
type publisher struct{ c *outcome.Client }

func (p publisher) Publish(ctx context.Context, evs []handler.OutcomeEvent) []error {
	entries := make([]outcome.Entry, len(evs))
	for i, ev := range evs {
		entries[i] = outcome.Entry(ev)
	}
	return p.c.Publish(ctx, entries)
}

// Closers returns the handler's NewCloser: a PAYJS client per merchant
// key, configured by cfg, all sharing hc and so its keep-alive
// connections.
func Closers(cfg Config, hc *http.Client) func(key string) (closing.Closer, error) {
	return func(key string) (closing.Closer, error) {
		return payjs.NewClient(key,
			payjs.WithBaseURL(cfg.BaseURL),
			payjs.WithHTTPClient(hc),
			payjs.WithTimeout(cfg.Timeout),
			payjs.WithRequireSignature(cfg.RequireSignature),
		)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
