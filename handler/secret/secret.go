// Package secret holds the PAYJS communication keys: it parses the secret's
// JSON, keeps the keys out of every log line, error and printout, and loads
// them from AWS Secrets Manager with an in-memory cache.
//
// The secret's SecretString is either one merchant or several:
//
//	{"mchid": "1528140051", "key": "..."}
//	{"merchants": [{"mchid": "1528140051", "key": "..."}, {"mchid": "...", "key": "..."}]}
//
// Typical use, once at cold start and then on every invoke:
//
//	store := secret.NewStore(secretsmanager.NewFromConfig(cfg), os.Getenv("PAYJS_SECRET_ID"),
//		secret.WithTTL(5*time.Minute), secret.WithLogger(logger))
//	set, err := store.Get(ctx) // errors.Is(err, secret.ErrUnavailable): answer config_unavailable
//	m, err := set.Lookup(req.MchID) // ErrMchIDRequired, ErrUnknownMerchant: invalid_request
//	client, err := payjs.NewClient(m.Key)
//
// *Store and *Set are the core's closing.Keys ([Store.Key], [Store.Rekey]):
// their errors match closing.ErrKeysUnavailable, closing.ErrMchIDRequired
// and closing.ErrUnknownMerchant, which closing maps to codes. A Set is
// keys that never change, as [One] makes for a key from the environment.
package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/payjs"
)

// redacted stands in for a key wherever a Merchant is printed.
const redacted = "[REDACTED]"

// Merchant is one PAYJS merchant: its number and its communication key.
//
// Printing a Merchant with any fmt verb, logging it with slog, or encoding it
// to JSON shows the mchid and "[REDACTED]" instead of the key; only an
// explicit read of the Key field yields the key. (fmt cannot call these
// methods for a Merchant held in an unexported field of another struct, so
// do not print such structs.)
type Merchant struct {
	// MchID is the PAYJS merchant number, 1 to 32 characters of [0-9A-Za-z].
	MchID string
	// Key is the communication key; it has passed [payjs.ValidateKey].
	Key string
}

// String returns the merchant with its key redacted, as %v prints it.
func (m Merchant) String() string {
	return "{" + m.MchID + " " + redacted + "}"
}

// GoString returns the merchant with its key redacted, as %#v prints it.
func (m Merchant) GoString() string {
	return fmt.Sprintf("secret.Merchant{MchID:%q, Key:%q}", m.MchID, redacted)
}

// Format prints the merchant with its key redacted, whatever the verb.
func (m Merchant) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, m.GoString())
	case verb == 'v' && f.Flag('+'):
		_, _ = io.WriteString(f, "{MchID:"+m.MchID+" Key:"+redacted+"}")
	default:
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), m.String())
	}
}

// LogValue makes slog log the mchid and a redacted key.
func (m Merchant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mchid", m.MchID), slog.String("key", redacted))
}

// MarshalJSON encodes the merchant with its key redacted, so that a Merchant
// can never reach a response or a JSON log line with its key.
func (m Merchant) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MchID string `json:"mchid"`
		Key   string `json:"key"`
	}{m.MchID, redacted})
}

// Set is the parsed content of one version of the secret: one or more
// merchants with distinct mchids. A Set is immutable and safe for concurrent
// use. Like [Merchant], it never prints, logs or encodes a key.
type Set struct {
	merchants []Merchant
	index     map[string]int
}

// Len returns the number of merchants in the set.
func (s *Set) Len() int { return len(s.merchants) }

// MchIDs returns the merchants' mchids in the order of the secret.
func (s *Set) MchIDs() []string {
	ids := make([]string, len(s.merchants))
	for i, m := range s.merchants {
		ids[i] = m.MchID
	}
	return ids
}

