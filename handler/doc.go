// Package handler is the payjs-close Lambda function: it recognizes the
// event kind (API Gateway HTTP and REST APIs, Function URLs, EventBridge,
// SQS, direct invokes), extracts and validates the close request, loads
// the merchant key through a [KeySource], closes the order with PAYJS and
// answers one normalized [Result], shaped back for the event kind.
//
// A reader can follow one close by opening, in order: events.go (which
// kind is this?), envelope.go (the one decode of an event), http.go
// (routes, bodies, HTTP responses), handler.go (the close itself), sqs.go
// (batches), result.go (the result and error codes) and observe.go (logs
// and metrics). config.go reads the environment.
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
//		NewCloser: func(key string) (handler.Closer, error) {
//			return payjs.NewClient(key, payjs.WithBaseURL(cfg.BaseURL), payjs.WithHTTPClient(hc))
//		},
//		Obs:    handler.NewJSONObserver(os.Stdout, cfg.LogLevel),
//		Budget: cfg.Timeout,
//	})
//	lambda.Start(h)
package handler
