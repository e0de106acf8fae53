package handler

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func BenchmarkExpClosed(b *testing.B) {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f5c1f2e-5b7e-4a57-9a0e-3d2f4b1c6a70"})
	req := Request{PayjsOrderID: "2026112500000000000000000001", MchID: "1528140051"}
	res := Result{OK: true, Status: "closed", Verified: true, Attempts: 1}
	for _, c := range []struct {
		name string
		o    *Observer
	}{
		{"current", NewJSONObserver(sink{}, slog.LevelInfo)},
		{"noreplace", NewObserver(slog.New(requestIDHandler{slog.NewJSONHandler(sink{}, nil)}), sink{})},
		{"discardlog", NewObserver(slog.New(slog.DiscardHandler), sink{})},
		{"emfonly-off", NewObserver(slog.New(slog.DiscardHandler), nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.o.closed(ctx, KindDirect, "", req, &res, 110*time.Microsecond, nil)
			}
		})
	}
}
