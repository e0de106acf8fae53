package payjstest

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payjs-close/payjs-close/payjs"
)

// PAYJS's return_msg values, as the simulator answers them. Those of
// return_code 0 hold the markers of [payjs.Refusals]: MsgAlreadyClosed is
// [payjs.KindAlreadyClosed], MsgAlreadyPaid [payjs.KindPaid], MsgBadSign
// [payjs.KindKeyMismatch], and the others [payjs.KindRejected].
const (
	// MsgSuccess is the return_msg of a close that succeeded.
	MsgSuccess = "SUCCESS"
	// MsgBadSign: the request's sign does not verify under the order's
	// merchant key.
	MsgBadSign = "签名错误"
	// MsgNotFound: no such order (or its merchant is unknown).
	MsgNotFound = "订单不存在"
	// MsgExpired: the order is older than [CloseWindow].
	MsgExpired = "订单已超过30天，无法关闭"
	// MsgAlreadyClosed: the order is closed already.
	MsgAlreadyClosed = "订单已关闭"
	// MsgAlreadyPaid: the order is paid; it cannot be closed.
	MsgAlreadyPaid = "订单已支付"
	// MsgMissingParam, followed by the field name (payjs_order_id or
	// sign), answers a request without that field.
	MsgMissingParam = "缺少参数："
)

// Outcome is what the simulator did with one close request, as counted by
// [Server.Outcomes] and logged.
type Outcome string

// The outcomes of a close request.
const (
	OutcomeClosed        Outcome = "closed"         // return_code 1: the order is now closed
	OutcomeBadSign       Outcome = "bad_sign"       // MsgBadSign
	OutcomeNotFound      Outcome = "not_found"      // MsgNotFound
	OutcomeExpired       Outcome = "expired"        // MsgExpired
	OutcomeAlreadyClosed Outcome = "already_closed" // MsgAlreadyClosed
	OutcomeAlreadyPaid   Outcome = "already_paid"   // MsgAlreadyPaid
	OutcomeMissingParam  Outcome = "missing_param"  // MsgMissingParam
	OutcomeOrderFailure  Outcome = "order_failure"  // the order's FailStatus was answered
	OutcomeBadMethod     Outcome = "bad_method"     // not a POST: HTTP 405
	OutcomeFault         Outcome = "fault"          // a fault answered before PAYJS handled the request
	OutcomeAbandoned     Outcome = "abandoned"      // the client left during an injected Delay
)

// wrongKey signs the answers of FaultWrongSign.
const wrongKey = "payjstest-not-the-merchant-key"

// maxRequestBytes caps a request body; a close request is under 100 bytes.
const maxRequestBytes = 64 << 10

// answer is a PAYJS close answer before encoding.
type answer struct {
	code    int
	msg     string
	orderID string // "" when PAYJS does not name the order
	key     string // decoded merchant key that signs the answer; "" = unsigned
}

func (a answer) fields() map[string]string {
	f := map[string]string{"return_code": strconv.Itoa(a.code), "return_msg": a.msg}
	if a.orderID != "" {
		f["payjs_order_id"] = a.orderID
	}
	return f
}

// serveClose answers POST /api/close.
func (s *Server) serveClose(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.requests.Add(1)
	defer s.enter()()
	e := entry{returnCode: -1}
	defer func() {
		if e.outcome != "" {
			s.mu.Lock()
			s.outcomes[e.outcome]++
			s.mu.Unlock()
		}
		s.log(r, e, start)
	}()

	f, faulty := s.takeFault()
	if faulty {
		e.fault = f.Kind
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				e.outcome = OutcomeAbandoned
				return
			case <-s.done:
				t.Stop()
				e.outcome = OutcomeAbandoned
				return
			}
		}
		if !f.AfterClose && s.gatewayFault(w, r, f, &e) {
			e.outcome = OutcomeFault
			return
		}
	}

	if r.Method != http.MethodPost {
		e.outcome, e.status = OutcomeBadMethod, http.StatusMethodNotAllowed
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	_ = r.ParseForm() // like PHP's $_POST: what does not parse is absent
	form := make(map[string]string, len(r.PostForm))
	for name, values := range r.PostForm {
		form[name] = values[len(values)-1] // PHP keeps the last of repeated fields
	}
	e.orderID = logSafe(form["payjs_order_id"])

	a, status, outcome := s.close(form)
	e.outcome = outcome
	if faulty && f.AfterClose && s.gatewayFault(w, r, f, &e) {
		return // PAYJS's answer is lost behind the fault
	}
	if status != http.StatusOK {
		e.status = status
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, errorPage, status, http.StatusText(status))
		return
	}
	e.returnCode = a.code
	s.writeAnswer(w, r, a, f.Kind, &e)
}

