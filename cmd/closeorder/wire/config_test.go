package wire

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env("PAYJS_SECRET_ID", "payjs-close"))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{SecretID: "payjs-close", BaseURL: "https://payjs.cn", Timeout: 5 * time.Second,
		SecretTTL: 5 * time.Minute, LogLevel: slog.LevelInfo, SQSConcurrency: 10}
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
}

func TestLoadConfigReadsEveryVariable(t *testing.T) {
	c, err := LoadConfig(env(
		"PAYJS_SECRET_ID", "arn:aws:secretsmanager:us-east-1:123456789012:secret:payjs-AbCdEf",
		"PAYJS_BASE_URL", "http://127.0.0.1:8086/",
		"PAYJS_TIMEOUT", "1500ms",
		"PAYJS_SECRET_TTL", "0",
		"PAYJS_REQUIRE_SIGNATURE", "true",
		"AWS_LAMBDA_LOG_LEVEL", "DEBUG",
		"LOG_LEVEL", "ERROR",
		"PAYJS_SQS_CONCURRENCY", "4",
	))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL != "http://127.0.0.1:8086" || c.Timeout != 1500*time.Millisecond || c.SecretTTL != 0 ||
		!c.RequireSignature || c.LogLevel != slog.LevelDebug || c.SQSConcurrency != 4 {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadConfigNamesTheBadVariable(t *testing.T) {
	cases := []struct {
		env []string
		bad string
	}{
		{nil, "PAYJS_SECRET_ID"},
		{[]string{"PAYJS_BASE_URL", "http://payjs.cn"}, "PAYJS_BASE_URL"},
		{[]string{"PAYJS_BASE_URL", "ftp://127.0.0.1"}, "PAYJS_BASE_URL"},
		{[]string{"PAYJS_BASE_URL", "https://user:pw@payjs.cn"}, "PAYJS_BASE_URL"},
		{[]string{"PAYJS_TIMEOUT", "5"}, "PAYJS_TIMEOUT"},
		{[]string{"PAYJS_TIMEOUT", "0s"}, "PAYJS_TIMEOUT"},
		{[]string{"PAYJS_TIMEOUT", "-1s"}, "PAYJS_TIMEOUT"},
		{[]string{"PAYJS_TIMEOUT", "1h"}, "PAYJS_TIMEOUT"},
		{[]string{"PAYJS_SECRET_TTL", "forever"}, "PAYJS_SECRET_TTL"},
		{[]string{"PAYJS_REQUIRE_SIGNATURE", "yes please"}, "PAYJS_REQUIRE_SIGNATURE"},
		{[]string{"PAYJS_SCHEDULE_GROUP", "payjs-close"}, "PAYJS_SCHEDULE_ROLE_ARN"},
		{[]string{"PAYJS_SCHEDULE_GROUP", "payjs-close", "PAYJS_SCHEDULE_ROLE_ARN", "arn:aws:iam::1:role/r"}, "PAYJS_SCHEDULE_TARGET_ARN"},
		{[]string{"PAYJS_SCHEDULE_GROUP", "payjs-close", "PAYJS_SCHEDULE_ROLE_ARN", "arn:aws:iam::1:role/r",
			"PAYJS_SCHEDULE_TARGET_ARN", "arn:aws:lambda:us-east-1:123456789012:function:payjs-close"}, "PAYJS_SCHEDULE_TARGET_ARN"},
		{[]string{"PAYJS_SQS_CONCURRENCY", "0"}, "PAYJS_SQS_CONCURRENCY"},
	}
	for _, tc := range cases {
		kv := tc.env
		if tc.bad != "PAYJS_SECRET_ID" {
			kv = append([]string{"PAYJS_SECRET_ID", "s"}, kv...)
		}
		_, err := LoadConfig(env(kv...))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Var != tc.bad || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("%v: err = %v, want one naming %s", tc.env, err, tc.bad)
		}
	}
}

// TestNoLogLevelStopsTheFunction: Lambda's ApplicationLogLevel may be set
// to any of its values from the console during an incident.
func TestNoLogLevelStopsTheFunction(t *testing.T) {
	cases := []struct {
		value string
		level slog.Level
		note  bool
	}{
		{"TRACE", slog.LevelDebug, false},
		{"trace", slog.LevelDebug, false},
		{"DEBUG", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{"WARN", slog.LevelWarn, false},
		{"ERROR", slog.LevelError, false},
		{"FATAL", slog.LevelError, false},
		{"LOUD", slog.LevelInfo, true},
	}
	for _, tc := range cases {
		for _, name := range []string{"PAYJS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL"} {
			c, err := LoadConfig(env("PAYJS_SECRET_ID", "s", name, tc.value))
			if err != nil || c.LogLevel != tc.level || (c.LogLevelNote != "") != tc.note {
				t.Errorf("%s=%s: level %v, note %q, err %v; want %v, note %v", name, tc.value, c.LogLevel, c.LogLevelNote, err, tc.level, tc.note)
			}
			if tc.note && !strings.Contains(c.LogLevelNote, name) {
				t.Errorf("note %q does not name %s", c.LogLevelNote, name)
			}
		}
	}
}

// TestPayjsLogLevelWinsOverLambdas: the template sets Lambda's
// ApplicationLogLevel to TRACE so that Lambda drops nothing (a metric line
// has no level, which Lambda reads as INFO), and gives the operator's level
// in PAYJS_LOG_LEVEL.
func TestPayjsLogLevelWinsOverLambdas(t *testing.T) {
	for _, level := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		c, err := LoadConfig(env("PAYJS_SECRET_ID", "s", "PAYJS_LOG_LEVEL", level, "AWS_LAMBDA_LOG_LEVEL", "TRACE", "LOG_LEVEL", "TRACE"))
		var want slog.Level
		if err == nil {
			err = want.UnmarshalText([]byte(level))
		}
		if err != nil || c.LogLevel != want || c.LogLevelNote != "" {
			t.Errorf("PAYJS_LOG_LEVEL=%s beside AWS_LAMBDA_LOG_LEVEL=TRACE: level %v, note %q, err %v; want %v", level, c.LogLevel, c.LogLevelNote, err, want)
		}
	}
}

func TestLoadConfigReadsTheMetricsStack(t *testing.T) {
	c, err := LoadConfig(env("PAYJS_SECRET_ID", "s", "PAYJS_METRICS_STACK", " payjs-close-prod "))
	if err != nil || c.MetricsStack != "payjs-close-prod" {
		t.Errorf("MetricsStack = %q, err %v; want payjs-close-prod", c.MetricsStack, err)
	}
}

func TestOutcomeConfig(t *testing.T) {
	c, err := LoadConfig(env("PAYJS_SECRET_ID", "s", "PAYJS_OUTCOME_BUS", " shop-events ", "PAYJS_OUTCOME_ALL", "true"))
	if err != nil || c.OutcomeBus != "shop-events" || !c.OutcomeAll {
		t.Errorf("config = %+v, %v", c, err)
	}
	for _, bus := range []string{"arn:aws:events:us-east-1:123456789012:event-bus/shop-events", "arn:aws-cn:events:cn-north-1:123456789012:event-bus/a.b_c/d-e", strings.Repeat("b", 256)} {
		if c, err := LoadConfig(env("PAYJS_SECRET_ID", "s", "PAYJS_OUTCOME_BUS", bus)); err != nil || c.OutcomeBus != bus || c.OutcomeAll {
			t.Errorf("%s: config = %+v, %v", bus, c, err)
		}
	}
	for _, bad := range [][]string{
		{"PAYJS_OUTCOME_BUS", "shop events"},
		{"PAYJS_OUTCOME_BUS", "arn:aws:sqs:us-east-1:123456789012:queue"},
		{"PAYJS_OUTCOME_BUS", "arn:aws:events:us-east-1:1234:event-bus/shop"},
		{"PAYJS_OUTCOME_BUS", "arn:aws:events:us-east-1:123456789012:rule/shop"},
		{"PAYJS_OUTCOME_BUS", strings.Repeat("b", 257)},
		{"PAYJS_OUTCOME_BUS", "b", "PAYJS_OUTCOME_ALL", "yes please"},
		{"PAYJS_OUTCOME_ALL", "true"},
	} {
		_, err := LoadConfig(env(append([]string{"PAYJS_SECRET_ID", "s"}, bad...)...))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Var != bad[len(bad)-2] {
			t.Errorf("%v: error %v, want one naming %s", bad, err, bad[len(bad)-2])
		}
	}
}
