package secret_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/payjs-close/payjs-close/handler/secret"
)

func ExampleParse() {
	set, err := secret.Parse(`{"merchants": [
		{"mchid": "1528140051", "key": "payjs-close-local-demo-key"},
		{"mchid": "1528140052", "key": "another-key"}]}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := set.Lookup("1528140052")
	fmt.Println(m, err)
	fmt.Printf("%+v\n", set)
	_, err = set.Lookup("")
	fmt.Println(errors.Is(err, secret.ErrMchIDRequired))

	_, err = secret.Parse(`{"mchid": "1528140051", "key": "a+b"}`)
	fmt.Println(err)
	// Output:
	// {1528140052 [REDACTED]} <nil>
	// secret.Set{mchids:[1528140051 1528140052]}
	// true
	// secret: malformed: key: unusable: key contains "+" or "%", which PAYJS URL-decodes, so it can never verify
}

// The store as cmd/closeorder wires it: built once at cold start, asked on
// every invoke.
func ExampleNewStore() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx) // honors AWS_ENDPOINT_URL_SECRETS_MANAGER
	if err != nil {
		fmt.Println(err)
		return
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	store := secret.NewStore(secretsmanager.NewFromConfig(cfg), os.Getenv("PAYJS_SECRET_ID"),
		secret.WithTTL(5*time.Minute), secret.WithLogger(logger),
		secret.WithOnLoad(func(ok bool, d time.Duration) { /* emit the secret-load metric */ }))

	// In the handler:
	set, err := store.Get(ctx)
	if errors.Is(err, secret.ErrUnavailable) {
		fmt.Println("config_unavailable:", secret.ReasonOf(err))
		return
	}
	m, err := set.Lookup("1528140051")
	if err != nil {
		fmt.Println("invalid_request:", err)
		return
	}
	_ = m.Key // payjs.NewClient(m.Key, ...)
}