// close does what PAYJS does with a close request's fields. It returns
// the answer, or an HTTP status other than 200 for an order with a
// FailStatus.
func (s *Server) close(form map[string]string) (answer, int, Outcome) {
	id := form["payjs_order_id"]
	if id == "" {
		return answer{code: 0, msg: MsgMissingParam + "payjs_order_id"}, http.StatusOK, OutcomeMissingParam
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o != nil && o.FailStatus != 0 {
		return answer{}, o.FailStatus, OutcomeOrderFailure
	}
	sign, ok := form["sign"]
	if !ok || sign == "" {
		return answer{code: 0, msg: MsgMissingParam + "sign"}, http.StatusOK, OutcomeMissingParam
	}
	if o == nil {
		return answer{code: 0, msg: MsgNotFound}, http.StatusOK, OutcomeNotFound
	}
	rawKey, ok := s.merchants[o.MchID]
	if !ok {
		return answer{code: 0, msg: MsgNotFound}, http.StatusOK, OutcomeNotFound
	}
	key := phpURLDecode(rawKey)
	// PAYJS signs every field it was sent except sign, and compares
	// exactly: the client must send upper-case hex.
	want := payjs.Sign(form, key)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sign)) != 1 {
		return answer{code: 0, msg: MsgBadSign, orderID: id}, http.StatusOK, OutcomeBadSign
	}
	outcome, msg := o.Verdict(s.now())
	a := answer{code: 0, msg: msg, orderID: id, key: key}
	if outcome == OutcomeClosed {
		o.State = StateClosed
		a.code = 1
	}
	return a, http.StatusOK, outcome
}

// gatewayFault answers for faults that keep the request from PAYJS. It
// reports whether it answered.
func (s *Server) gatewayFault(w http.ResponseWriter, r *http.Request, f Fault, e *entry) bool {
	h := w.Header()
	switch f.Kind {
	case FaultStatus:
		e.status = f.Status
		if e.status == 0 {
			e.status = http.StatusServiceUnavailable
		}
		if f.RetryAfter > 0 {
			secs := (f.RetryAfter + time.Second - 1) / time.Second
			h.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(e.status)
		_, _ = fmt.Fprintf(w, errorPage, e.status, http.StatusText(e.status))
	case FaultHTML:
		e.status = f.Status
		if e.status == 0 {
			e.status = http.StatusOK
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, wafPage)
	case FaultInvalidJSON:
		e.status = http.StatusOK
		h.Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, `{"return_code":1,"return_msg":"SUCCESS",}`)
	case FaultBody:
		e.status = f.Status
		if e.status == 0 {
			e.status = http.StatusOK
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(f.Body)))
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, f.Body)
	case FaultDrop:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		} else {
			panic(http.ErrAbortHandler) // HTTP/2: net/http resets the stream
		}
	default:
		return false
	}
	return true
}

// writeAnswer encodes a as PAYJS does, damaged as fault says.
func (s *Server) writeAnswer(w http.ResponseWriter, r *http.Request, a answer, fault FaultKind, e *entry) {
	fields := a.fields()
	var sign string
	switch {
	case a.key == "":
	case fault == FaultNoSign:
	case fault == FaultWrongSign:
		sign = payjs.Sign(fields, wrongKey)
	default:
		sign = payjs.Sign(fields, a.key)
	}
	body := encodeAnswer(a, sign)

	e.status = http.StatusOK
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	switch fault {
	case FaultTruncated:
		h.Set("Content-Length", strconv.Itoa(len(body)))
		// Less than the declared length: net/http then closes the
		// connection, and the client sees the body end early.
		_, _ = w.Write(body[:len(body)/2])
		return
	case FaultOversize:
		pad := payjs.MaxResponseBytes + 1024 - len(body)
		body = append(body, strings.Repeat(" ", pad)...)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// encodeAnswer writes a close answer as PHP's json_encode does by
// default: fields in PAYJS's order, return_code a number, non-ASCII as
// \uXXXX escapes and "/" as "\/".
func encodeAnswer(a answer, sign string) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"return_code":`...)
	b = strconv.AppendInt(b, int64(a.code), 10)
	b = append(b, `,"return_msg":`...)
	b = phpString(b, a.msg)
	if a.orderID != "" {
		b = append(b, `,"payjs_order_id":`...)
		b = phpString(b, a.orderID)
	}
	if sign != "" {
		b = append(b, `,"sign":`...)
		b = phpString(b, sign)
	}
	return append(b, '}')
}

func phpString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20 || r >= 0x7f:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			var units [2]rune
			n := 1
			units[0] = r
			if r > 0xffff {
				r -= 0x10000
				units[0], units[1], n = 0xd800+(r>>10), 0xdc00+(r&0x3ff), 2
			}
			for _, u := range units[:n] {
				b = append(b, '\\', 'u', hex[u>>12&0xf], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
			}
		default:
			b = append(b, byte(r))
		}
	}
	return append(b, '"')
}

// phpURLDecode decodes s as PHP's urldecode does, which PAYJS applies to
// keys: "+" is a space, "%XX" a byte, and a "%" without two hex digits
// stays as it is.
func phpURLDecode(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// logSafe returns an order id for a log line: well-formed ids as they
// are, anything else cut short and marked.
func logSafe(id string) string {
	if id == "" || payjs.ValidOrderID(id) {
		return id
	}
	if len(id) > 40 {
		id = id[:40]
	}
	return strconv.Quote(id) + "(malformed)"
}

const errorPage = `<html>
<head><title>%[1]d %[2]s</title></head>
<body>
<center><h1>%[1]d %[2]s</h1></center>
<hr><center>nginx</center>
</body>
</html>
`

const wafPage = `<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>访问被拦截</title></head>
<body><h1>您的访问请求可能对网站造成安全威胁，已被拦截。</h1></body>
</html>
`
