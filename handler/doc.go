// Package handler is the payjs-close Lambda function: the adapters around
// the core, package [closing]. It recognizes the event kind (API Gateway
// HTTP and REST APIs, Function URLs, EventBridge, SQS, direct invokes),
// decodes the event once into a [closing.Request], has the
// [closing.Service] close the order (or schedule or cancel its close),
// logs and counts the outcome, publishes it for the shop where that is
// due, and shapes the [closing.Result] back for the event kind.
//
// One HTTP close, file by file. Read in this order, each once:
//
//  1. handler.go: Invoke recognizes the kind and serves it; the event
//     kinds, the spine (serveHTTP, serve, final) and where a request may
//     claim to be a scheduled close (fromOutside).
//  2. http.go: the HTTP event's route, method and body, read into the
//     request, and the HTTP answer (encodeHTTP).
//  3. closing/request.go: the Request, its members read strictly from
//     JSON (or a form), and its validation (a close_at read exactly as
//     RFC 3339).
//  4. closing/service.go: the Service, the interfaces it consumes (Keys,
//     Closer, Observer), the key and the PAYJS close, the retry after a
//     key rotation.
//  5. closing/result.go: the Result, the codes and their meaning in one
//     table, and the mapping of every error to a code: PAYJS's in
//     fromPayjs, those of Keys and the Scheduler in dependencyError.
//  6. observe.go: the log line and the metrics, the Stack dimension
//     included.
//
// The answer goes back by a function already met: serveHTTP hands the
// Result to http.go's encodeHTTP, which shapes it for the event kind.
//
// Only on some paths: closing/schedule.go (a close_at, close_after or
// cancel: the Scheduler and the ScheduledMessage), outcome.go (outcome
// events for the shop, when a bus is configured; handler/outcome puts
// them on EventBridge), sqs.go (SQS batches). The interfaces' production
// implementations are handler/secret (Keys), payjs (Closer) and
// handler/schedule (Scheduler); cmd/closeorder/wire reads the
// configuration and composes them.
//
// Use (cmd/closeorder/wire does this with the Secrets Manager store):
//
//	cfg, err := wire.LoadConfig(os.Getenv)
//	if err != nil {
//		return err // names the variable
//	}
//	hc := payjs.NewHTTPClient()
//	h := handler.New(handler.Deps{
//		Keys: store, // a closing.Keys, such as *secret.Store
//		NewCloser: func(key string) (closing.Closer, error) {
//			return payjs.NewClient(key, payjs.WithBaseURL(cfg.BaseURL), payjs.WithHTTPClient(hc))
//		},
//		Obs:    handler.NewJSONObserver(os.Stdout, cfg.LogLevel),
//		Budget: cfg.Timeout,
//	})
//	lambda.Start(h)
package handler