// Lookup returns the merchant that mchid names. An empty mchid picks the only
// merchant of a single-merchant set; with several merchants it is
// [ErrMchIDRequired]. An mchid the set does not hold is [ErrUnknownMerchant].
func (s *Set) Lookup(mchid string) (Merchant, error) {
	if mchid == "" {
		if len(s.merchants) == 1 {
			return s.merchants[0], nil
		}
		return Merchant{}, ErrMchIDRequired
	}
	if i, ok := s.index[mchid]; ok {
		return s.merchants[i], nil
	}
	if payjs.ValidOrderID(mchid) {
		return Merchant{}, fmt.Errorf("%w %s", ErrUnknownMerchant, mchid)
	}
	return Merchant{}, fmt.Errorf("%w (malformed mchid)", ErrUnknownMerchant)
}

// String lists the set's mchids; keys are never shown.
func (s *Set) String() string {
	return "secret.Set{mchids:[" + strings.Join(s.MchIDs(), " ") + "]}"
}

// GoString is String: keys are never shown.
func (s *Set) GoString() string { return s.String() }

// Format prints the set's mchids whatever the verb; keys are never shown.
func (s *Set) Format(f fmt.State, verb rune) {
	if verb == 'v' {
		_, _ = io.WriteString(f, s.String())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// LogValue makes slog log the number of merchants and their mchids.
func (s *Set) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("count", s.Len()), slog.Any("mchids", s.MchIDs()))
}

// MarshalJSON encodes the set with every key redacted.
func (s *Set) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Merchants []Merchant `json:"merchants"`
	}{s.merchants})
}

// Errors of [Set.Lookup]. The handler answers both with invalid_request.
var (
	// ErrMchIDRequired: the request named no mchid, but the secret holds
	// several merchants.
	ErrMchIDRequired = fmt.Errorf("secret: %w", closing.ErrMchIDRequired)
	// ErrUnknownMerchant: the request's mchid is not in the secret.
	ErrUnknownMerchant = fmt.Errorf("secret: %w", closing.ErrUnknownMerchant)
)

// MalformedError says what is wrong with a secret's text. Its message names
// the field and the problem, never the secret's text or any part of a key.
type MalformedError struct {
	// Field locates the problem, e.g. "key" or "merchants[1].mchid"; empty
	// when the problem is the secret as a whole.
	Field string
	// Problem says what is wrong, in lower case.
	Problem string
	// Err is payjs.ErrUnusableKey when the key can never verify; nil
	// otherwise.
	Err error
}

// Error returns "secret: malformed: FIELD: PROBLEM".
func (e *MalformedError) Error() string {
	return "secret: malformed: " + e.detail()
}

// detail returns "FIELD: PROBLEM", or PROBLEM when Field is empty: what
// a *LoadError, whose reason already says malformed, prints of it.
func (e *MalformedError) detail() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// Unwrap returns payjs.ErrUnusableKey for an unusable key, nil otherwise.
func (e *MalformedError) Unwrap() error { return e.Err }

