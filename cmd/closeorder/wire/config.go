package wire

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/payjs-close/payjs-close/payjs"
)

// Config is the function's configuration, read once at init from the
// environment. The README lists the variables.
type Config struct {
	// SecretID names the Secrets Manager secret holding the key(s).
	SecretID string
	// BaseURL is the PAYJS endpoint base.
	BaseURL string
	// Timeout is the budget of one close, retries included.
	Timeout time.Duration
	// SecretTTL is how long a loaded key is used before it is refreshed;
	// 0 means never refresh.
	SecretTTL time.Duration
	// RequireSignature makes an unsigned PAYJS success a bad response.
	RequireSignature bool
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// LogLevelNote says why a log level setting was not taken as it
	// reads; "" when it was.
	LogLevelNote string
	// SQSConcurrency bounds the closes of one SQS batch run at once.
	SQSConcurrency int
	// ScheduleGroup is the EventBridge Scheduler group of scheduled
	// closes; "" turns scheduling off.
	ScheduleGroup string
	// ScheduleRoleARN is the role Scheduler assumes to send a due close
	// to ScheduleTargetARN, the close queue; ScheduleDLQARN the queue a
	// schedule's failed sends go to.
	ScheduleRoleARN   string
	ScheduleTargetARN string
	ScheduleDLQARN    string
	// MetricsStack is the value of the Stack dimension every metric
	// carries, so that two stacks in one account and region never share
	// a metric; "" publishes the metrics without it.
	MetricsStack string
	// OutcomeBus is the EventBridge bus (name or ARN) that outcome events
	// go to; "" publishes none.
	OutcomeBus string
	// OutcomeAll publishes the outcomes of HTTP and synchronous direct
	// requests too.
	OutcomeAll bool
}

// ConfigError names the environment variable whose value is wrong.
type ConfigError struct {
	Var    string
	Reason string
}

func (e *ConfigError) Error() string { return "config: " + e.Var + ": " + e.Reason }

// LoadConfig reads and validates the configuration through getenv
// (os.Getenv in production; a map in tests). The first bad value is
// returned as a *ConfigError naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		BaseURL:        payjs.DefaultBaseURL,
		Timeout:        payjs.DefaultTimeout,
		SecretTTL:      5 * time.Minute,
		LogLevel:       slog.LevelInfo,
		SQSConcurrency: 10,
	}
	c.SecretID = strings.TrimSpace(getenv("PAYJS_SECRET_ID"))
	if c.SecretID == "" {
		return c, &ConfigError{"PAYJS_SECRET_ID", "is required: the name or ARN of the secret holding the PAYJS key"}
	}
	if v := getenv("PAYJS_BASE_URL"); v != "" {
		if err := payjs.CheckBaseURL(v); err != nil {
			return c, &ConfigError{"PAYJS_BASE_URL", "must be https:// (http:// only on loopback), without query or credentials"}
		}
		c.BaseURL = strings.TrimRight(v, "/")
	}
	var err error
	if c.Timeout, err = duration(getenv, "PAYJS_TIMEOUT", c.Timeout, false); err != nil {
		return c, err
	}
	if c.SecretTTL, err = duration(getenv, "PAYJS_SECRET_TTL", c.SecretTTL, true); err != nil {
		return c, err
	}
	if v := getenv("PAYJS_REQUIRE_SIGNATURE"); v != "" {
		if c.RequireSignature, err = strconv.ParseBool(v); err != nil {
			return c, &ConfigError{"PAYJS_REQUIRE_SIGNATURE", fmt.Sprintf("%q is not true or false", v)}
		}
	}
	// PAYJS_LOG_LEVEL first: the template lets Lambda pass every line
	// (ApplicationLogLevel TRACE, so metric lines, which carry no level,
	// always reach CloudWatch) and gives the function its level there.
	for _, name := range []string{"PAYJS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL"} {
		if v := getenv(name); v != "" {
			c.LogLevel, c.LogLevelNote = logLevel(name, v)
			break
		}
	}
	if v := getenv("PAYJS_SQS_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return c, &ConfigError{"PAYJS_SQS_CONCURRENCY", fmt.Sprintf("%q is not a whole number from 1 to 100", v)}
		}
		c.SQSConcurrency = n
	}
	c.ScheduleGroup = strings.TrimSpace(getenv("PAYJS_SCHEDULE_GROUP"))
	c.ScheduleRoleARN = strings.TrimSpace(getenv("PAYJS_SCHEDULE_ROLE_ARN"))
	c.ScheduleDLQARN = strings.TrimSpace(getenv("PAYJS_SCHEDULE_DLQ_ARN"))
	c.MetricsStack = strings.TrimSpace(getenv("PAYJS_METRICS_STACK"))
	if c.ScheduleGroup != "" && !strings.HasPrefix(c.ScheduleRoleARN, "arn:") {
		return c, &ConfigError{"PAYJS_SCHEDULE_ROLE_ARN", "must be the ARN of the role EventBridge Scheduler assumes when PAYJS_SCHEDULE_GROUP is set"}
	}
	c.ScheduleTargetARN = strings.TrimSpace(getenv("PAYJS_SCHEDULE_TARGET_ARN"))
	if c.ScheduleGroup != "" && !isSQSARN(c.ScheduleTargetARN) {
		return c, &ConfigError{"PAYJS_SCHEDULE_TARGET_ARN", "must be the close queue's ARN (arn:aws:sqs:REGION:ACCOUNT:NAME) when PAYJS_SCHEDULE_GROUP is set: scheduled closes go through the queue"}
	}
	return c, outcomeConfig(getenv, &c)
}

