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
//	res, err := c.Close(ctx, "2026112500000000000000000001")
//	switch payjs.KindOf(err) {
//	case "":                     // closed; res.Verified says whether the answer was signed
//	case payjs.KindRejected:     // return_code 0: err.(*payjs.Error).Result.ReturnMsg says why
//	case payjs.KindInvalidInput: // a malformed order id: nothing was sent
//	default:                     // KindBadResponse, KindUnavailable, KindTimeout: Retryable
//	}
//
// # Signing
//
// [Sign] follows PAYJS's reference implementation: the "sign" field and
// every value that is "" or "0" are left out, names are sorted by byte
// order, name=value pairs are joined with "&" (raw UTF-8, no URL encoding,
// no trimming), "&key=" and the key are appended, and the MD5 digest is
// written in upper-case hex. testdata/payjs_sign.json, a copy of the
// project's shared vectors computed with PAYJS's own code, pins it.
// [VerifySign] checks an answer's signature over all its top-level fields
// but "sign" (numbers as their literal JSON text, see [ParseResponse]) in
// constant time.
//
// # Retries and time
//
// A Close makes at most [WithMaxAttempts] requests within one time budget
// ([WithTimeout]) that a sooner context deadline shortens. Only
// connection failures and HTTP 5xx or 429 are retried, after an
// exponential, jittered backoff or the server's Retry-After, whichever is
// longer, and only while the budget allows the wait. A return_code 0
// answer is never retried. TLS certificates are always verified.
//
// # Performance
//
// Measured with
//
//	go test ./payjs -run='^$' -bench=. -benchmem -count=5
//
// on 2026-11-25 (go1.26.8 linux/amd64, 2 cores of an AMD EPYC), five runs:
//
//	BenchmarkSign-2     228-258 ns/op     160 B/op     3 allocs/op
//	BenchmarkClose-2    42.3-45.1 µs/op   11.8 kB/op   139 allocs/op
//
// BenchmarkClose is one whole close against the payjstest simulator on
// loopback over a kept-alive connection (sign, POST, read, parse, verify)
// and includes the simulator's own work and allocations, which run in the
// same process. Against PAYJS the network round trip dominates.
package payjs