// Parse parses a SecretString: {"mchid": "...", "key": "..."} or
// {"merchants": [{"mchid": "...", "key": "..."}, ...]}. Member names are
// matched exactly; other members are ignored. A UTF-8 byte-order mark
// before the JSON (as some editors save a file passed to put-secret-value)
// is skipped. Every key must pass [payjs.ValidateKey] and have no white
// space at either end, and every mchid [payjs.ValidOrderID]; mchids must be
// distinct.
//
// On failure the error is a *[MalformedError] that says what is wrong
// without quoting the text.
func Parse(text string) (*Set, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	if strings.TrimSpace(text) == "" {
		return nil, &MalformedError{Problem: "secret is empty"}
	}
	top, err := object([]byte(text), "")
	if err != nil {
		return nil, err
	}
	list, hasList := top["merchants"]
	_, hasMchID := top["mchid"]
	_, hasKey := top["key"]
	if !hasList {
		m, err := merchant(top, "")
		if err != nil {
			return nil, err
		}
		return newSet([]Merchant{m}), nil
	}
	if hasMchID || hasKey {
		return nil, &MalformedError{Problem: `holds both "merchants" and a top-level "mchid" or "key"; use one form`}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(list, &items); err != nil || items == nil {
		return nil, &MalformedError{Field: "merchants", Problem: "is not an array"}
	}
	if len(items) == 0 {
		return nil, &MalformedError{Field: "merchants", Problem: "is empty"}
	}
	ms := make([]Merchant, 0, len(items))
	seen := make(map[string]int, len(items))
	for i, item := range items {
		at := "merchants[" + strconv.Itoa(i) + "]"
		obj, err := object(item, at)
		if err != nil {
			return nil, err
		}
		m, err := merchant(obj, at+".")
		if err != nil {
			return nil, err
		}
		if j, dup := seen[m.MchID]; dup {
			return nil, &MalformedError{Field: at + ".mchid", Problem: fmt.Sprintf("duplicates merchants[%d].mchid %s", j, m.MchID)}
		}
		seen[m.MchID] = i
		ms = append(ms, m)
	}
	return newSet(ms), nil
}

func newSet(ms []Merchant) *Set {
	s := &Set{merchants: ms, index: make(map[string]int, len(ms))}
	for i, m := range ms {
		s.index[m.MchID] = i
	}
	return s
}

// object decodes a JSON object. Its errors never quote the input: a
// json.SyntaxError's message quotes a character of it, so only its offset
// is kept.
func object(data []byte, at string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	err := json.Unmarshal(data, &obj)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return nil, &MalformedError{Field: at, Problem: fmt.Sprintf("not JSON (syntax error at byte %d)", syntax.Offset)}
	case err != nil || obj == nil:
		problem := "not a JSON object"
		if at == "" && len(data) > 0 && data[0] == '"' {
			problem += " but a JSON string (encoded twice?)"
		}
		return nil, &MalformedError{Field: at, Problem: problem}
	}
	return obj, nil
}

// merchant reads and validates the "mchid" and "key" members of obj.
func merchant(obj map[string]json.RawMessage, at string) (Merchant, error) {
	mchid, err := member(obj, "mchid", at)
	if err != nil {
		return Merchant{}, err
	}
	if err := checkMchID(mchid, at); err != nil {
		return Merchant{}, err
	}
	key, err := member(obj, "key", at)
	if err != nil {
		return Merchant{}, err
	}
	if err := checkKey(key, at); err != nil {
		return Merchant{}, err
	}
	return Merchant{MchID: mchid, Key: key}, nil
}

// checkMchID refuses an mchid that is not one; at is where in the secret
// it was read, for the error.
func checkMchID(mchid, at string) error {
	if !payjs.ValidOrderID(mchid) {
		// The value is not quoted: a key pasted into the wrong field
		// would otherwise end up in the log.
		return &MalformedError{Field: at + "mchid", Problem: "must be 1 to 32 characters of [0-9A-Za-z]"}
	}
	return nil
}

// checkKey refuses a key PAYJS could never verify; at is where in the
// secret it was read, for the error.
func checkKey(key, at string) error {
	if err := payjs.ValidateKey(key); err != nil {
		problem := "unusable"
		var pe *payjs.Error
		if errors.As(err, &pe) {
			problem += ": " + pe.Msg
		}
		// Not wrapping the *payjs.Error: payjs.KindOf would then report
		// KindInvalidInput for what is a configuration failure.
		return &MalformedError{Field: at + "key", Problem: problem, Err: payjs.ErrUnusableKey}
	}
	if strings.TrimSpace(key) != key {
		// Refused, not trimmed: PAYJS signs with the key as the merchant
		// typed it there, so a trimmed key could be the wrong one too, and
		// every close would then fail as a key mismatch. Saying so at load
		// points at the secret instead.
		return &MalformedError{Field: at + "key", Err: payjs.ErrUnusableKey,
			Problem: "has white space (a space, tab or newline) at its start or end: store the key without it"}
	}
	return nil
}

// member returns the string member name of obj.
func member(obj map[string]json.RawMessage, name, at string) (string, error) {
	raw, ok := obj[name]
	if !ok || string(raw) == "null" {
		return "", &MalformedError{Field: at + name, Problem: "is missing"}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &MalformedError{Field: at + name, Problem: "is not a string"}
	}
	return s, nil
}
