package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
)

// invoke sends the event in file through the real bootstrap under
// aws-lambda-rie, with moto and the simulator, and prints the answer to
// stdout; everything the emulator and the function print goes to stderr.
// A Lambda function error is printed too, and is not an error of invoke.
func invoke(ctx context.Context, file string, getenv func(string) string, stdout, stderr io.Writer) error {
	payload, err := os.ReadFile(file) //nolint:gosec // G304: the event file the user names
	if err != nil {
		return err
	}
	if !json.Valid(payload) {
		return fmt.Errorf("%s is not JSON", file)
	}
	// The emulator's output is copied to stderr from another goroutine.
	stderr = &lineWriter{w: stderr}
	_, _ = fmt.Fprintln(stderr, "local: building the bootstrap; starting moto (Secrets Manager), the PAYJS simulator and aws-lambda-rie on 127.0.0.1")
	st, err := devstack.Start(ctx, devstack.Options{Output: stderr, Getenv: getenv})
	if err != nil {
		return err
	}
	defer st.Close()

	answer, err := st.Invoke(ctx, payload)
	var fe *devstack.FunctionError
	if err != nil && !errors.As(err, &fe) {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, answer, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(answer)
	}
	pretty.WriteByte('\n')
	if _, err := stdout.Write(pretty.Bytes()); err != nil {
		return err
	}
	if fe != nil {
		_, _ = fmt.Fprintf(stderr, "local: the function failed the invoke with errorType %q: a Lambda error, which Lambda retries (async events) or redelivers (SQS)\n", fe.Type)
	}
	return nil
}
