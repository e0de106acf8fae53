// Package payjs closes PAYJS orders: it signs requests as PAYJS does,
// sends them, verifies the signed answers and reports every failure as a
// typed [*Error] that a caller can classify without matching strings. It
// knows nothing of AWS; package payjstest is a PAYJS simulator to test
// against.
//
// One [Client] per merchant key; one [*http.Client] from [NewHTTPClient]
// per process, shared, so that keep-alive connections outlive each call:
//
//	hc := payjs.NewHTTPClient()
//	_ = payjs.Warm(ctx, hc, payjs.DefaultBaseURL) // optional: connect during init
//	c, err := payjs.NewClient(key, payjs.WithHTTPClient(hc), payjs.WithTimeout(5*time.Second))
//	if err != nil {
//		return err // KindInvalidInput: an empty key, or one holding "+" or "%"
//	}
//	res, err := c.CloseOrder(ctx, "2026112500000000000000000001")
//	switch payjs.KindOf(err) {
//	case "":                      // closed; res.Verified says whether the answer was signed
//	case payjs.KindAlreadyClosed: // closed before: a close is idempotent
//	case payjs.KindPaid:          // paid: it can never be closed
//	case payjs.KindKeyMismatch:   // PAYJS refused our signature: fix the key, then retry
//	case payjs.KindRejected:      // another refusal: err.(*payjs.Error).Result.ReturnMsg says why
//	case payjs.KindInvalidInput:  // a malformed order id: nothing was sent
//	default:                      // KindBadResponse, KindUnavailable, KindTimeout: Retryable
//	}
//
// [Sign] follows PAYJS's reference implementation: the "sign" field and
// every value that is "" or "0" are left out, names are sorted by byte
// order, name=value pairs are joined with "&" (raw UTF-8, no URL encoding,
// no trimming), "&key=" and the key are appended, and the MD5 digest is
// written in upper-case hex; testdata/payjs_sign.json pins it. [VerifySign]
// checks an answer's signature over all its top-level fields but "sign",
// in constant time.
//
// A close makes at most [WithMaxAttempts] requests within one time budget
// ([WithTimeout]) that a sooner context deadline shortens. Only
// connection failures and HTTP 5xx or 429 are retried, after a jittered
// exponential backoff or the server's Retry-After, whichever is longer. A
// return_code 0 answer is never retried: [Refusals] gives its Kind. TLS
// certificates are always verified.
package payjs
