// Command payjs-smoke checks, once, with a merchant's own key and the real
// PAYJS, that the function reads PAYJS's answers the way PAYJS words them.
// The function recognizes PAYJS's refusals by their wording ("already
// closed", "paid", "signature"), and that wording has not been confirmed
// by a live call: run this before production.
//
// It closes an order the merchant created for the purpose, then closes it
// again, through the function's own handler and PAYJS client, and prints
// for both answers PAYJS's return_code and return_msg, whether the
// answer's signature verified, and how the function classifies them
// (status/error code). The expected outcome is "closed", then
// "already_closed"; anything else is explained, and a wording the function
// does not know is reported loudly. It never prints the key or a
// signature.
//
// Usage:
//
//	PAYJS_MCHID=1528140051 PAYJS_KEY=... payjs-smoke -order 2026112500000000000000000001
//	PAYJS_SECRET_ID=payjs-close/prod     payjs-smoke -order 2026112500000000000000000001
//	make smoke ORDER=2026112500000000000000000001
//
// The key comes from the environment: PAYJS_MCHID and PAYJS_KEY, or
// PAYJS_SECRET_ID, the Secrets Manager secret the function reads (through
// the standard AWS configuration: AWS_PROFILE, AWS_REGION, ...), with
// PAYJS_MCHID picking the merchant when the secret holds several.
//
// The flags:
//
//	-order     payjs_order_id of an unpaid order created for this check (required; it gets closed)
//	-base-url  PAYJS endpoint base (default https://payjs.cn)
//	-timeout   time budget of each close, retries included (default 5s)
//
// It exits 0 when PAYJS's answers were read as expected, 1 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/payjs-close/payjs-close/payjs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "payjs-smoke:", err)
		os.Exit(1)
	}
}

// run checks one order. args are the command line (args[0] the program
// name); getenv is os.Getenv outside tests. The report goes to stdout,
// usage to stderr; an error means the check did not confirm the function's
// reading of PAYJS.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	order := fs.String("order", "", "payjs_order_id of an unpaid order created for this check (required; it gets closed)")
	baseURL := fs.String("base-url", payjs.DefaultBaseURL, "PAYJS endpoint `base` URL")
	timeout := fs.Duration("timeout", payjs.DefaultTimeout, "time `budget` of each close, retries included")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "usage: %s -order ID [-base-url URL] [-timeout 5s]\n\n"+
			"Closes the order twice with the merchant's key (PAYJS_MCHID and PAYJS_KEY, or PAYJS_SECRET_ID)\n"+
			"and shows how the function reads PAYJS's answers.\n\n", fs.Name())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		// Not quoted: a key pasted on the command line would be shown.
		return fmt.Errorf("unexpected arguments after the flags (%d of them)", fs.NArg())
	case *order == "":
		return errors.New("-order is required: the payjs_order_id of an unpaid order you created for this check")
	case !payjs.ValidOrderID(*order):
		// Not quoted: whatever was pasted there may be secret.
		return errors.New("-order must be a payjs_order_id: 1 to 32 characters of [0-9A-Za-z]")
	case *timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	if err := payjs.CheckBaseURL(*baseURL); err != nil {
		return fmt.Errorf("-base-url: %w", err)
	}

	k, err := loadKeys(ctx, getenv)
	if err != nil {
		return err
	}
	s := newSmoke(k, *baseURL, *timeout)
	first, err := s.close(ctx, *order, k.mchid)
	if err != nil {
		return err
	}
	second, err := s.close(ctx, *order, k.mchid)
	if err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "payjs-smoke: asked PAYJS at %s to close order %s twice, as merchant %s (key from %s)\n\n",
		*baseURL, *order, k.mchid, k.from)
	first.print(&b, "first close")
	second.print(&b, "second close")
	b.WriteString("\n")
	verr := verdict(&b, first, second)
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return err
	}
	return verr
}
