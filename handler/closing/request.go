package closing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
)

// Request is one request, whatever event carried it: close an order now,
// schedule its close, or cancel a scheduled close.
type Request struct {
	// PayjsOrderID is the PAYJS order to close.
	PayjsOrderID string
	// MchID picks the merchant when the secret holds several; it is
	// never sent to PAYJS.
	MchID string
	// CloseAt (RFC 3339) or CloseAfter (a Go duration such as 15m)
	// schedule the close instead of closing now; at most one is set.
	CloseAt    string
	CloseAfter string
	// Cancel asks to delete the order's scheduled close.
	Cancel bool
	// Scheduled marks the close a schedule fires. Finding the order paid
	// is then the customer paying in time, not news for an operator.
	Scheduled bool
}

// maxScheduleAhead is how far ahead a close may be scheduled: PAYJS closes
// only orders up to 30 days old.
const maxScheduleAhead = 30 * 24 * time.Hour

// validate checks a Request before any network call and returns when its
// close is due: the zero time means now, as for a time within closeNow.
// Valid ids, order ids and mchids alike, are [0-9A-Za-z]{1,32}
// (payjs.ValidOrderID, the one check of that alphabet), so no value can
// smuggle a separator into the string PAYJS signs.
func (r Request) validate(now time.Time, closeNow time.Duration) (at time.Time, err error) {
	switch {
	case r.PayjsOrderID == "":
		return at, Errorf(CodeInvalidRequest, "payjs_order_id is required")
	case !payjs.ValidOrderID(r.PayjsOrderID):
		return at, Errorf(CodeInvalidOrderID, "payjs_order_id must be 1 to 32 characters of [0-9A-Za-z]")
	case r.MchID != "" && !payjs.ValidOrderID(r.MchID):
		return at, Errorf(CodeInvalidRequest, "mchid must be 1 to 32 characters of [0-9A-Za-z]")
	case r.CloseAt != "" && r.CloseAfter != "":
		return at, Errorf(CodeInvalidRequest, "give close_at or close_after, not both")
	case r.Cancel && (r.CloseAt != "" || r.CloseAfter != ""):
		return at, Errorf(CodeInvalidRequest, "a cancel takes no close_at or close_after")
	case r.CloseAt != "":
		if at, err = parseCloseAt(r.CloseAt); err != nil {
			return at, err
		}
	case r.CloseAfter != "":
		d, err := time.ParseDuration(r.CloseAfter)
		if err != nil {
			return at, Errorf(CodeInvalidRequest, "close_after must be a duration such as 15m or 2h")
		}
		at = now.Add(d)
	}
	switch {
	case at.IsZero():
	case at.Sub(now) > maxScheduleAhead:
		return time.Time{}, Errorf(CodeInvalidRequest, "a close may be scheduled at most 30 days ahead: PAYJS closes only orders up to 30 days old")
	case at.Sub(now) <= closeNow:
		at = time.Time{} // due within a minute, or past: close now
	}
	return at, nil
}

// requestFields are the members a JSON request may carry, wherever it
// comes from (HTTP body, EventBridge detail, SQS body, direct invoke).
var requestFields = []string{"payjs_order_id", "mchid", "close_at", "close_after", "action", "scheduled"}

// formFields are the fields a form body may carry: a form comes from a
// caller, never from a schedule, so it has no "scheduled".
var formFields = requestFields[:5:5]

// foldName is how a member name is compared for a near miss: ASCII
// lower-case, without '-', '_' and ASCII white space. Only ASCII is
// folded: any other byte stays, so a name such as "cloſe_after" is
// compared byte by byte and caught, or not, by its distance.
func foldName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '-' || c == '_' || c == ' ' || '\t' <= c && c <= '\r':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// typoLimits is how many edits (a byte inserted, deleted or replaced,
// after foldName) a name may be from a field and still count as a
// misspelling of it: a lost close_at or close_after would close now what
// was meant for later, a lost action close what was meant to be
// canceled, a second order id or merchant beside the first be a way
// around a front end's checks. close_at and the short fields allow one
// edit, since more would catch a shop's own closed or close_by; scheduled,
// which only the function's schedules send, is matched by case and
// separators alone, as every field also is.
var typoLimits = map[string]int{"payjs_order_id": 2, "close_after": 2, "close_at": 1, "action": 1, "mchid": 1}

