// Command baseline is the minimal Go Lambda that `go run ./cmd/bench`
// measures payjs-close against: what a Go developer would write in an
// afternoon to close PAYJS orders. It is kept in the repository as a
// comparison point only, never deployed.
//
// Init loads the secret ({"mchid":"...","key":"..."}) named by
// PAYJS_SECRET_ID from Secrets Manager with aws-sdk-go-v2; each direct
// invoke {"payjs_order_id":"..."} signs with MD5 and POSTs to
// PAYJS_BASE_URL/api/close with net/http's default client, and returns
// PAYJS's answer. No response verification, no structured logging, no
// metrics. Build it like the real bootstrap:
//
//	CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags "-s -w" -o bootstrap ./cmd/bench/baseline
//
// For the benchmark it prints one line at the end of init,
// {"message":"init","init_ms":...}, timed from the start of main as the
// real bootstrap times its own, and one per close,
// {"message":"close","latency_ms":...}, timed as the real handler times
// its closes.
package main

import (
	"context"
	"crypto/md5" //nolint:gosec // PAYJS's signature algorithm
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type request struct {
	PayjsOrderID string `json:"payjs_order_id"`
}

func main() {
	start := time.Now()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(os.Getenv("PAYJS_SECRET_ID")),
	})
	if err != nil {
		panic(err)
	}
	var secret struct {
		MchID string `json:"mchid"`
		Key   string `json:"key"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &secret); err != nil {
		panic(err)
	}
	closeURL := strings.TrimRight(os.Getenv("PAYJS_BASE_URL"), "/") + "/api/close"
	fmt.Printf("{\"message\":\"init\",\"init_ms\":%.3f}\n", float64(time.Since(start).Microseconds())/1000)

	lambda.Start(func(ctx context.Context, req request) (map[string]any, error) {
		if req.PayjsOrderID == "" {
			return nil, errors.New("payjs_order_id is required")
		}
		start := time.Now()
		sum := md5.Sum([]byte("payjs_order_id=" + req.PayjsOrderID + "&key=" + secret.Key)) //nolint:gosec // PAYJS's signature
		form := url.Values{"payjs_order_id": {req.PayjsOrderID}, "sign": {strings.ToUpper(hex.EncodeToString(sum[:]))}}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, closeURL, strings.NewReader(form.Encode())) //nolint:gosec // G704: PAYJS_BASE_URL is the function's configuration
		if err != nil {
			return nil, err
		}
		hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(hreq) //nolint:gosec // G704: as above
		if err != nil {
			return nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		var answer map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			return nil, err
		}
		fmt.Printf("{\"message\":\"close\",\"latency_ms\":%.3f}\n", float64(time.Since(start).Microseconds())/1000)
		return answer, nil
	})
}
