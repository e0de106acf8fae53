package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/cmd/internal/devstack"
	"github.com/payjs-close/payjs-close/handler"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// lambdaLogLevels are Lambda's application log levels, most detailed first.
var lambdaLogLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// lambdaPasses applies Lambda's log-level filtering (LoggingConfig.ApplicationLogLevel with
// LogFormat JSON) to one line the function printed: a JSON object's "level" (any case) gives
// its level; a line without one, with one Lambda does not know, or that is no JSON object is
// INFO. Lambda sends the line to CloudWatch when its level is at least applicationLevel.
// (docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html)
func lambdaPasses(t *testing.T, line, applicationLevel string) bool {
	t.Helper()
	setting := slices.Index(lambdaLogLevels, strings.ToUpper(applicationLevel))
	if setting < 0 {
		t.Fatalf("ApplicationLogLevel %q is not one of Lambda's %v", applicationLevel, lambdaLogLevels)
	}
	level := slices.Index(lambdaLogLevels, "INFO")
	var v struct {
		Level any `json:"level"`
	}
	if json.Unmarshal([]byte(line), &v) == nil {
		if s, ok := v.Level.(string); ok {
			if i := slices.Index(lambdaLogLevels, strings.ToUpper(s)); i >= 0 {
				level = i
			}
		}
	}
	return level >= setting
}

func TestLambdaPassesAsLambdaDocumentsIt(t *testing.T) {
	for _, c := range []struct {
		line, setting string
		want          bool
	}{
		{`{"level":"debug","msg":"x"}`, "DEBUG", true},
		{`{"level":"debug","msg":"x"}`, "INFO", false},
		{`{"level":"WARN","msg":"x"}`, "WARN", true},
		{`{"level":"ERROR","msg":"x"}`, "WARN", true},
		{`{"_aws":{"Timestamp":1},"Closes":1}`, "INFO", true},  // no level: INFO
		{`{"_aws":{"Timestamp":1},"Closes":1}`, "WARN", false}, // ...which WARN drops
		{`{"level":"LOUD"}`, "ERROR", false},                   // unknown level: INFO
		{`{"level":3}`, "TRACE", true},
		{`not json`, "INFO", true},
	} {
		if got := lambdaPasses(t, c.line, c.setting); got != c.want {
			t.Errorf("ApplicationLogLevel %s passes %s = %v, want %v", c.setting, c.line, got, c.want)
		}
	}
}

// lambdaEnv is the part of the function's environment that the template decides and a local
// run must copy: what Lambda derives from LoggingConfig (AWS_LAMBDA_LOG_FORMAT,
// AWS_LAMBDA_LOG_LEVEL) and every variable set from the LogLevel parameter or the stack's
// name. The others name AWS resources, which devstack replaces with local ones.
func lambdaEnv(t *testing.T, tpl obj, logLevel, stack string) (env map[string]string, applicationLevel string) {
	t.Helper()
	p := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	resolve := func(what string, v any) string {
		switch {
		case jsonEqual(v, ref("LogLevel")):
			return logLevel
		case jsonEqual(v, ref("AWS::StackName")):
			return stack
		}
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s = %v: teach lambdaEnv to resolve it", what, v)
		}
		return s
	}
	applicationLevel = resolve("ApplicationLogLevel", get(t, p, "LoggingConfig", "ApplicationLogLevel"))
	env = map[string]string{
		"AWS_LAMBDA_LOG_FORMAT": resolve("LogFormat", get(t, p, "LoggingConfig", "LogFormat")),
		"AWS_LAMBDA_LOG_LEVEL":  applicationLevel,
	}
	for name, v := range getObj(t, p, "Environment", "Variables") {
		if jsonEqual(v, ref("LogLevel")) || jsonEqual(v, ref("AWS::StackName")) {
			env[name] = resolve(name, v)
		}
	}
	return env, applicationLevel
}

// TestMetricLinesSurviveLambdasLogFilteringAtEveryLevel runs the real bootstrap under the
// emulator with the environment the template gives it at each LogLevel the template allows,
// and applies Lambda's filtering to what it prints: every metric line reaches CloudWatch, and
// the function's own log lines are filtered at LogLevel. The same output filtered by Lambda
// at LogLevel itself (what the template did before) would lose the metrics at WARN and ERROR.
func TestMetricLinesSurviveLambdasLogFilteringAtEveryLevel(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	for _, level := range stringList(t, get(t, tpl, "Parameters", "LogLevel", "AllowedValues")) {
		// One level after another: each starts moto and the emulator, and the machine is shared.
		t.Run(level, func(t *testing.T) {
			env, applicationLevel := lambdaEnv(t, tpl, level, "payjs-close-"+strings.ToLower(level))
			st, out := devstack.StartTest(t, devstack.Options{Root: repoRoot, Env: env})
			_, _ = e2eInvoke(t, st, []byte(`{"payjs_order_id":"`+payjstest.DemoOrderUnpaid(1)+`"}`))   // closed: an INFO line
			_, _ = e2eInvoke(t, st, []byte(`{"payjs_order_id":"`+payjstest.DemoOrderUnavailable+`"}`)) // retryable: an ERROR line
			// The emulator relays the function's output on its own schedule: stop it, so that
			// everything the function printed is in out.
			st.Emulator.Close()

			var printed, metrics, passed, passedMetrics, passedAtLogLevel int
			for line := range strings.Lines(out.String()) {
				line = strings.TrimSpace(line)
				if !strings.HasPrefix(line, "{") {
					continue // the emulator's own lines (Lambda's system log)
				}
				printed++
				isMetric := strings.Contains(line, `"_aws":`)
				pass := lambdaPasses(t, line, applicationLevel)
				if isMetric {
					metrics++
					if pass {
						passedMetrics++
					}
					if lambdaPasses(t, line, level) {
						passedAtLogLevel++
					}
					if !strings.Contains(line, `"`+handler.StackDimension+`":"payjs-close-`+strings.ToLower(level)+`"`) {
						t.Errorf("metric line without this stack: %s", line)
					}
					continue
				}
				if pass {
					passed++
				}
				// The function filters its own lines at LogLevel.
				if !lambdaPasses(t, line, level) {
					t.Errorf("LogLevel %s, and the function printed %s", level, line)
				}
			}
			// A cold start, two secret loads or one, two closes and their latencies: at
			// least three lines whatever the level.
			if metrics < 3 {
				t.Fatalf("the function printed %d metric lines (of %d JSON lines)", metrics, printed)
			}
			if passedMetrics != metrics {
				t.Errorf("Lambda at ApplicationLogLevel %s drops %d of %d metric lines", applicationLevel, metrics-passedMetrics, metrics)
			}
			if passed == 0 {
				t.Errorf("no log line of the function reached CloudWatch (the retryable failure's ERROR line must)")
			}
			if dropped := passedAtLogLevel < metrics; dropped != (level == "WARN" || level == "ERROR") {
				t.Errorf("with ApplicationLogLevel %s, %d of %d metric lines would pass: the check does not see what it guards against", level, passedAtLogLevel, metrics)
			}
		})
	}
}

// stackEnv is the environment of a bootstrap that publishes metrics as the template's stack
// named stack would.
func stackEnv(t *testing.T, stack string) map[string]string {
	t.Helper()
	env, _ := lambdaEnv(t, loadTemplate(t), "INFO", stack)
	return maps.Clone(env)
}