// notTypos are folded names within typoLimits of a field that callers
// carry for their own sake beside a request: a shop's order data in an
// EventBridge detail or a Step Functions state.
var notTypos = []string{"closedat", "actions"}

// nearMiss returns the field of fields that name spells another way, or
// "": after folding (foldName), name equals a field (closeAfter, Close_At,
// "close_after ", PAYJS_ORDER_ID, MchId), or is within typoLimits of one
// (close_afer, cloſe_after, acton). Other names that envelopes and callers
// carry (version, source, id, time, scheduled_at, closed_at, closed,
// schedule_id, actions, order, amount, status) stay ignored.
func nearMiss(name string, fields []string) string {
	if slices.Contains(fields, name) {
		return ""
	}
	f := foldName(name)
	if slices.Contains(notTypos, f) {
		return ""
	}
	best, bestDist := "", 3
	for _, field := range fields {
		limit := typoLimits[field]
		if d := editDistance(f, foldName(field), limit); d <= limit && d < bestDist {
			best, bestDist = field, d
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between the bytes of a and
// b, or limit+1 as soon as it is known to exceed limit (a hostile name may
// be long).
func editDistance(a, b string, limit int) int {
	if len(a)-len(b) > limit || len(b)-len(a) > limit {
		return limit + 1
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func hint(what, name, field string) *Error {
	return Errorf(CodeInvalidRequest, fmt.Sprintf("unknown %s %q: did you mean %q?", what, Clip(name), field))
}

// members reads the top-level members of a JSON object in order, keeping
// the value of each request field. Names match exactly: a request field
// given twice is refused, naming it, and so is a name that spells one
// another way (a case or separator variant, or a near miss: see
// [nearMiss]), with a hint; encoding/json
// alone would take the last of them, matched case-insensitively, and a
// front end checking the first or the exact name could be bypassed.
// Other members are ignored (envelopes carry other data) and counted in
// others.
func members(raw []byte) (vals map[string]json.RawMessage, others int, err error) {
	notJSON := Errorf(CodeInvalidRequest, "request is not valid JSON")
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, 0, Errorf(CodeInvalidRequest, "request must be a JSON object")
	}
	vals = make(map[string]json.RawMessage, len(requestFields))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, 0, notJSON
		}
		name, _ := t.(string) // inside an object, Token returns names as strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, 0, notJSON
		}
		if field := nearMiss(name, requestFields); field != "" {
			return nil, 0, hint("field", name, field)
		}
		if !slices.Contains(requestFields, name) {
			others++
			continue
		}
		if _, dup := vals[name]; dup {
			return nil, 0, Errorf(CodeInvalidRequest, fmt.Sprintf("member %q is given more than once", name))
		}
		vals[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, 0, notJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, notJSON // something after the object
	}
	return vals, others, nil
}

// MisspelledOrderID answers an object of no known kind whose top level
// (members) spells payjs_order_id another way (PAYJS_ORDER_ID,
// payjsOrderId): it is a direct request with a typo, and the hint says so.
// It answers nil otherwise.
func MisspelledOrderID(members map[string]json.RawMessage) *Error {
	for _, name := range slices.Sorted(maps.Keys(members)) {
		if nearMiss(name, requestFields[:1]) != "" {
			return hint("field", name, "payjs_order_id")
		}
	}
	return nil
}

// DecodeRequest reads a Request from a JSON object (direct invokes,
// EventBridge detail, SQS bodies). Member names match exactly, see
// [members]; the values are read one by one, so that a number or an object
// is refused with a message naming the member.
func DecodeRequest(raw []byte) (Request, error) {
	vals, _, err := members(raw)
	if err != nil {
		return Request{}, err
	}
	return requestOf(vals)
}

// DecodeJSONBody reads a JSON HTTP body. Unlike an envelope, a body is all
// request: a non-empty object holding none of the request fields is
// refused rather than ignored ({} is an empty request).
func DecodeJSONBody(body []byte) (Request, error) {
	vals, others, err := members(body)
	if err != nil {
		return Request{}, err
	}
	if len(vals) == 0 && others > 0 {
		return Request{}, Errorf(CodeInvalidRequest, "the body holds none of the request fields: "+strings.Join(formFields, ", "))
	}
	return requestOf(vals)
}

// DecodeForm reads a form body. Every field must be a request field,
// given once: a name read as nothing would close the order now.
func DecodeForm(body []byte) (Request, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return Request{}, Errorf(CodeInvalidRequest, "body is not a valid form")
	}
	if len(v) == 0 {
		return Request{}, Errorf(CodeInvalidRequest, "the form body holds no fields")
	}
	for _, name := range slices.Sorted(maps.Keys(v)) {
		switch {
		case nearMiss(name, formFields) != "":
			return Request{}, hint("form field", name, nearMiss(name, formFields))
		case !slices.Contains(formFields, name):
			return Request{}, Errorf(CodeInvalidRequest, fmt.Sprintf("unknown form field %q: the fields are %s", Clip(name), strings.Join(formFields, ", ")))
		case len(v[name]) > 1:
			return Request{}, Errorf(CodeInvalidRequest, "each form field may appear at most once: "+Clip(name))
		}
	}
	for _, name := range []string{"close_at", "close_after"} {
		if vs, ok := v[name]; ok && vs[0] == "" {
			return Request{}, emptyWhen(name)
		}
	}
	req := Request{
		PayjsOrderID: v.Get("payjs_order_id"),
		MchID:        v.Get("mchid"),
		CloseAt:      v.Get("close_at"),
		CloseAfter:   v.Get("close_after"),
	}
	return req, setAction(&req, v.Get("action"))
}

// requestOf reads a Request from the values of the request fields.
func requestOf(vals map[string]json.RawMessage) (Request, error) {
	var req Request
	var action string
	for _, m := range []struct {
		name string
		to   *string
	}{
		{"payjs_order_id", &req.PayjsOrderID},
		{"mchid", &req.MchID},
		{"close_at", &req.CloseAt},
		{"close_after", &req.CloseAfter},
		{"action", &action},
	} {
		if raw, ok := vals[m.name]; ok && json.Unmarshal(raw, m.to) != nil {
			return Request{}, Errorf(CodeInvalidRequest, m.name+" must be a string")
		}
	}
	for _, name := range []string{"close_at", "close_after"} {
		if raw, ok := vals[name]; ok && (string(raw) == "null" || string(raw) == `""`) {
			return Request{}, emptyWhen(name)
		}
	}
	req.Scheduled = scheduledMark(vals)
	return req, setAction(&req, action)
}

// emptyWhen refuses a close_at or close_after given empty ("", null, or
// close_after= in a form): read as absent, it would close the order now.
func emptyWhen(name string) *Error {
	example := "a duration such as 15m"
	if name == "close_at" {
		example = "an RFC 3339 time such as 2026-11-29T12:00:00Z"
	}
	return Errorf(CodeInvalidRequest, name+" is empty: give "+example+", or leave the field out")
}

// setAction applies the action member: "close" (or none) or "cancel".
func setAction(req *Request, action string) error {
	switch action {
	case "", "close":
	case "cancel":
		req.Cancel = true
	default:
		return Errorf(CodeInvalidRequest, `action must be "close" or "cancel"`)
	}
	return nil
}

// maxQuotedInput bounds how much of a caller's (possibly hostile) value
// goes into a message or a log line.
const maxQuotedInput = 64

// Clip cuts a caller's value to what a message or a log line quotes of it.
func Clip(s string) string {
	if len(s) > maxQuotedInput {
		return ClipUTF8(s, maxQuotedInput) + "…"
	}
	return s
}

// parseCloseAt reads close_at as an RFC 3339 date-time (section 5.6),
// exactly: YYYY-MM-DDThh:mm:ss, optional '.' and fractional seconds, then
// Z or an offset ±hh:mm within ±23:59; 'T' and 'Z' in either case.
// time.Parse(time.RFC3339) is looser (it takes +24:00 and a ',' before the
// fraction) and stricter (it refuses a lower-case 't' or 'z') than that,
// and an accepted nonsense time would close the order now. The error
// says what was wrong.
func parseCloseAt(s string) (time.Time, error) {
	p := &timeParser{s: s}
	year := p.digits(4, "the date must be YYYY-MM-DD")
	p.lit('-', "the date must be YYYY-MM-DD")
	month := p.digits(2, "the date must be YYYY-MM-DD")
	p.lit('-', "the date must be YYYY-MM-DD")
	day := p.digits(2, "the date must be YYYY-MM-DD")
	switch {
	case p.err != nil:
	case p.i >= len(s):
		p.fail("the time is missing: give a date, 'T', a time and a time zone")
	case s[p.i] != 'T' && s[p.i] != 't':
		p.fail("separate the date and the time with 'T'")
	}
	p.i++
	hour := p.digits(2, "the time must be hh:mm:ss")
	p.lit(':', "the time must be hh:mm:ss")
	minute := p.digits(2, "the time must be hh:mm:ss")
	p.lit(':', "the time must be hh:mm:ss")
	sec := p.digits(2, "the time must be hh:mm:ss")
	nsec := p.fraction()
	offset := p.offset()
	if p.err == nil && p.i < len(s) {
		p.fail("unexpected text after the time zone")
	}
	if p.err != nil {
		return time.Time{}, p.err
	}
	switch {
	case month < 1 || month > 12:
		return time.Time{}, closeAtError(fmt.Sprintf("month %02d is out of range", month))
	case day < 1 || day > daysIn(year, month):
		return time.Time{}, closeAtError(fmt.Sprintf("day %02d is out of range for %04d-%02d", day, year, month))
	case hour > 23:
		return time.Time{}, closeAtError(fmt.Sprintf("hour %02d is out of range", hour))
	case minute > 59:
		return time.Time{}, closeAtError(fmt.Sprintf("minute %02d is out of range", minute))
	case sec == 60:
		return time.Time{}, closeAtError("second 60 (a leap second) is not supported")
	case sec > 60:
		return time.Time{}, closeAtError(fmt.Sprintf("second %02d is out of range", sec))
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.FixedZone("", offset)), nil
}

func closeAtError(problem string) *Error {
	return Errorf(CodeInvalidRequest, "close_at must be an RFC 3339 time such as 2026-11-29T12:00:00Z: "+problem)
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// timeParser reads s from i on; the first problem sticks in err.
type timeParser struct {
	s   string
	i   int
	err error
}

func (p *timeParser) fail(problem string) {
	if p.err == nil {
		p.err = closeAtError(problem)
	}
}

// digits reads n ASCII digits.
func (p *timeParser) digits(n int, problem string) int {
	v := 0
	for range n {
		if p.err != nil || p.i >= len(p.s) || p.s[p.i] < '0' || p.s[p.i] > '9' {
			p.fail(problem)
			return 0
		}
		v = v*10 + int(p.s[p.i]-'0')
		p.i++
	}
	return v
}

func (p *timeParser) lit(c byte, problem string) {
	if p.err == nil && (p.i >= len(p.s) || p.s[p.i] != c) {
		p.fail(problem)
	}
	p.i++
}

// fraction reads an optional '.' and one or more digits, as nanoseconds
// (digits past the ninth are dropped).
func (p *timeParser) fraction() (nsec int) {
	if p.err != nil || p.i >= len(p.s) {
		return 0
	}
	switch p.s[p.i] {
	case ',':
		p.fail("use '.' before fractional seconds")
		return 0
	case '.':
	default:
		return 0
	}
	p.i++
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		if p.i-start < 9 {
			nsec = nsec*10 + int(p.s[p.i]-'0')
		}
		p.i++
	}
	if p.i == start {
		p.fail("fractional seconds need a digit after '.'")
		return 0
	}
	for n := p.i - start; n < 9; n++ {
		nsec *= 10
	}
	return nsec
}

// offset reads Z or ±hh:mm and returns it in seconds east of UTC.
func (p *timeParser) offset() int {
	if p.err != nil {
		return 0
	}
	if p.i >= len(p.s) {
		p.fail("the time zone is missing: end with Z or an offset such as +08:00")
		return 0
	}
	sign := 1
	switch p.s[p.i] {
	case 'Z', 'z':
		p.i++
		return 0
	case '+':
	case '-':
		sign = -1
	default:
		p.fail("the time zone must be Z or an offset such as +08:00")
		return 0
	}
	start := p.i
	p.i++
	h := p.digits(2, "the offset must be ±hh:mm, such as +08:00")
	p.lit(':', "the offset must be ±hh:mm, such as +08:00")
	m := p.digits(2, "the offset must be ±hh:mm, such as +08:00")
	if p.err == nil && (h > 23 || m > 59) {
		p.fail(fmt.Sprintf("offset %s is out of range (at most ±23:59)", p.s[start:p.i]))
	}
	return sign * (h*3600 + m*60)
}
