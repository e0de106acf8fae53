// Command closeorder is the payjs-close Lambda function's bootstrap: it
// reads the configuration, builds the dependencies once per sandbox and
// hands the handler to the Lambda runtime. Build it with
// -tags lambda.norpc (see the Makefile's build-CloseOrderFunction).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/payjs-close/payjs-close/cmd/closeorder/wire"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout, func(h lambda.Handler) { lambda.Start(h) }); err != nil {
		fmt.Fprintf(os.Stderr, `{"level":"ERROR","message":"init failed","error":%q}`+"\n", err.Error())
		os.Exit(1)
	}
}

// run builds the handler and passes it to start, which for the real
// runtime never returns.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, start func(lambda.Handler)) error {
	h, err := wire.Build(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	start(h)
	return nil
}
