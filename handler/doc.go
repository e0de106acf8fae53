// Package handler is the payjs-close Lambda function: it recognizes the
// event kind (API Gateway HTTP and REST APIs, Function URLs, EventBridge,
// SQS, direct invokes), decodes the request once, validates it, closes the
// order with PAYJS (or schedules or cancels its close) and answers one
// normalized [Result], shaped back for the event kind.
//
// One request, file by file: event.go (which kind is this, and the
// request), strict.go (member names, matched exactly), closeat.go
// (close_at, RFC 3339 exactly), http.go (routes, bodies, HTTP answers), handler.go (the close
// and the key), schedule.go (scheduled closes), scheduled.go (what marks
// a close as scheduled, and where), sqs.go (batches), outcome.go
// (outcome events for the shop), result.go (the result and the error codes), observe.go (logs and
// metrics). config.go reads the environment.
//
// Use (cmd/closeorder/wire does this with the Secrets Manager store):
//
//	cfg, err := handler.LoadConfig(os.Getenv)
//	if err != nil {
//		return err // names the variable
//	}
//	hc := payjs.NewHTTPClient()
//	h := handler.New(handler.Deps{
//		Keys: store, // a KeySource, such as *secret.Store
//		NewCloser: func(key string) (handler.OrderCloser, error) {
//			return payjs.NewClient(key, payjs.WithBaseURL(cfg.BaseURL), payjs.WithHTTPClient(hc))
//		},
//		Obs:    handler.NewJSONObserver(os.Stdout, cfg.LogLevel),
//		Budget: cfg.Timeout,
//	})
//	lambda.Start(h)
package handler