// outcomeConfig reads where outcome events go (handler/outcome.go).
func outcomeConfig(getenv func(string) string, c *Config) error {
	c.OutcomeBus = strings.TrimSpace(getenv("PAYJS_OUTCOME_BUS"))
	if c.OutcomeBus != "" && !validOutcomeBus(c.OutcomeBus) {
		return &ConfigError{"PAYJS_OUTCOME_BUS", "must be an EventBridge event bus name or ARN"}
	}
	if v := getenv("PAYJS_OUTCOME_ALL"); v != "" {
		var err error
		if c.OutcomeAll, err = strconv.ParseBool(v); err != nil {
			return &ConfigError{"PAYJS_OUTCOME_ALL", fmt.Sprintf("%q is not true or false", v)}
		}
		if c.OutcomeAll && c.OutcomeBus == "" {
			return &ConfigError{"PAYJS_OUTCOME_ALL", "needs PAYJS_OUTCOME_BUS: there is no bus to publish to"}
		}
	}
	return nil
}

// validOutcomeBus reports whether s is an event bus name or an event bus
// ARN (arn:aws...:events:REGION:ACCOUNT:event-bus/NAME). No regexp: one
// compiled at init costs every cold start (a {1,256} alone is 350 KB).
func validOutcomeBus(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) == 1 {
		return validBusName(s)
	}
	name, isBus := strings.CutPrefix(parts[len(parts)-1], "event-bus/")
	return len(parts) == 6 && parts[0] == "arn" && strings.HasPrefix(parts[1], "aws") && parts[2] == "events" &&
		parts[3] != "" && len(parts[4]) == 12 && strings.Trim(parts[4], "0123456789") == "" && isBus && validBusName(name)
}

// validBusName reports whether s is an event bus name: 1 to 256 of
// [A-Za-z0-9._/-].
func validBusName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("._/-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isSQSARN reports whether s is an SQS queue's ARN, in any partition.
func isSQSARN(s string) bool {
	p := strings.Split(s, ":")
	return len(p) == 6 && p[0] == "arn" && strings.HasPrefix(p[1], "aws") && p[2] == "sqs" && p[3] != "" && p[4] != "" && p[5] != ""
}

// logLevel reads a log level. Lambda's ApplicationLogLevel may also be
// TRACE or FATAL, and an operator may set it mid-incident: no value stops
// the function; one slog does not know is logged at INFO, with a note.
func logLevel(name, v string) (slog.Level, string) {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "TRACE":
		return slog.LevelDebug, ""
	case "FATAL":
		return slog.LevelError, ""
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return slog.LevelInfo, fmt.Sprintf("%s=%q is not a log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL): logging at INFO", name, v)
	}
	return l, ""
}

func duration(getenv func(string) string, name string, def time.Duration, zeroOK bool) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return def, &ConfigError{name, fmt.Sprintf("%q is not a duration such as 5s or 5m", v)}
	case d < 0 || (d == 0 && !zeroOK):
		return def, &ConfigError{name, fmt.Sprintf("%q must be positive", v)}
	case name == "PAYJS_TIMEOUT" && d > 15*time.Minute:
		return def, &ConfigError{name, fmt.Sprintf("%q is longer than any Lambda invocation", v)}
	}
	return d, nil
}
