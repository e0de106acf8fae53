package closing

import (
	"fmt"
	"time"
)

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
