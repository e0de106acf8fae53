// Command goclose is a benchmark peer of `go run ./cmd/bench`: the
// straightforward Go program a developer would write instead of the
// payjs-close function. It loads the PAYJS key from Secrets Manager with
// aws-sdk-go-v2 (the SDK's default configuration, so
// AWS_ENDPOINT_URL_SECRETS_MANAGER points it at moto), closes one order
// with net/http, then closes BENCH_CLOSES more, one after another, over
// the same keep-alive connection.
//
// Environment: PAYJS_SECRET_ID, PAYJS_BASE_URL, BENCH_ORDER_PREFIX (order
// i is the prefix followed by i, zero-padded to 28 characters) and
// BENCH_CLOSES. It prints one JSON line: {"first_ms":...,"per_close_ms":...}.
package main

import (
	"context"
	"crypto/md5" //nolint:gosec // PAYJS's signature algorithm
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goclose:", err)
		os.Exit(1)
	}
}

func run() error {
	start := time.Now()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(os.Getenv("PAYJS_SECRET_ID")),
	})
	if err != nil {
		return err
	}
	var secret struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &secret); err != nil {
		return err
	}
	closeURL := strings.TrimRight(os.Getenv("PAYJS_BASE_URL"), "/") + "/api/close"
	prefix := os.Getenv("BENCH_ORDER_PREFIX")
	n, _ := strconv.Atoi(os.Getenv("BENCH_CLOSES"))
	id := func(i int) string { return prefix + fmt.Sprintf("%0*d", 28-len(prefix), i) }

	if err := closeOrder(closeURL, secret.Key, id(0)); err != nil {
		return err
	}
	first := time.Since(start)
	t := time.Now()
	for i := 1; i <= n; i++ {
		if err := closeOrder(closeURL, secret.Key, id(i)); err != nil {
			return err
		}
	}
	per := 0.0
	if n > 0 {
		per = float64(time.Since(t).Microseconds()) / 1000 / float64(n)
	}
	fmt.Printf("{\"first_ms\":%.3f,\"per_close_ms\":%.4f}\n", float64(first.Microseconds())/1000, per)
	return nil
}

func closeOrder(closeURL, key, id string) error {
	sum := md5.Sum([]byte("payjs_order_id=" + id + "&key=" + key)) //nolint:gosec // PAYJS's signature
	resp, err := http.PostForm(closeURL, url.Values{               //nolint:gosec,noctx // the straightforward way, as a user writes it; the URL is the configuration
		"payjs_order_id": {id}, "sign": {strings.ToUpper(hex.EncodeToString(sum[:]))}})
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var answer struct {
		ReturnCode int    `json:"return_code"`
		ReturnMsg  string `json:"return_msg"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return err
	}
	if answer.ReturnCode != 1 {
		return fmt.Errorf("order %s: return_code %d %s", id, answer.ReturnCode, answer.ReturnMsg)
	}
	return nil
}
