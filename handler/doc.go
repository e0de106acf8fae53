// Package handler is the payjs-close Lambda function: it recognizes the
// event kind (API Gateway HTTP and REST APIs, Function URLs, EventBridge,
// SQS, direct invokes), extracts and validates the close request, loads
// the merchant key through a [KeySource], closes the order with PAYJS and
// answers one normalized [Result], shaped back for the event kind.
//
// A reader can follow one close by opening, in order: events.go (which
// kind is this?), http.go (routes, bodies, HTTP responses), handler.go
// (the close itself), sqs.go (batches), result.go (the result and error
// codes) and observe.go (logs and metrics).
//
// Use:
//
//	cfg, err := handler.LoadConfig(os.Getenv)
//	...
//	h := handler.New(handler.Deps{Keys: store, NewCloser: ..., Log: os.Stdout})
//	lambda.Start(h)
package handler
