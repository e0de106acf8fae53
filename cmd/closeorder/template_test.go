package main

// Checks on the deployment files at the repository root: template.yaml passes cfn-lint and keeps
// its security properties, samconfig.toml is valid, and every sample in events/ has the shape of
// its event kind.

import (
	"bytes"
	"crypto/md5" //nolint:gosec // G501: SQS's md5OfBody is MD5 by definition; nothing is protected by it.
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payjs-close/payjs-close/handler"
)

// repoRoot is the repository root as seen from this package's directory (go test runs there).
const repoRoot = "../.."

// cfnToJSON converts a CloudFormation YAML template to JSON. The short-form intrinsic tags
// (!Ref, !GetAtt, !Sub, ...) become their long form, so the Go side sees what CloudFormation sees.
const cfnToJSON = `
import json, sys, yaml

class Loader(yaml.SafeLoader):
    pass

def intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}

Loader.add_multi_constructor("!", intrinsic)
with open(sys.argv[1], encoding="utf-8") as f:
    json.dump(yaml.load(f, Loader=Loader), sys.stdout)
`

// tomlToJSON converts a TOML file to JSON with Python's standard tomllib (Python 3.11+).
const tomlToJSON = `
import json, sys, tomllib
with open(sys.argv[1], "rb") as f:
    json.dump(tomllib.load(f), sys.stdout)
`

// obj is a decoded JSON object.
type obj = map[string]any

// runPython runs a Python program with one file argument and decodes its JSON output.
func runPython(t *testing.T, program, file string) obj {
	t.Helper()
	python := requireTool(t, python3)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), python, "-c", program, file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 could not read %s: %v\n%s\n(needs %s; `make test` installs them)", file, err, stderr.String(), python3.hint)
	}
	var out obj
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decode %s as JSON: %v", file, err)
	}
	return out
}

// cachedJSON is a JSON document made once per test binary: starting Python for every test
// costs seconds on a busy machine. Each test decodes a copy of its own.
type cachedJSON struct {
	sync.Mutex
	b []byte
}

// load returns a fresh decoding of the document, which build makes the first time.
func (c *cachedJSON) load(t *testing.T, build func(t *testing.T) []byte) obj {
	t.Helper()
	c.Lock()
	defer c.Unlock()
	if c.b == nil {
		c.b = build(t)
	}
	var doc obj
	if err := json.Unmarshal(c.b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// templateJSON is template.yaml with the intrinsic functions in their long form.
var templateJSON cachedJSON

// loadTemplate reads template.yaml with the intrinsic functions in their long form.
func loadTemplate(t *testing.T) obj {
	t.Helper()
	return templateJSON.load(t, func(t *testing.T) []byte {
		b, err := json.Marshal(runPython(t, cfnToJSON, filepath.Join(repoRoot, "template.yaml")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// get walks a decoded JSON value along keys, failing the test when a key is missing or a
// value on the way is not an object.
func get(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(obj)
		if !ok {
			t.Fatalf("%s: not an object (%T)", strings.Join(keys[:i], "."), v)
		}
		v, ok = m[k]
		if !ok {
			t.Fatalf("%s: missing", strings.Join(keys[:i+1], "."))
		}
	}
	return v
}

// getObj is get for a value that must be an object.
func getObj(t *testing.T, v any, keys ...string) obj {
	t.Helper()
	m, ok := get(t, v, keys...).(obj)
	if !ok {
		t.Fatalf("%s: not an object", strings.Join(keys, "."))
	}
	return m
}

// getString is get for a value that must be a string.
func getString(t *testing.T, v any, keys ...string) string {
	t.Helper()
	s, ok := get(t, v, keys...).(string)
	if !ok {
		t.Fatalf("%s: not a string (%v)", strings.Join(keys, "."), get(t, v, keys...))
	}
	return s
}

// getNumber is get for a value that must be a number.
func getNumber(t *testing.T, v any, keys ...string) float64 {
	t.Helper()
	n, ok := get(t, v, keys...).(float64)
	if !ok {
		t.Fatalf("%s: not a number (%v)", strings.Join(keys, "."), get(t, v, keys...))
	}
	return n
}

// getList is get for a value that must be a list.
func getList(t *testing.T, v any, keys ...string) []any {
	t.Helper()
	l, ok := get(t, v, keys...).([]any)
	if !ok {
		t.Fatalf("%s: not a list (%v)", strings.Join(keys, "."), get(t, v, keys...))
	}
	return l
}

// wantEqual compares two decoded JSON values.
func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func ref(name string) obj              { return obj{"Ref": name} }
func getAtt(resource, attr string) obj { return obj{"Fn::GetAtt": []any{resource, attr}} }

// functionEvents returns the function's events by name.
func functionEvents(t *testing.T, tpl obj) map[string]obj {
	t.Helper()
	events := map[string]obj{}
	for name, e := range getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Events") {
		m, ok := e.(obj)
		if !ok {
			t.Fatalf("event %s: not an object", name)
		}
		events[name] = m
	}
	return events
}

// eventsOfType returns the function's events of one SAM event type.
func eventsOfType(t *testing.T, tpl obj, typ string) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	for name, e := range functionEvents(t, tpl) {
		if getString(t, e, "Type") == typ {
			out[name] = e
		}
	}
	if len(out) == 0 {
		t.Fatalf("CloseOrderFunction has no %s event", typ)
	}
	return out
}

func TestTemplateBuildsBootstrapForProvidedAL2023OnArm64WithMakefile(t *testing.T) {
	tpl := loadTemplate(t)
	wantEqual(t, "Transform", get(t, tpl, "Transform"), "AWS::Serverless-2016-10-31")
	fn := getObj(t, tpl, "Resources", "CloseOrderFunction")
	wantEqual(t, "Type", get(t, fn, "Type"), "AWS::Serverless::Function")
	wantEqual(t, "Metadata.BuildMethod", get(t, fn, "Metadata", "BuildMethod"), "makefile")
	p := getObj(t, fn, "Properties")
	wantEqual(t, "Runtime", get(t, p, "Runtime"), "provided.al2023")
	wantEqual(t, "Architectures", get(t, p, "Architectures"), []any{"arm64"})
	wantEqual(t, "Handler", get(t, p, "Handler"), "bootstrap")
	wantEqual(t, "CodeUri", get(t, p, "CodeUri"), ".")
	wantEqual(t, "LoggingConfig.LogFormat", get(t, p, "LoggingConfig", "LogFormat"), "JSON")
	// Lambda passes every line; the function filters at PAYJS_LOG_LEVEL (metric lines have no
	// level, which Lambda reads as INFO: see TestMetricLinesSurviveLambdasLogFilteringAtEveryLevel).
	wantEqual(t, "LoggingConfig.ApplicationLogLevel", get(t, p, "LoggingConfig", "ApplicationLogLevel"), "TRACE")
	wantEqual(t, "PAYJS_LOG_LEVEL", get(t, p, "Environment", "Variables", "PAYJS_LOG_LEVEL"), ref("LogLevel"))
}

func TestTemplateHTTPAPIRoutesRequireIAMAuth(t *testing.T) {
	tpl := loadTemplate(t)
	api := getObj(t, tpl, "Resources", "CloseApi")
	wantEqual(t, "CloseApi.Type", get(t, api, "Type"), "AWS::Serverless::HttpApi")
	wantEqual(t, "CloseApi EnableIamAuthorizer", get(t, api, "Properties", "Auth", "EnableIamAuthorizer"), true)
	wantEqual(t, "CloseApi DefaultAuthorizer", get(t, api, "Properties", "Auth", "DefaultAuthorizer"), "AWS_IAM")

	var routes []string
	for name, e := range eventsOfType(t, tpl, "HttpApi") {
		wantEqual(t, name+" ApiId", get(t, e, "Properties", "ApiId"), ref("CloseApi"))
		wantEqual(t, name+" Auth.Authorizer", get(t, e, "Properties", "Auth", "Authorizer"), "AWS_IAM")
		routes = append(routes, getString(t, e, "Properties", "Method")+" "+getString(t, e, "Properties", "Path"))
	}
	sort.Strings(routes)
	wantEqual(t, "HTTP routes", routes, []string{"DELETE /orders/{payjs_order_id}/close", "POST /close", "POST /orders/{payjs_order_id}/close"})

	// No other API resource may expose the function without IAM auth.
	for name, r := range getObj(t, tpl, "Resources") {
		typ := getString(t, r, "Type")
		if (typ == "AWS::Serverless::Api" || typ == "AWS::Serverless::HttpApi" || strings.HasPrefix(typ, "AWS::ApiGateway")) && name != "CloseApi" {
			t.Errorf("unexpected API resource %s (%s)", name, typ)
		}
	}
	if _, ok := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")["FunctionUrlConfig"]; ok {
		t.Errorf("CloseOrderFunction has a FunctionUrlConfig; the HTTP API is the only public entry point")
	}
}

func TestTemplateGrantsReadAccessToTheOneSecretOnly(t *testing.T) {
	tpl := loadTemplate(t)
	// The function's own role: with Policies, SAM would add managed policies granting logs and
	// SQS on every resource of the account (TestDeployedTemplateGrantsNothingOutsideTheStack).
	fn := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	wantEqual(t, "CloseOrderFunction Role", get(t, fn, "Role"), getAtt(functionRole, "Arn"))
	if _, ok := fn["Policies"]; ok {
		t.Errorf("CloseOrderFunction has Policies; its role is %s", functionRole)
	}
	var secret []obj
	for _, st := range functionStatements(t, tpl) {
		for _, a := range stringList(t, get(t, st, "Action")) {
			if strings.HasPrefix(a, "secretsmanager:") {
				secret = append(secret, st)
			}
		}
	}
	if len(secret) != 1 {
		t.Fatalf("want one statement granting Secrets Manager actions, got %d", len(secret))
	}
	wantEqual(t, "secret statement", secret[0], obj{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ref("PayjsSecretArn")})
	wantEqual(t, "PAYJS_SECRET_ID", get(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Environment", "Variables", "PAYJS_SECRET_ID"), ref("PayjsSecretArn"))

	pattern := regexp.MustCompile(getString(t, tpl, "Parameters", "PayjsSecretArn", "AllowedPattern"))
	for arn, want := range map[string]bool{
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:payjs-close-AbC123":          true,
		"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:prod/payjs-close-x1Y2z3": true,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:payjs-close":                 false, // partial ARN: the policy would not match
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:*":                           false,
		"payjs-close": false,
	} {
		if got := pattern.MatchString(arn); got != want {
			t.Errorf("PayjsSecretArn pattern accepts %q = %v, want %v", arn, got, want)
		}
	}
}

func TestTemplateEncryptsEveryQueue(t *testing.T) {
	tpl := loadTemplate(t)
	var queues []string
	for name, r := range getObj(t, tpl, "Resources") {
		if getString(t, r, "Type") != "AWS::SQS::Queue" {
			continue
		}
		queues = append(queues, name)
		if sse := getObj(t, r, "Properties")["SqsManagedSseEnabled"]; sse != true {
			t.Errorf("queue %s: SqsManagedSseEnabled = %v, want true", name, sse)
		}
	}
	sort.Strings(queues)
	wantEqual(t, "queues", queues, []string{"AsyncFailureQueue", "CloseDeadLetterQueue", "CloseQueue", "EventDeadLetterQueue"})

	// A dead-letter queue SAM would create itself (an on-failure destination without
	// Destination) would not be encrypted by this template.
	if _, ok := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "EventInvokeConfig", "DestinationConfig", "OnFailure")["Destination"]; !ok {
		t.Errorf("EventInvokeConfig OnFailure has no Destination, so SAM would create an unencrypted queue")
	}
}

func TestTemplateSQSEventReportsPartialBatchFailuresAndRedrives(t *testing.T) {
	tpl := loadTemplate(t)
	events := eventsOfType(t, tpl, "SQS")
	if len(events) != 1 {
		t.Fatalf("want one SQS event, got %d", len(events))
	}
	for name, e := range events {
		p := getObj(t, e, "Properties")
		wantEqual(t, name+" Queue", get(t, p, "Queue"), getAtt("CloseQueue", "Arn"))
		wantEqual(t, name+" BatchSize", get(t, p, "BatchSize"), 10)
		wantEqual(t, name+" FunctionResponseTypes", get(t, p, "FunctionResponseTypes"), []any{"ReportBatchItemFailures"})
		wantEqual(t, name+" MaximumConcurrency", get(t, p, "ScalingConfig", "MaximumConcurrency"), ref("SqsMaximumConcurrency"))
	}
	param := getObj(t, tpl, "Parameters", "SqsMaximumConcurrency")
	if lo, hi, def := getNumber(t, param, "MinValue"), getNumber(t, param, "MaxValue"), getNumber(t, param, "Default"); lo < 2 || hi > 1000 || def < lo || def > hi {
		t.Errorf("SqsMaximumConcurrency range [%v, %v] default %v; Lambda allows 2 to 1000", lo, hi, def)
	}

	q := getObj(t, tpl, "Resources", "CloseQueue", "Properties")
	wantEqual(t, "CloseQueue redrive target", get(t, q, "RedrivePolicy", "deadLetterTargetArn"), getAtt("CloseDeadLetterQueue", "Arn"))
	if n := getNumber(t, q, "RedrivePolicy", "maxReceiveCount"); n < 1 {
		t.Errorf("CloseQueue maxReceiveCount = %v", n)
	}
	timeout := getNumber(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Timeout")
	if vt := getNumber(t, q, "VisibilityTimeout"); vt < 6*timeout {
		t.Errorf("CloseQueue VisibilityTimeout = %vs, want at least 6 x the function timeout (%vs)", vt, 6*timeout)
	}
}

// closeOrderRule returns the EventBridge rule's one target, failing the test unless the
// template has exactly that rule, named CloseOrderRule.
func closeOrderRule(t *testing.T, tpl obj) (rule, target obj) {
	t.Helper()
	rules := resourcesOfType(t, tpl, "AWS::Events::Rule")
	if len(rules) != 1 || rules["CloseOrderRule"] == nil {
		t.Fatalf("want one AWS::Events::Rule, CloseOrderRule; got %d", len(rules))
	}
	p := getObj(t, rules["CloseOrderRule"], "Properties")
	targets := getList(t, p, "Targets")
	if len(targets) != 1 {
		t.Fatalf("CloseOrderRule: want one target, got %d", len(targets))
	}
	return p, asObj(t, targets[0])
}

// allowStatements returns the Allow statements of a queue policy resource.
func allowStatements(t *testing.T, tpl obj, policy string) []obj {
	t.Helper()
	var allows []obj
	for _, st := range getList(t, tpl, "Resources", policy, "Properties", "PolicyDocument", "Statement") {
		if getString(t, st, "Effect") == "Allow" {
			allows = append(allows, asObj(t, st))
		}
	}
	return allows
}

// TestTemplateEventBridgeRuleSendsToTheCloseQueue: EventBridge events reach the function only
// through the close queue, whose event source bounds the load on PAYJS; the queue takes
// messages from this rule only (beside the Scheduler role's own permission).
func TestTemplateEventBridgeRuleSendsToTheCloseQueue(t *testing.T) {
	tpl := loadTemplate(t)
	for name, e := range functionEvents(t, tpl) {
		if typ := getString(t, e, "Type"); typ != "SQS" && typ != "HttpApi" {
			t.Errorf("function event %s is %s: asynchronous closes must come through the close queue", name, typ)
		}
	}
	p, target := closeOrderRule(t, tpl)
	wantEqual(t, "rule bus", get(t, p, "EventBusName"), ref("EventBusName"))
	wantEqual(t, "rule detail-type", get(t, p, "EventPattern", "detail-type"), []any{"Close PAYJS Order"})
	wantEqual(t, "rule source", get(t, p, "EventPattern", "source"), []any{ref("EventSource")})
	wantEqual(t, "rule target", get(t, target, "Arn"), getAtt("CloseQueue", "Arn"))
	if n := getNumber(t, target, "RetryPolicy", "MaximumRetryAttempts"); n < 1 {
		t.Errorf("rule RetryPolicy.MaximumRetryAttempts = %v", n)
	}
	getNumber(t, target, "RetryPolicy", "MaximumEventAgeInSeconds")
	wantEqual(t, "rule DeadLetterConfig", get(t, target, "DeadLetterConfig"), obj{"Arn": getAtt("EventDeadLetterQueue", "Arn")})

	// The close queue and the rule's dead-letter queue each admit this rule only, beside the
	// TLS deny every queue policy has.
	for _, q := range []string{"CloseQueue", "EventDeadLetterQueue"} {
		allows := allowStatements(t, tpl, q+"Policy")
		if len(allows) != 1 {
			t.Fatalf("%sPolicy: want one Allow statement, got %d", q, len(allows))
		}
		wantEqual(t, q+" policy principal", get(t, allows[0], "Principal"), obj{"Service": "events.amazonaws.com"})
		wantEqual(t, q+" policy action", get(t, allows[0], "Action"), "sqs:SendMessage")
		wantEqual(t, q+" policy resource", get(t, allows[0], "Resource"), getAtt(q, "Arn"))
		wantEqual(t, q+" policy source", get(t, allows[0], "Condition", "ArnEquals", "aws:SourceArn"), getAtt("CloseOrderRule", "Arn"))
		var tlsDeny bool
		for _, st := range getList(t, tpl, "Resources", q+"Policy", "Properties", "PolicyDocument", "Statement") {
			tlsDeny = tlsDeny || (getString(t, st, "Effect") == "Deny" && jsonEqual(get(t, st, "Condition"), obj{"Bool": obj{"aws:SecureTransport": "false"}}))
		}
		if !tlsDeny {
			t.Errorf("%sPolicy lost its TLS-only deny", q)
		}
	}
	wantEqual(t, "EventSource default", get(t, tpl, "Parameters", "EventSource", "Default"), "com.example.shop")
}

// TestTemplateBoundsTheFunction: the per-instance share of the bound on PAYJS is a parameter
// the function reads, and reserved concurrency is an optional cap, off by default.
func TestTemplateBoundsTheFunction(t *testing.T) {
	tpl := loadTemplate(t)
	p := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	wantEqual(t, "PAYJS_SQS_CONCURRENCY", get(t, p, "Environment", "Variables", "PAYJS_SQS_CONCURRENCY"), ref("SqsRecordConcurrency"))
	rc := getObj(t, tpl, "Parameters", "SqsRecordConcurrency")
	if lo, hi := getNumber(t, rc, "MinValue"), getNumber(t, rc, "MaxValue"); lo != 1 || hi > 10 {
		t.Errorf("SqsRecordConcurrency range [%v, %v]; want 1 to at most the batch size, 10", lo, hi)
	}
	wantEqual(t, "ReservedConcurrency default", get(t, tpl, "Parameters", "ReservedConcurrency", "Default"), 0)
	wantEqual(t, "HasReservedConcurrency", get(t, tpl, "Conditions", "HasReservedConcurrency"),
		obj{"Fn::Not": []any{obj{"Fn::Equals": []any{ref("ReservedConcurrency"), 0}}}})
	wantEqual(t, "ReservedConcurrentExecutions", get(t, p, "ReservedConcurrentExecutions"),
		obj{"Fn::If": []any{"HasReservedConcurrency", ref("ReservedConcurrency"), ref("AWS::NoValue")}})
}

func TestTemplateAsyncInvokeFailuresLandInAnEncryptedQueue(t *testing.T) {
	tpl := loadTemplate(t)
	cfg := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "EventInvokeConfig")
	wantEqual(t, "MaximumRetryAttempts", get(t, cfg, "MaximumRetryAttempts"), 2)
	wantEqual(t, "OnFailure", get(t, cfg, "DestinationConfig", "OnFailure"), obj{"Type": "SQS", "Destination": getAtt("AsyncFailureQueue", "Arn")})
	// SAM's EventInvokeConfig covers the live alias only; an async invoke of the unqualified
	// name gets the same.
	latest := getObj(t, tpl, "Resources", "CloseOrderFunctionLatestInvokeConfig", "Properties")
	wantEqual(t, "$LATEST invoke config", latest, obj{
		"FunctionName":             ref("CloseOrderFunction"),
		"Qualifier":                "$LATEST",
		"MaximumRetryAttempts":     get(t, cfg, "MaximumRetryAttempts"),
		"MaximumEventAgeInSeconds": get(t, cfg, "MaximumEventAgeInSeconds"),
		"DestinationConfig":        obj{"OnFailure": obj{"Destination": getAtt("AsyncFailureQueue", "Arn")}},
	})
}

func TestTemplateConfiguresTheFunctionAsDesignSays(t *testing.T) {
	tpl := loadTemplate(t)
	p := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	wantEqual(t, "Environment", get(t, p, "Environment", "Variables"), obj{
		"PAYJS_SECRET_ID":           ref("PayjsSecretArn"),
		"PAYJS_BASE_URL":            ref("PayjsBaseUrl"),
		"PAYJS_TIMEOUT":             ref("PayjsTimeout"),
		"PAYJS_SECRET_TTL":          ref("PayjsSecretTtl"),
		"PAYJS_REQUIRE_SIGNATURE":   ref("RequireSignature"),
		"PAYJS_SCHEDULE_GROUP":      ref("CloseScheduleGroup"),
		"PAYJS_SCHEDULE_ROLE_ARN":   getAtt("CloseScheduleRole", "Arn"),
		"PAYJS_SCHEDULE_TARGET_ARN": getAtt("CloseQueue", "Arn"),
		"PAYJS_SCHEDULE_DLQ_ARN":    getAtt("CloseDeadLetterQueue", "Arn"),
		"PAYJS_SQS_CONCURRENCY":     ref("SqsRecordConcurrency"),
		"PAYJS_LOG_LEVEL":           ref("LogLevel"),
		"PAYJS_METRICS_STACK":       ref("AWS::StackName"),
		"PAYJS_OUTCOME_BUS":         ref("OutcomeBusName"),
		"PAYJS_OUTCOME_ALL":         obj{"Fn::If": []any{"HasOutcomeBus", ref("OutcomeAllRequests"), "false"}},
	})
	wantEqual(t, "MemorySize", get(t, p, "MemorySize"), 128)

	params := getObj(t, tpl, "Parameters")
	wantEqual(t, "PayjsBaseUrl default", get(t, params, "PayjsBaseUrl", "Default"), "https://payjs.cn")
	baseURL := regexp.MustCompile(getString(t, params, "PayjsBaseUrl", "AllowedPattern"))
	for u, want := range map[string]bool{
		"https://payjs.cn":          true,
		"https://payjs.example/api": true,
		"http://payjs.cn":           false,
		"http://127.0.0.1:8086":     false,
		"payjs.cn":                  false,
	} {
		if got := baseURL.MatchString(u); got != want {
			t.Errorf("PayjsBaseUrl pattern accepts %q = %v, want %v", u, got, want)
		}
	}

	// Every PAYJS_TIMEOUT the parameter allows leaves the function time to answer.
	fnTimeout := time.Duration(getNumber(t, p, "Timeout")) * time.Second
	budget := regexp.MustCompile(getString(t, params, "PayjsTimeout", "AllowedPattern"))
	for _, s := range []string{"100ms", "999ms", "1s", "5s", "8s", "8999ms", "9s", "10s", "9000ms", "0s", "50ms", "5", "1m"} {
		d, err := time.ParseDuration(s)
		want := err == nil && d >= 100*time.Millisecond && d < fnTimeout-time.Second
		if got := budget.MatchString(s); got != want {
			t.Errorf("PayjsTimeout pattern accepts %q = %v, want %v (function timeout %v)", s, got, want, fnTimeout)
		}
	}
	if !budget.MatchString(getString(t, params, "PayjsTimeout", "Default")) {
		t.Errorf("PayjsTimeout default does not match its own pattern")
	}
	ttl := regexp.MustCompile(getString(t, params, "PayjsSecretTtl", "AllowedPattern"))
	for _, s := range []string{getString(t, params, "PayjsSecretTtl", "Default"), "0", "30s", "1h"} {
		if !ttl.MatchString(s) {
			t.Errorf("PayjsSecretTtl pattern refuses %q", s)
		} else if _, err := time.ParseDuration(s); err != nil {
			t.Errorf("PayjsSecretTtl pattern accepts %q, which Go cannot parse: %v", s, err)
		}
	}
}

func TestTemplateOutputsTheAPIFunctionAndQueues(t *testing.T) {
	tpl := loadTemplate(t)
	outputs := getObj(t, tpl, "Outputs")
	for _, name := range []string{
		"ApiUrl", "ApiAccessLogGroupName", "CloseOrderFunctionName", "CloseOrderFunctionArn",
		"CloseQueueUrl", "CloseQueueArn", "CloseDeadLetterQueueUrl", "CloseDeadLetterQueueArn",
		"EventDeadLetterQueueUrl", "AsyncFailureQueueUrl",
		"ScheduleGroupName", "ScheduleRoleArn", "AlarmTopicArn", "DashboardName", "DashboardUrl",
	} {
		get(t, outputs, name, "Value")
	}
	wantEqual(t, "CloseQueueUrl", get(t, outputs, "CloseQueueUrl", "Value"), ref("CloseQueue"))
	wantEqual(t, "ApiAccessLogGroupName", get(t, outputs, "ApiAccessLogGroupName", "Value"), ref("CloseApiAccessLogGroup"))
	// The redrive command takes ARNs.
	wantEqual(t, "CloseQueueArn", get(t, outputs, "CloseQueueArn", "Value"), getAtt("CloseQueue", "Arn"))
	wantEqual(t, "CloseDeadLetterQueueArn", get(t, outputs, "CloseDeadLetterQueueArn", "Value"), getAtt("CloseDeadLetterQueue", "Arn"))
	wantEqual(t, "ScheduleGroupName", get(t, outputs, "ScheduleGroupName", "Value"), ref("CloseScheduleGroup"))
	wantEqual(t, "ScheduleRoleArn", get(t, outputs, "ScheduleRoleArn", "Value"), getAtt("CloseScheduleRole", "Arn"))
	wantEqual(t, "AlarmTopicArn", get(t, outputs, "AlarmTopicArn", "Value"), ref("AlarmTopic"))
	wantEqual(t, "DashboardName", get(t, outputs, "DashboardName", "Value"), ref("CloseDashboard"))
	// The console's host differs per partition.
	wantEqual(t, "DashboardUrl", get(t, outputs, "DashboardUrl", "Value"), obj{"Fn::Sub": []any{
		"https://${Console}/cloudwatch/home?region=${AWS::Region}#dashboards/dashboard/${CloseDashboard}",
		obj{"Console": obj{"Fn::FindInMap": []any{"Partition", ref("AWS::Partition"), "Console"}}},
	}})
	wantEqual(t, "console hosts", get(t, tpl, "Mappings", "Partition"), obj{
		"aws":        obj{"Console": "console.aws.amazon.com"},
		"aws-cn":     obj{"Console": "console.amazonaws.cn"},
		"aws-us-gov": obj{"Console": "console.amazonaws-us-gov.com"},
	})
	// Direct invokes go through the live alias, like every event source.
	wantEqual(t, "CloseOrderFunctionAliasArn", get(t, outputs, "CloseOrderFunctionAliasArn", "Value"), ref("CloseOrderFunction.Alias"))
}

// asObj is a checked type assertion to an object.
func asObj(t *testing.T, v any) obj {
	t.Helper()
	m, ok := v.(obj)
	if !ok {
		t.Fatalf("%v: not an object", v)
	}
	return m
}

// asString is a checked type assertion to a string.
func asString(t *testing.T, v any) string {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%v: not a string", v)
	}
	return s
}

// stringList returns a policy element that is one string or a list of strings as a list.
func stringList(t *testing.T, v any) []string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				t.Fatalf("%v: not a string", e)
			}
			out = append(out, s)
		}
		return out
	}
	t.Fatalf("%v: not a string or a list of strings", v)
	return nil
}

// statements returns the statements of a policy document.
func statements(t *testing.T, doc any) []obj {
	t.Helper()
	var out []obj
	for _, st := range getList(t, doc, "Statement") {
		m, ok := st.(obj)
		if !ok {
			t.Fatalf("statement %v: not an object", st)
		}
		out = append(out, m)
	}
	return out
}

// functionRole is the logical id of the function's role.
const functionRole = "CloseOrderFunctionRole"

// functionStatements returns every statement of the function role's inline policies.
func functionStatements(t *testing.T, tpl obj) []obj {
	t.Helper()
	return roleStatements(t, getObj(t, tpl, "Resources", functionRole))
}

// roleStatements returns every statement of a role's inline policies, those of a conditional
// policy (Fn::If with AWS::NoValue as the other branch) included.
func roleStatements(t *testing.T, role obj) []obj {
	t.Helper()
	var out []obj
	for _, p := range rolePolicies(t, role) {
		out = append(out, statements(t, get(t, p, "PolicyDocument"))...)
	}
	return out
}

// rolePolicies returns a role's inline policies, the policy of a conditional one (Fn::If with
// AWS::NoValue as the other branch) included.
func rolePolicies(t *testing.T, role obj) []obj {
	t.Helper()
	ps, ok := getObj(t, role, "Properties")["Policies"]
	if !ok {
		return nil
	}
	var out []obj
	for _, p := range getList(t, ps) {
		m := asObj(t, p)
		if cond, ok := m["Fn::If"].([]any); ok {
			if len(cond) != 3 {
				t.Fatalf("conditional policy %v: want [condition, policy, AWS::NoValue]", cond)
			}
			wantEqual(t, "conditional policy's other branch", cond[2], ref("AWS::NoValue"))
			m = asObj(t, cond[1])
		}
		out = append(out, m)
	}
	return out
}

// statementsGranting returns the statements that allow action.
func statementsGranting(t *testing.T, sts []obj, action string) []obj {
	t.Helper()
	var out []obj
	for _, st := range sts {
		if getString(t, st, "Effect") == "Allow" && slices.Contains(stringList(t, get(t, st, "Action")), action) {
			out = append(out, st)
		}
	}
	return out
}

// resourcesOfType returns the template's resources of one type by logical id.
func resourcesOfType(t *testing.T, tpl obj, typ string) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	for name, r := range getObj(t, tpl, "Resources") {
		if getString(t, r, "Type") == typ {
			out[name] = asObj(t, r)
		}
	}
	return out
}

// subVariable matches a ${Name} or ${Name.Attribute} in an Fn::Sub string (not ${!Literal}).
var subVariable = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}`)

// references collects the logical ids v refers to through Ref, Fn::GetAtt and Fn::Sub.
func references(v any, out map[string]bool) {
	switch x := v.(type) {
	case obj:
		if r, ok := x["Ref"].(string); ok {
			out[r] = true
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
			if r, ok := ga[0].(string); ok {
				out[r] = true
			}
		}
		if sub, ok := x["Fn::Sub"]; ok {
			s, _ := sub.(string)
			if l, ok := sub.([]any); ok && len(l) > 0 {
				s, _ = l[0].(string)
			}
			for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
				out[m[1]] = true
			}
		}
		for _, e := range x {
			references(e, out)
		}
	case []any:
		for _, e := range x {
			references(e, out)
		}
	}
}

// dependencies maps each resource to the resources it refers to or depends on.
func dependencies(t *testing.T, tpl obj) map[string][]string {
	t.Helper()
	resources := getObj(t, tpl, "Resources")
	deps := map[string][]string{}
	for name, r := range resources {
		refs := map[string]bool{}
		references(r, refs)
		if d, ok := asObj(t, r)["DependsOn"]; ok {
			for _, n := range stringList(t, d) {
				refs[n] = true
			}
		}
		for n := range refs {
			if _, ok := resources[n]; ok && n != name {
				deps[name] = append(deps[name], n)
			}
		}
		sort.Strings(deps[name])
	}
	return deps
}

func TestTemplateHasNoCircularDependency(t *testing.T) {
	// As CloudFormation sees it: SAM moves DeploymentPreference (its role and alarms, which
	// name the function) out of the function into a deployment group.
	tpl := loadDeployedTemplate(t)
	deps := dependencies(t, tpl)
	// The classic trap: the function names the schedule role (environment, iam:PassRole), so
	// the role must not name the function.
	if slices.Contains(deps["CloseScheduleRole"], "CloseOrderFunction") {
		t.Errorf("CloseScheduleRole refers to CloseOrderFunction, which refers to the role")
	}

	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string)
	visit = func(n string) {
		switch state[n] {
		case visiting:
			i := slices.Index(path, n)
			t.Fatalf("circular dependency: %s -> %s", strings.Join(path[i:], " -> "), n)
		case done:
			return
		}
		state[n] = visiting
		path = append(path, n)
		for _, d := range deps[n] {
			visit(d)
		}
		path = path[:len(path)-1]
		state[n] = done
	}
	names := make([]string, 0, len(deps))
	for n := range getObj(t, tpl, "Resources") {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		visit(n)
	}
}

func TestTemplateSchedulesClosesInItsOwnGroup(t *testing.T) {
	tpl := loadTemplate(t)
	wantEqual(t, "CloseScheduleGroup.Type", get(t, tpl, "Resources", "CloseScheduleGroup", "Type"), "AWS::Scheduler::ScheduleGroup")
	if n := len(resourcesOfType(t, tpl, "AWS::Scheduler::ScheduleGroup")); n != 1 {
		t.Errorf("want one schedule group, got %d", n)
	}
	// The function creates the schedules at run time; the template declares none.
	if n := len(resourcesOfType(t, tpl, "AWS::Scheduler::Schedule")); n != 0 {
		t.Errorf("template declares %d schedules", n)
	}

	sts := functionStatements(t, tpl)
	manage := []string{"scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"}
	var found []obj
	for _, st := range sts {
		for _, a := range stringList(t, get(t, st, "Action")) {
			if strings.HasPrefix(a, "scheduler:") {
				found = append(found, st)
				break
			}
		}
	}
	// The schedules in the group, and the group itself: a cancel looks it up to tell a missing
	// schedule from a missing group.
	if len(found) != 2 {
		t.Fatalf("want two statements granting scheduler actions, got %d", len(found))
	}
	st := found[0]
	wantEqual(t, "scheduler Effect", get(t, st, "Effect"), "Allow")
	wantEqual(t, "scheduler actions", stringList(t, get(t, st, "Action")), manage)
	wantEqual(t, "scheduler Resource", get(t, st, "Resource"),
		obj{"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${CloseScheduleGroup}/*"})
	st = found[1]
	wantEqual(t, "group look-up Effect", get(t, st, "Effect"), "Allow")
	wantEqual(t, "group look-up actions", stringList(t, get(t, st, "Action")), []string{"scheduler:GetScheduleGroup"})
	wantEqual(t, "group look-up Resource", get(t, st, "Resource"),
		obj{"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/${CloseScheduleGroup}"})
}

func TestTemplateLetsTheFunctionPassOnlyTheScheduleRoleToScheduler(t *testing.T) {
	tpl := loadTemplate(t)
	pass := statementsGranting(t, functionStatements(t, tpl), "iam:PassRole")
	if len(pass) != 1 {
		t.Fatalf("want one statement granting iam:PassRole, got %d", len(pass))
	}
	wantEqual(t, "PassRole actions", stringList(t, get(t, pass[0], "Action")), []string{"iam:PassRole"})
	wantEqual(t, "PassRole Resource", get(t, pass[0], "Resource"), getAtt("CloseScheduleRole", "Arn"))
	wantEqual(t, "PassRole Condition", get(t, pass[0], "Condition"), obj{"StringEquals": obj{"iam:PassedToService": "scheduler.amazonaws.com"}})
}

func TestTemplateScheduleRoleIsAssumedByThisAccountsSchedulerForTheGroup(t *testing.T) {
	tpl := loadTemplate(t)
	role := getObj(t, tpl, "Resources", "CloseScheduleRole")
	wantEqual(t, "CloseScheduleRole.Type", get(t, role, "Type"), "AWS::IAM::Role")
	trust := statements(t, get(t, role, "Properties", "AssumeRolePolicyDocument"))
	if len(trust) != 1 {
		t.Fatalf("want one trust statement, got %d", len(trust))
	}
	wantEqual(t, "trust", trust[0], obj{
		"Effect":    "Allow",
		"Principal": obj{"Service": "scheduler.amazonaws.com"},
		"Action":    "sts:AssumeRole",
		"Condition": obj{
			"StringEquals": obj{"aws:SourceAccount": ref("AWS::AccountId")},
			"ArnEquals":    obj{"aws:SourceArn": getAtt("CloseScheduleGroup", "Arn")},
		},
	})
	if _, ok := getObj(t, role, "Properties")["ManagedPolicyArns"]; ok {
		t.Errorf("CloseScheduleRole has managed policies; it may send to the close queue and dead-letter, nothing else")
	}
}

// TestTemplateScheduleRoleSendsToTheCloseQueueOnly: Scheduler's SQS target is the close queue
// (PAYJS_SCHEDULE_TARGET_ARN) and its dead-letter queue the close DLQ; the role may send to
// those two and do nothing else, invoking the function included.
func TestTemplateScheduleRoleSendsToTheCloseQueueOnly(t *testing.T) {
	tpl := loadTemplate(t)
	var all []obj
	for _, p := range getList(t, tpl, "Resources", "CloseScheduleRole", "Properties", "Policies") {
		all = append(all, statements(t, get(t, p, "PolicyDocument"))...)
	}
	// No policy resource may attach to the role.
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"} {
		for name, p := range resourcesOfType(t, tpl, typ) {
			refs := map[string]bool{}
			references(p, refs)
			if refs["CloseScheduleRole"] {
				t.Errorf("%s also grants CloseScheduleRole permissions", name)
			}
		}
	}
	var actions []string
	var resources []any
	for _, st := range all {
		wantEqual(t, "schedule role statement Effect", get(t, st, "Effect"), "Allow")
		actions = append(actions, stringList(t, get(t, st, "Action"))...)
		resources = append(resources, get(t, st, "Resource"))
	}
	wantEqual(t, "schedule role actions", actions, []string{"sqs:SendMessage", "sqs:SendMessage"})
	fnEnv := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Environment", "Variables")
	wantEqual(t, "SendMessage resources", resources, []any{get(t, fnEnv, "PAYJS_SCHEDULE_DLQ_ARN"), get(t, fnEnv, "PAYJS_SCHEDULE_TARGET_ARN")})
	wantEqual(t, "PAYJS_SCHEDULE_TARGET_ARN", get(t, fnEnv, "PAYJS_SCHEDULE_TARGET_ARN"), getAtt("CloseQueue", "Arn"))
}

func TestTemplateScheduledClosesDeadLetterWhereTheyCanBeRedriven(t *testing.T) {
	// Scheduler's dead-letter messages carry the schedule's input, the plain close request, as
	// their body. In the close queue's dead-letter queue, start-message-move-task moves them to
	// the close queue; it refuses queues that are no SQS queue's dead-letter queue.
	tpl := loadTemplate(t)
	dlq := get(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Environment", "Variables", "PAYJS_SCHEDULE_DLQ_ARN")
	wantEqual(t, "PAYJS_SCHEDULE_DLQ_ARN", dlq, get(t, tpl, "Resources", "CloseQueue", "Properties", "RedrivePolicy", "deadLetterTargetArn"))
}

func TestTemplateDecryptsTheSecretWithTheCustomerKeyOnlyThroughSecretsManager(t *testing.T) {
	tpl := loadTemplate(t)
	wantEqual(t, "HasSecretKmsKey", get(t, tpl, "Conditions", "HasSecretKmsKey"),
		obj{"Fn::Not": []any{obj{"Fn::Equals": []any{ref("SecretKmsKeyArn"), ""}}}})
	param := getObj(t, tpl, "Parameters", "SecretKmsKeyArn")
	wantEqual(t, "SecretKmsKeyArn default", get(t, param, "Default"), "")
	pattern := regexp.MustCompile(getString(t, param, "AllowedPattern"))
	for arn, want := range map[string]bool{
		"": true,
		"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab":     true,
		"arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab": true,
		"arn:aws:kms:eu-west-1:123456789012:alias/payjs":                                  false, // an alias does not match in an IAM policy
		"arn:aws:kms:eu-west-1:123456789012:key/*":                                        false,
		"1234abcd-12ab-34cd-56ef-1234567890ab":                                            false,
	} {
		if got := pattern.MatchString(arn); got != want {
			t.Errorf("SecretKmsKeyArn pattern accepts %q = %v, want %v", arn, got, want)
		}
	}

	var conditional []any
	for _, p := range getList(t, tpl, "Resources", functionRole, "Properties", "Policies") {
		if c, ok := p.(obj)["Fn::If"].([]any); ok {
			conditional = c
		}
	}
	if conditional == nil {
		t.Fatalf("no conditional policy")
	}
	wantEqual(t, "conditional policy's condition", conditional[0], "HasSecretKmsKey")
	wantEqual(t, "kms statements", statements(t, get(t, conditional[1], "PolicyDocument")), []obj{{
		"Sid":      "DecryptTheSecretThroughSecretsManager",
		"Effect":   "Allow",
		"Action":   "kms:Decrypt",
		"Resource": ref("SecretKmsKeyArn"),
		"Condition": obj{"StringEquals": obj{
			"kms:ViaService":                  obj{"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"},
			"kms:EncryptionContext:SecretARN": ref("PayjsSecretArn"),
		}},
	}})
	// Nowhere else does the function get a KMS permission.
	var kms int
	for _, st := range functionStatements(t, tpl) {
		for _, a := range stringList(t, get(t, st, "Action")) {
			if strings.HasPrefix(a, "kms:") {
				kms++
			}
		}
	}
	if kms != 1 {
		t.Errorf("function statements grant %d KMS actions, want only the conditional kms:Decrypt", kms)
	}
}

func TestTemplateGrantsNoWildcardWhereItPromisesScope(t *testing.T) {
	tpl := loadTemplate(t)
	// The only wildcards are scopedWildcards: any schedule inside the function's own group,
	// any version or alias of the function itself, the stack's own alarms.
	check := func(where string, sts []obj) {
		eachAllowedResource(t, where, sts, func(actions []string, r any) {
			var s string
			switch x := r.(type) {
			case string:
				s = x
			case obj:
				if sub, ok := x["Fn::Sub"].(string); ok {
					s = sub
				}
			}
			if _, scoped := scopedWildcards[s]; strings.Contains(s, "*") && !scoped {
				t.Errorf("%s: allows %v on %q", where, actions, s)
			}
		})
	}
	for name, r := range resourcesOfType(t, tpl, "AWS::IAM::Role") {
		check(name, roleStatements(t, r))
	}
	// Not AWS::KMS::Key: in a key policy, Resource "*" is the key itself.
	for _, typ := range []string{"AWS::IAM::RolePolicy", "AWS::IAM::Policy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"} {
		for name, r := range resourcesOfType(t, tpl, typ) {
			check(name, statements(t, get(t, r, "Properties", "PolicyDocument")))
		}
	}
}

// queuePolicies maps each queue to the QueuePolicy resources that name it.
func queuePolicies(t *testing.T, tpl obj) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, p := range resourcesOfType(t, tpl, "AWS::SQS::QueuePolicy") {
		for _, q := range getList(t, p, "Properties", "Queues") {
			r, ok := q.(obj)["Ref"].(string)
			if !ok {
				t.Fatalf("%s names queue %v; want a Ref", name, q)
			}
			out[r] = append(out[r], name)
		}
	}
	return out
}

func TestTemplateQueuesDenyAccessWithoutTLS(t *testing.T) {
	tpl := loadTemplate(t)
	policies := queuePolicies(t, tpl)
	for queue := range resourcesOfType(t, tpl, "AWS::SQS::Queue") {
		// A queue has one policy: a second QueuePolicy would replace the first.
		if len(policies[queue]) != 1 {
			t.Errorf("queue %s has %d queue policies, want 1", queue, len(policies[queue]))
			continue
		}
		p := getObj(t, tpl, "Resources", policies[queue][0], "Properties")
		wantEqual(t, policies[queue][0]+" Queues", get(t, p, "Queues"), []any{ref(queue)})
		var denies int
		for _, st := range statements(t, get(t, p, "PolicyDocument")) {
			if getString(t, st, "Effect") != "Deny" {
				continue
			}
			denies++
			wantEqual(t, queue+" TLS deny", st, obj{
				"Sid":       "DenyWithoutTLS",
				"Effect":    "Deny",
				"Principal": "*",
				"Action":    "sqs:*",
				"Resource":  getAtt(queue, "Arn"),
				"Condition": obj{"Bool": obj{"aws:SecureTransport": "false"}},
			})
		}
		if denies != 1 {
			t.Errorf("queue %s: want one Deny statement, got %d", queue, denies)
		}
	}
}

// closeQueueName and closeQueueNameVars are the Fn::Sub that names the close queue: the
// stack's name and the first segment of its stack id.
const closeQueueName = "${AWS::StackName}-close-${StackUuid}"

var closeQueueNameVars = obj{"StackUuid": obj{"Fn::Select": []any{0, obj{"Fn::Split": []any{"-",
	obj{"Fn::Select": []any{2, obj{"Fn::Split": []any{"/", ref("AWS::StackId")}}}}}}}}}

func TestTemplateCloseDeadLetterQueueAcceptsRedriveFromTheCloseQueueOnly(t *testing.T) {
	tpl := loadTemplate(t)
	wantEqual(t, "CloseQueue QueueName", get(t, tpl, "Resources", "CloseQueue", "Properties", "QueueName"), obj{"Fn::Sub": []any{closeQueueName, closeQueueNameVars}})
	arn := []any{"arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + closeQueueName, closeQueueNameVars}
	wantEqual(t, "RedriveAllowPolicy", get(t, tpl, "Resources", "CloseDeadLetterQueue", "Properties", "RedriveAllowPolicy"), obj{
		"redrivePermission": "byQueue",
		"sourceQueueArns":   []any{obj{"Fn::Sub": arn}},
	})
	// Only the close queue's dead-letter queue is a redrive target.
	for name, q := range resourcesOfType(t, tpl, "AWS::SQS::Queue") {
		if name != "CloseQueue" {
			if _, ok := getObj(t, q, "Properties")["RedrivePolicy"]; ok {
				t.Errorf("%s has a RedrivePolicy; only CloseQueue redrives to CloseDeadLetterQueue", name)
			}
		}
	}

	// The name fits SQS's 80 characters for the default stack name, and for any up to 65.
	cfg := runPython(t, tomlToJSON, filepath.Join(repoRoot, "samconfig.toml"))
	stack := getString(t, cfg, "default", "global", "parameters", "stack_name")
	for _, s := range []string{stack, strings.Repeat("s", 65)} {
		name := strings.NewReplacer("${AWS::StackName}", s, "${StackUuid}", "1c2fa620").Replace(closeQueueName)
		if len(name) > 80 {
			t.Errorf("close queue name %q is %d characters; SQS allows 80", name, len(name))
		}
	}
}

// alarmNamePrefix is how every alarm's name starts; the alarm topic's key and policy admit
// alarms so named.
const alarmNamePrefix = "${AWS::StackName}-"

func TestTemplateAlarmTopicIsEncryptedWithAKeyCloudWatchMayUse(t *testing.T) {
	tpl := loadTemplate(t)
	topic := getObj(t, tpl, "Resources", "AlarmTopic")
	wantEqual(t, "AlarmTopic.Type", get(t, topic, "Type"), "AWS::SNS::Topic")
	// Not alias/aws/sns: the AWS managed key's policy does not admit CloudWatch, whose alarm
	// notifications would then never arrive.
	wantEqual(t, "AlarmTopic KmsMasterKeyId", get(t, topic, "Properties", "KmsMasterKeyId"), ref("AlarmTopicKey"))
	key := getObj(t, tpl, "Resources", "AlarmTopicKey")
	wantEqual(t, "AlarmTopicKey.Type", get(t, key, "Type"), "AWS::KMS::Key")
	wantEqual(t, "AlarmTopicKey EnableKeyRotation", get(t, key, "Properties", "EnableKeyRotation"), true)

	sourceArn := obj{"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" + alarmNamePrefix + "*"}
	cw := obj{"Service": "cloudwatch.amazonaws.com"}
	confused := obj{
		"StringEquals": obj{"aws:SourceAccount": ref("AWS::AccountId")},
		"ArnLike":      obj{"aws:SourceArn": sourceArn},
	}
	var found bool
	for _, st := range statements(t, get(t, key, "Properties", "KeyPolicy")) {
		if p, ok := st["Principal"].(obj); ok && p["Service"] != nil {
			wantEqual(t, "key policy service principal", p, cw)
			wantEqual(t, "key policy CloudWatch actions", stringList(t, get(t, st, "Action")), []string{"kms:Decrypt", "kms:GenerateDataKey*"})
			wantEqual(t, "key policy CloudWatch condition", get(t, st, "Condition"), confused)
			found = true
		}
	}
	if !found {
		t.Errorf("AlarmTopicKey's policy does not admit cloudwatch.amazonaws.com")
	}

	tp := getObj(t, tpl, "Resources", "AlarmTopicPolicy", "Properties")
	wantEqual(t, "AlarmTopicPolicy Topics", get(t, tp, "Topics"), []any{ref("AlarmTopic")})
	sts := statements(t, get(t, tp, "PolicyDocument"))
	if len(sts) != 1 {
		t.Fatalf("AlarmTopicPolicy: want one statement, got %d", len(sts))
	}
	wantEqual(t, "topic policy principal", get(t, sts[0], "Principal"), cw)
	wantEqual(t, "topic policy action", get(t, sts[0], "Action"), "sns:Publish")
	wantEqual(t, "topic policy resource", get(t, sts[0], "Resource"), ref("AlarmTopic"))
	wantEqual(t, "topic policy condition", get(t, sts[0], "Condition"), confused)
}

func TestTemplateAlarmEmailSubscribesOnlyWhenSet(t *testing.T) {
	tpl := loadTemplate(t)
	param := getObj(t, tpl, "Parameters", "AlarmEmail")
	wantEqual(t, "AlarmEmail default", get(t, param, "Default"), "")
	pattern := regexp.MustCompile(getString(t, param, "AllowedPattern"))
	for s, want := range map[string]bool{
		"":                      true,
		"ops@example.com":       true,
		"a.b+alarms@shop.co.uk": true,
		"ops":                   false,
		"ops@example":           false,
		"a@b.c, d@e.f":          false,
	} {
		if got := pattern.MatchString(s); got != want {
			t.Errorf("AlarmEmail pattern accepts %q = %v, want %v", s, got, want)
		}
	}
	wantEqual(t, "HasAlarmEmail", get(t, tpl, "Conditions", "HasAlarmEmail"),
		obj{"Fn::Not": []any{obj{"Fn::Equals": []any{ref("AlarmEmail"), ""}}}})
	subs := resourcesOfType(t, tpl, "AWS::SNS::Subscription")
	if len(subs) != 1 {
		t.Fatalf("want one subscription, got %d", len(subs))
	}
	for name, s := range subs {
		wantEqual(t, name+" Condition", get(t, s, "Condition"), "HasAlarmEmail")
		wantEqual(t, name+" Properties", get(t, s, "Properties"), obj{
			"TopicArn": ref("AlarmTopic"),
			"Protocol": "email",
			"Endpoint": ref("AlarmEmail"),
		})
	}
}

func TestTemplateEveryAlarmNotifiesTheTopicOnAlarmAndRecovery(t *testing.T) {
	tpl := loadTemplate(t)
	alarms := resourcesOfType(t, tpl, "AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	for name, a := range alarms {
		p := getObj(t, a, "Properties")
		wantEqual(t, name+" AlarmActions", get(t, p, "AlarmActions"), []any{ref("AlarmTopic")})
		wantEqual(t, name+" OKActions", get(t, p, "OKActions"), []any{ref("AlarmTopic")})
		// Named after the logical id, under the prefix the topic's policies admit.
		wantEqual(t, name+" AlarmName", get(t, p, "AlarmName"), obj{"Fn::Sub": alarmNamePrefix + strings.TrimSuffix(name, "Alarm")})
		getString(t, p, "AlarmDescription")
		// Idle queues, an idle function and event-only metrics publish nothing.
		wantEqual(t, name+" TreatMissingData", get(t, p, "TreatMissingData"), "notBreaching")
		wantEqual(t, name+" ComparisonOperator", get(t, p, "ComparisonOperator"), "GreaterThanThreshold")
		if _, ok := p["ActionsEnabled"]; ok && p["ActionsEnabled"] != true {
			t.Errorf("%s disables its actions", name)
		}
	}
}

// alarmOn returns the alarms on one metric by logical id.
func alarmOn(t *testing.T, tpl obj, namespace, metric string) map[string]obj {
	t.Helper()
	out := map[string]obj{}
	for name, a := range resourcesOfType(t, tpl, "AWS::CloudWatch::Alarm") {
		p := getObj(t, a, "Properties")
		if p["Namespace"] == namespace && p["MetricName"] == metric {
			out[name] = p
		}
	}
	return out
}

// failureQueues returns the queues that collect failures: the close queue's redrive target,
// the EventBridge rules' dead-letter queues, the asynchronous on-failure destination and the
// scheduled closes' dead-letter queue.
func failureQueues(t *testing.T, tpl obj) []string {
	t.Helper()
	set := map[string]bool{}
	add := func(v any) {
		ga, ok := v.(obj)["Fn::GetAtt"].([]any)
		if !ok || len(ga) != 2 || ga[1] != "Arn" {
			t.Fatalf("failure queue %v: want a GetAtt of a queue's Arn", v)
		}
		set[asString(t, ga[0])] = true
	}
	for _, q := range resourcesOfType(t, tpl, "AWS::SQS::Queue") {
		if rp, ok := getObj(t, q, "Properties")["RedrivePolicy"]; ok {
			add(get(t, rp, "deadLetterTargetArn"))
		}
	}
	_, target := closeOrderRule(t, tpl)
	add(get(t, target, "DeadLetterConfig", "Arn"))
	fn := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	add(get(t, fn, "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"))
	add(get(t, fn, "Environment", "Variables", "PAYJS_SCHEDULE_DLQ_ARN"))
	var out []string
	for q := range set {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

func TestTemplateAlarmsOnEveryDeadLetterQueueTheQueueAgeAndTheFunction(t *testing.T) {
	tpl := loadTemplate(t)
	queues := failureQueues(t, tpl)
	wantEqual(t, "failure queues", queues, []string{"AsyncFailureQueue", "CloseDeadLetterQueue", "EventDeadLetterQueue"})
	depth := alarmOn(t, tpl, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
	for _, q := range queues {
		var found bool
		for name, p := range depth {
			if !slices.ContainsFunc(getList(t, p, "Dimensions"), func(d any) bool {
				return jsonEqual(d, obj{"Name": "QueueName", "Value": getAtt(q, "QueueName")})
			}) {
				continue
			}
			found = true
			wantEqual(t, name+" Statistic", get(t, p, "Statistic"), "Maximum")
			wantEqual(t, name+" Threshold", get(t, p, "Threshold"), 0)
		}
		if !found {
			t.Errorf("no alarm on the depth of %s", q)
		}
	}

	age := alarmOn(t, tpl, "AWS/SQS", "ApproximateAgeOfOldestMessage")
	if len(age) != 1 {
		t.Fatalf("want one alarm on the close queue's age, got %d", len(age))
	}
	for name, p := range age {
		wantEqual(t, name+" Dimensions", get(t, p, "Dimensions"), []any{obj{"Name": "QueueName", "Value": getAtt("CloseQueue", "QueueName")}})
		wantEqual(t, name+" Threshold", get(t, p, "Threshold"), ref("CloseQueueAgeThreshold"))
		// Longer than a failing message takes to reach the dead-letter queue.
		q := getObj(t, tpl, "Resources", "CloseQueue", "Properties")
		toDLQ := getNumber(t, q, "VisibilityTimeout") * getNumber(t, q, "RedrivePolicy", "maxReceiveCount")
		if d := getNumber(t, tpl, "Parameters", "CloseQueueAgeThreshold", "Default"); d <= toDLQ {
			t.Errorf("CloseQueueAgeThreshold default %vs; a failing message already takes %vs to reach the dead-letter queue", d, toDLQ)
		}
	}

	for metric, threshold := range map[string]any{"Errors": ref("FunctionErrorsThreshold"), "Throttles": 0} {
		alarms := alarmOn(t, tpl, "AWS/Lambda", metric)
		if len(alarms) != 1 {
			t.Errorf("want one alarm on Lambda %s, got %d", metric, len(alarms))
		}
		for name, p := range alarms {
			wantEqual(t, name+" Dimensions", get(t, p, "Dimensions"), []any{obj{"Name": "FunctionName", "Value": ref("CloseOrderFunction")}})
			wantEqual(t, name+" Statistic", get(t, p, "Statistic"), "Sum")
			wantEqual(t, name+" Threshold", get(t, p, "Threshold"), threshold)
		}
	}
}

func TestTemplateAlarmsOnTheFunctionsOwnMetrics(t *testing.T) {
	tpl := loadTemplate(t)
	for metric, threshold := range map[string]any{
		"RetryableFailures": ref("RetryableFailuresThreshold"),
		"KeyMismatches":     0,
		"PaidOrders":        0, // the shop must deliver or refund
	} {
		alarms := alarmOn(t, tpl, emittedNamespace, metric)
		if len(alarms) != 1 {
			t.Errorf("want one alarm on %s, got %d", metric, len(alarms))
		}
		for name, p := range alarms {
			// The stack's own metric: another stack's closes never count here.
			wantEqual(t, name+" Dimensions", get(t, p, "Dimensions"), []any{stackDimension})
			wantEqual(t, name+" Statistic", get(t, p, "Statistic"), "Sum")
			wantEqual(t, name+" Period", get(t, p, "Period"), 300)
			wantEqual(t, name+" Threshold", get(t, p, "Threshold"), threshold)
		}
	}
	p := getObj(t, tpl, "Parameters", "RetryableFailuresThreshold")
	if d := getNumber(t, p, "Default"); d < 1 || d > 100 {
		t.Errorf("RetryableFailuresThreshold default %v; want a handful per 5 minutes", d)
	}
	secret := alarmOn(t, tpl, emittedNamespace, "SecretLoads")
	if len(secret) != 1 {
		t.Errorf("want one alarm on SecretLoads, got %d", len(secret))
	}
	for name, p := range secret {
		wantEqual(t, name+" Dimensions", get(t, p, "Dimensions"), []any{stackDimension, obj{"Name": "Result", "Value": "error"}})
	}
}

// emittedNamespace is the CloudWatch namespace of the function's own metrics.
const emittedNamespace = "PayjsClose"

// Every metric the function emits carries the dimension Stack, which the template sets to the
// stack's name (PAYJS_METRICS_STACK); stackDimension is an alarm's, stackInSub a dashboard's.
var stackDimension = obj{"Name": handler.StackDimension, "Value": ref("AWS::StackName")}

const stackInSub = "${AWS::StackName}"

// emittedMetric is one metric the function's EMF lines carry.
type emittedMetric struct {
	Name string
	Unit string
	// Dimensions maps each dimension to the values it takes; nil for a metric emitted with
	// the empty dimension set ("Dimensions": [[]]).
	Dimensions map[string][]string
}

// emittedMetrics is the function's metric contract, in emittedNamespace: every metric, its
// unit, and its dimensions with their values. Alarms and the dashboard may name only these;
// the EMF lines a real bootstrap prints are to be checked against the same table.
var emittedMetrics = []emittedMetric{
	{Name: "Closes", Unit: "Count", Dimensions: map[string][]string{
		"Outcome": {"closed", "already_closed", "paid", "rejected", "invalid", "error", "scheduled", "cancelled"}, //nolint:misspell // the status the README names
	}},
	{Name: "UpstreamLatency", Unit: "Milliseconds"},
	{Name: "RetryableFailures", Unit: "Count"},
	{Name: "KeyMismatches", Unit: "Count"},
	{Name: "KeyRotationsHealed", Unit: "Count"},
	{Name: "PaidOrders", Unit: "Count"},
	{Name: "UnverifiedSuccesses", Unit: "Count"},
	{Name: "SQSPermanentFailures", Unit: "Count"},
	{Name: "ColdStarts", Unit: "Count"},
	{Name: "SecretLoads", Unit: "Count", Dimensions: map[string][]string{"Result": {"ok", "error"}}},
	{Name: "SecretLoadLatency", Unit: "Milliseconds", Dimensions: map[string][]string{"Result": {"ok", "error"}}},
	{Name: "Schedules", Unit: "Count", Dimensions: map[string][]string{"Action": {"create", "reschedule", "cancel"}}},
	{Name: "OutcomePublishFailures", Unit: "Count"},
}

// metricUse is one metric an alarm or a dashboard widget names.
type metricUse struct {
	where, namespace, name, unit string
	dims                         map[string]string
}

// alarmMetricUses returns the metrics every alarm watches.
func alarmMetricUses(t *testing.T, tpl obj) []metricUse {
	t.Helper()
	var out []metricUse
	for name, a := range resourcesOfType(t, tpl, "AWS::CloudWatch::Alarm") {
		p := getObj(t, a, "Properties")
		if _, ok := p["Metrics"]; ok {
			t.Fatalf("%s uses metric math; teach alarmMetricUses to read it", name)
		}
		u := metricUse{where: "alarm " + name, namespace: getString(t, p, "Namespace"), name: getString(t, p, "MetricName"), dims: map[string]string{}}
		if unit, ok := p["Unit"].(string); ok {
			u.unit = unit
		}
		if ds, ok := p["Dimensions"]; ok {
			if m, ok := ds.(obj); ok {
				cond, ok := m["Fn::If"].([]any)
				if !ok || len(cond) != 3 {
					t.Fatalf("%s Dimensions: %v", name, ds)
				}
				ds = cond[1] // dimensions that depend on a condition: AWS metrics only
			}
			for _, d := range getList(t, ds) {
				v, _ := get(t, d, "Value").(string) // an intrinsic names an AWS resource...
				if jsonEqual(get(t, d, "Value"), ref("AWS::StackName")) {
					v = stackInSub // ...or the stack, as the dashboard spells it
				}
				u.dims[getString(t, d, "Name")] = v
			}
		}
		out = append(out, u)
	}
	return out
}

// dashboardBody decodes the dashboard's body; its ${...} are left in place, inside strings.
func dashboardBody(t *testing.T, tpl obj) obj {
	t.Helper()
	raw := getString(t, tpl, "Resources", "CloseDashboard", "Properties", "DashboardBody", "Fn::Sub")
	var body obj
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	return body
}

// dashboardMetricUses returns the metrics every dashboard widget plots.
func dashboardMetricUses(t *testing.T, body obj) []metricUse {
	t.Helper()
	var out []metricUse
	for i, w := range getList(t, body, "widgets") {
		if getString(t, w, "type") != "metric" {
			continue
		}
		title := getString(t, w, "properties", "title")
		for j, m := range getList(t, w, "properties", "metrics") {
			row, ok := m.([]any)
			if !ok || len(row) < 2 {
				t.Fatalf("widget %d %q metric %d: %v", i, title, j, m)
			}
			if _, ok := row[0].(obj); ok {
				t.Fatalf("widget %q uses an expression; teach dashboardMetricUses to read it", title)
			}
			u := metricUse{where: "widget " + title, dims: map[string]string{}}
			u.namespace, _ = row[0].(string)
			u.name, _ = row[1].(string)
			rest := row[2:]
			if n := len(rest); n > 0 {
				if _, ok := rest[n-1].(obj); ok {
					rest = rest[:n-1]
				}
			}
			if len(rest)%2 != 0 {
				t.Fatalf("widget %q metric %v: dimensions are not name/value pairs", title, row)
			}
			for k := 0; k < len(rest); k += 2 {
				name, _ := rest[k].(string)
				value, _ := rest[k+1].(string)
				u.dims[name] = value
			}
			// "." repeats the row above; spelling every row out keeps this check exact.
			if u.namespace == "." || u.name == "." || u.dims["."] != "" {
				t.Fatalf("widget %q metric %v: spell it out instead of \".\"", title, row)
			}
			out = append(out, u)
		}
	}
	return out
}

func TestTemplateAlarmsAndDashboardUseOnlyMetricsTheFunctionEmits(t *testing.T) {
	if emittedNamespace != handler.Namespace {
		t.Fatalf("emittedNamespace = %q, handler.Namespace = %q", emittedNamespace, handler.Namespace)
	}
	tpl := loadTemplate(t)
	contract := map[string]emittedMetric{}
	for _, m := range emittedMetrics {
		contract[m.Name] = m
	}
	uses := append(alarmMetricUses(t, tpl), dashboardMetricUses(t, dashboardBody(t, tpl))...)
	plotted := map[string]bool{} // "metric" or "metric dim=value" the dashboard shows
	for _, u := range uses {
		if u.namespace != emittedNamespace {
			if !strings.HasPrefix(u.namespace, "AWS/") {
				t.Errorf("%s: namespace %q is neither %s nor an AWS one", u.where, u.namespace, emittedNamespace)
			}
			continue
		}
		m, ok := contract[u.name]
		if !ok {
			t.Errorf("%s: %s/%s is not a metric the function emits", u.where, u.namespace, u.name)
			continue
		}
		// Every metric carries the stack; the contract lists the dimensions beside it.
		if v := u.dims[handler.StackDimension]; v != stackInSub {
			t.Errorf("%s: %s with %s=%q; want this stack's %s", u.where, u.name, handler.StackDimension, v, stackInSub)
		}
		delete(u.dims, handler.StackDimension)
		if u.unit != "" && u.unit != m.Unit {
			t.Errorf("%s: %s in %s; the function emits %s", u.where, u.name, u.unit, m.Unit)
		}
		// CloudWatch matches a metric by its exact dimension set.
		var got, want []string
		for d := range u.dims {
			got = append(got, d)
		}
		for d := range m.Dimensions {
			want = append(want, d)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %s with dimensions %v; the function emits it with %v", u.where, u.name, got, want)
			continue
		}
		key := u.name
		for d, v := range u.dims {
			if !slices.Contains(m.Dimensions[d], v) {
				t.Errorf("%s: %s %s=%q; the function emits %v", u.where, u.name, d, v, m.Dimensions[d])
			}
			key += " " + d + "=" + v
		}
		if strings.HasPrefix(u.where, "widget ") {
			plotted[key] = true
		}
	}
	// And the dashboard shows everything the function emits.
	for _, m := range emittedMetrics {
		if m.Dimensions == nil {
			if !plotted[m.Name] {
				t.Errorf("the dashboard does not show %s", m.Name)
			}
			continue
		}
		for d, values := range m.Dimensions {
			for _, v := range values {
				if !plotted[m.Name+" "+d+"="+v] {
					t.Errorf("the dashboard does not show %s %s=%s", m.Name, d, v)
				}
			}
		}
	}
}

func TestTemplateDashboardShowsWhatOperatorsNeed(t *testing.T) {
	tpl := loadTemplate(t)
	resources := getObj(t, tpl, "Resources")
	raw := getString(t, resources, "CloseDashboard", "Properties", "DashboardBody", "Fn::Sub")
	for _, m := range subVariable.FindAllStringSubmatch(raw, -1) {
		if strings.HasPrefix(m[1], "AWS::") {
			continue
		}
		if _, ok := resources[m[1]]; !ok {
			t.Errorf("DashboardBody names ${%s}, which is no resource", m[0])
		}
	}
	body := dashboardBody(t, tpl)

	// A readable grid: 24 columns, no widget on top of another.
	cells := map[[2]int]string{}
	for _, w := range getList(t, body, "widgets") {
		x, y := int(getNumber(t, w, "x")), int(getNumber(t, w, "y"))
		wd, ht := int(getNumber(t, w, "width")), int(getNumber(t, w, "height"))
		title, _ := getObj(t, w, "properties")["title"].(string)
		if x < 0 || wd < 1 || x+wd > 24 || ht < 1 {
			t.Errorf("widget %q at x=%d width=%d leaves the 24-column grid", title, x, wd)
		}
		for i := x; i < x+wd; i++ {
			for j := y; j < y+ht; j++ {
				if other, ok := cells[[2]int{i, j}]; ok {
					t.Errorf("widget %q overlaps %q", title, other)
					j, i = y+ht, x+wd
				}
				cells[[2]int{i, j}] = title
			}
		}
		if getString(t, w, "type") == "metric" {
			wantEqual(t, title+" region", get(t, w, "properties", "region"), "${AWS::Region}")
		}
	}

	type line struct{ namespace, name, stat, dim, value string }
	var lines []line
	for _, w := range getList(t, body, "widgets") {
		if getString(t, w, "type") != "metric" {
			continue
		}
		widgetStat, _ := getObj(t, w, "properties")["stat"].(string)
		for _, m := range getList(t, w, "properties", "metrics") {
			row := getList(t, m)
			l := line{namespace: asString(t, row[0]), name: asString(t, row[1]), stat: widgetStat}
			if opts, ok := row[len(row)-1].(obj); ok {
				if s, ok := opts["stat"].(string); ok {
					l.stat = s
				}
				row = row[:len(row)-1]
			}
			if len(row) >= 4 {
				l.dim, l.value = asString(t, row[2]), asString(t, row[3])
			}
			if l.namespace == emittedNamespace && l.dim == handler.StackDimension && len(row) >= 6 {
				l.dim, l.value = asString(t, row[4]), asString(t, row[5]) // the metric's own dimension
			} else if l.namespace == emittedNamespace && l.dim == handler.StackDimension {
				l.dim, l.value = "", ""
			}
			lines = append(lines, l)
		}
	}
	fn := "${CloseOrderFunction}"
	want := []line{
		{emittedNamespace, "UpstreamLatency", "p50", "", ""},
		{emittedNamespace, "UpstreamLatency", "p99", "", ""},
		{"AWS/Lambda", "Errors", "Sum", "FunctionName", fn},
		{"AWS/Lambda", "Throttles", "Sum", "FunctionName", fn},
		{"AWS/Lambda", "Duration", "p50", "FunctionName", fn},
		{"AWS/Lambda", "Duration", "p99", "FunctionName", fn},
		{"AWS/Lambda", "ConcurrentExecutions", "Maximum", "FunctionName", fn},
		{"AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", "QueueName", "${CloseQueue.QueueName}"},
	}
	for _, q := range failureQueues(t, tpl) {
		want = append(want, line{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "QueueName", "${" + q + ".QueueName}"})
	}
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("the dashboard does not plot %+v", w)
		}
	}

	// The alarm widget lists every alarm.
	var listed []string
	for _, w := range getList(t, body, "widgets") {
		if getString(t, w, "type") == "alarm" {
			listed = append(listed, stringList(t, get(t, w, "properties", "alarms"))...)
		}
	}
	var alarms []string
	for name := range resourcesOfType(t, tpl, "AWS::CloudWatch::Alarm") {
		alarms = append(alarms, "${"+name+".Arn}")
	}
	sort.Strings(listed)
	sort.Strings(alarms)
	wantEqual(t, "alarm widget", listed, alarms)

	// Two stacks of one name in two regions must not share the account-wide dashboard.
	wantEqual(t, "DashboardName", get(t, resources, "CloseDashboard", "Properties", "DashboardName"), obj{"Fn::Sub": "${AWS::StackName}-${AWS::Region}"})
}

func TestTemplateHTTPAPIThrottlesEveryRoute(t *testing.T) {
	tpl := loadTemplate(t)
	wantEqual(t, "DefaultRouteSettings", get(t, tpl, "Resources", "CloseApi", "Properties", "DefaultRouteSettings"), obj{
		"ThrottlingRateLimit":  ref("ApiThrottlingRateLimit"),
		"ThrottlingBurstLimit": ref("ApiThrottlingBurstLimit"),
	})
	params := getObj(t, tpl, "Parameters")
	rate, burst := getNumber(t, params, "ApiThrottlingRateLimit", "Default"), getNumber(t, params, "ApiThrottlingBurstLimit", "Default")
	// PAYJS, not the function, is the bottleneck: tens of requests a second, not thousands.
	if rate < 1 || rate > 100 {
		t.Errorf("ApiThrottlingRateLimit default %v", rate)
	}
	if burst < rate {
		t.Errorf("ApiThrottlingBurstLimit default %v is below the rate %v", burst, rate)
	}
	for _, name := range []string{"ApiThrottlingRateLimit", "ApiThrottlingBurstLimit"} {
		wantEqual(t, name+" Type", get(t, params, name, "Type"), "Number")
		if getNumber(t, params, name, "MinValue") < 1 {
			t.Errorf("%s allows 0, which would refuse every request", name)
		}
	}
	// No route may escape the default.
	if _, ok := getObj(t, tpl, "Resources", "CloseApi", "Properties")["RouteSettings"]; ok {
		t.Errorf("CloseApi has RouteSettings; every route shares the default throttling")
	}
}

func TestTemplateHTTPAPIWritesJSONAccessLogsToTheirOwnGroup(t *testing.T) {
	tpl := loadTemplate(t)
	als := getObj(t, tpl, "Resources", "CloseApi", "Properties", "AccessLogSettings")
	wantEqual(t, "DestinationArn", get(t, als, "DestinationArn"), getAtt("CloseApiAccessLogGroup", "Arn"))
	group := getObj(t, tpl, "Resources", "CloseApiAccessLogGroup")
	wantEqual(t, "CloseApiAccessLogGroup.Type", get(t, group, "Type"), "AWS::Logs::LogGroup")
	wantEqual(t, "CloseApiAccessLogGroup RetentionInDays", get(t, group, "Properties", "RetentionInDays"), ref("LogRetentionInDays"))

	format := getString(t, als, "Format")
	if strings.Contains(format, "\n") {
		t.Errorf("access log format spans lines; one request must be one log line")
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log format is not a JSON object of strings: %v\n%s", err, format)
	}
	for k, v := range map[string]string{
		"requestId":               "$context.requestId",
		"sourceIp":                "$context.identity.sourceIp",
		"userArn":                 "$context.identity.userArn",
		"httpMethod":              "$context.httpMethod",
		"routeKey":                "$context.routeKey",
		"status":                  "$context.status",
		"responseLatency":         "$context.responseLatency",
		"integrationStatus":       "$context.integrationStatus",
		"integrationErrorMessage": "$context.integrationErrorMessage",
		"errorMessage":            "$context.error.message",
	} {
		wantEqual(t, "access log "+k, fields[k], v)
	}
	for k, v := range fields {
		if !strings.HasPrefix(v, "$context.") {
			t.Errorf("access log %s = %q, want a $context variable", k, v)
		}
		// API Gateway writes these unescaped: a caller could close the string and add fields.
		if v == "$context.identity.userAgent" || v == "$context.path" {
			t.Errorf("access log %s = %s, free text a caller chooses", k, v)
		}
	}
}

// parseParameterOverrides reads a samconfig parameter_overrides string as sam deploy --guided
// writes it: Name="value" pairs separated by spaces.
func parseParameterOverrides(t *testing.T, s string) map[string]string {
	t.Helper()
	pair := regexp.MustCompile(`^(\w+)="((?:[^"\\]|\\.)*)"(?:\s+|$)`)
	out := map[string]string{}
	for rest := strings.TrimSpace(s); rest != ""; {
		m := pair.FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("parameter_overrides: cannot read %q", rest)
		}
		out[m[1]] = strings.ReplaceAll(m[2], `\"`, `"`)
		rest = rest[len(m[0]):]
	}
	return out
}

// parameterRefuses says why CloudFormation would refuse value for parameter p, or "".
func parameterRefuses(t *testing.T, p obj, value string) string {
	t.Helper()
	if pat, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile(pat).MatchString(value) {
		return "does not match " + pat
	}
	if av, ok := p["AllowedValues"].([]any); ok {
		if !slices.ContainsFunc(av, func(a any) bool { g, _ := json.Marshal(a); return strings.Trim(string(g), `"`) == value }) {
			return "is not one of the allowed values"
		}
	}
	if p["Type"] == "Number" {
		var n float64
		if err := json.Unmarshal([]byte(value), &n); err != nil {
			return "is not a number"
		}
		if lo, ok := p["MinValue"].(float64); ok && n < lo {
			return "is below MinValue"
		}
		if hi, ok := p["MaxValue"].(float64); ok && n > hi {
			return "is above MaxValue"
		}
	}
	return ""
}

// jsonEqual reports whether two decoded JSON values are equal.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestSAMBuildTargetStampsTheVersion(t *testing.T) {
	makeBin := requireTool(t, tool{"make", "apt-get install make"})
	makefile, err := filepath.Abs(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	// dryRun prints the commands make would run, in dir, with no VERSION from outside.
	dryRun := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), makeBin, append([]string{"--no-print-directory", "-n", "-f", makefile}, args...)...)
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "VERSION=") && !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		// git must not find a repository above a directory outside this one.
		cmd.Env = append(cmd.Env, "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %v in %s: %v\n%s", args, dir, err, out)
		}
		return strings.ReplaceAll(string(out), "\\\n", " ")
	}
	const flag = "-X github.com/payjs-close/payjs-close/payjs.Version="
	version := func(out string) string {
		t.Helper()
		i := strings.Index(out, flag)
		if i < 0 {
			t.Fatalf("no %s in:\n%s", flag, out)
		}
		v, _, _ := strings.Cut(out[i+len(flag):], `"`)
		return v
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	// The flags the README names stay.
	out := dryRun(root, "build-CloseOrderFunction", "ARTIFACTS_DIR=/artifacts")
	for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "-tags lambda.norpc", "-trimpath", `-ldflags "-s -w `, "-o /artifacts/bootstrap ./cmd/closeorder"} {
		if !strings.Contains(out, want) {
			t.Errorf("build-CloseOrderFunction lacks %q:\n%s", want, out)
		}
	}

	// In the repository: what git describe says, when there is git and a repository.
	want := "dev"
	if git, err := exec.LookPath("git"); err == nil {
		cmd := exec.CommandContext(t.Context(), git, "describe", "--tags", "--always", "--dirty")
		cmd.Dir = root
		if b, err := cmd.Output(); err == nil {
			want = strings.TrimSpace(string(b))
		}
	}
	if got := version(out); got != want {
		t.Errorf("version in the repository = %q, want %q", got, want)
	}
	// Where sam build copies the source: no repository, so "dev".
	dir := t.TempDir()
	if got := version(dryRun(dir, "build-CloseOrderFunction", "ARTIFACTS_DIR=/artifacts")); got != "dev" {
		t.Errorf("version outside a repository = %q, want dev", got)
	}
	// Set by hand, through make build too.
	out = dryRun(root, "build", "VERSION=1.2.3")
	if got := version(out); got != "1.2.3" {
		t.Errorf("make build VERSION=1.2.3 stamps %q", got)
	}
	if !strings.Contains(out, "-o "+filepath.Join(root, ".build", "bootstrap")) {
		t.Errorf("make build does not build into .build/:\n%s", out)
	}
}

func TestSamconfigHasWorkingDefaults(t *testing.T) {
	cfg := runPython(t, tomlToJSON, filepath.Join(repoRoot, "samconfig.toml"))
	wantEqual(t, "version", get(t, cfg, "version"), 0.1)
	wantEqual(t, "stack_name", get(t, cfg, "default", "global", "parameters", "stack_name"), "payjs-close")
	deploy := getObj(t, cfg, "default", "deploy", "parameters")
	wantEqual(t, "capabilities", get(t, deploy, "capabilities"), "CAPABILITY_IAM")
	wantEqual(t, "confirm_changeset", get(t, deploy, "confirm_changeset"), true)
	wantEqual(t, "resolve_s3", get(t, deploy, "resolve_s3"), true)
	// Region-agnostic and account-agnostic: guided deploy asks for these.
	for _, k := range []string{"region", "s3_bucket"} {
		if _, ok := deploy[k]; ok {
			t.Errorf("deploy parameters set %s; leave it to sam deploy --guided", k)
		}
	}
	// make runs where git can see the repository, so the bootstrap carries its real version.
	wantEqual(t, "build_in_source", get(t, cfg, "default", "build", "parameters", "build_in_source"), true)

	// The overrides start every operations parameter at a value its constraints accept; the
	// secret's ARN is the account's own, so guided deploy asks for it.
	tpl := loadTemplate(t)
	overrides := parseParameterOverrides(t, getString(t, deploy, "parameter_overrides"))
	for _, name := range []string{
		"AlarmEmail", "RetryableFailuresThreshold", "FunctionErrorsThreshold", "CloseQueueAgeThreshold",
		"ApiThrottlingRateLimit", "ApiThrottlingBurstLimit", "SecretKmsKeyArn",
		"SqsMaximumConcurrency", "SqsRecordConcurrency", "ReservedConcurrency", "DeploymentType",
		"OutcomeBusName", "OutcomeAllRequests",
	} {
		if _, ok := overrides[name]; !ok {
			t.Errorf("parameter_overrides does not set %s", name)
		}
	}
	wantEqual(t, "AlarmEmail override", overrides["AlarmEmail"], "")
	wantEqual(t, "SecretKmsKeyArn override", overrides["SecretKmsKeyArn"], "")
	if _, ok := overrides["PayjsSecretArn"]; ok {
		t.Errorf("parameter_overrides sets PayjsSecretArn; it is account-specific, leave it to sam deploy --guided")
	}
	for name, value := range overrides {
		p, ok := getObj(t, tpl, "Parameters")[name].(obj)
		if !ok {
			t.Errorf("parameter_overrides sets %s, which template.yaml does not declare", name)
			continue
		}
		if msg := parameterRefuses(t, p, value); msg != "" {
			t.Errorf("parameter_overrides %s=%q: %s", name, value, msg)
		}
	}
	envFile := getString(t, cfg, "default", "local_invoke", "parameters", "env_vars")
	if _, err := os.Stat(filepath.Join(repoRoot, envFile)); err != nil {
		t.Errorf("local_invoke env_vars: %v", err)
	}
}

func TestEnvFileOverridesOnlyVariablesTheTemplateDeclares(t *testing.T) {
	// sam local invoke ignores variables the template does not declare, silently.
	tpl := loadTemplate(t)
	declared := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Environment", "Variables")
	env := readJSON(t, "env.json")
	fn := getObj(t, env, "CloseOrderFunction")
	if len(env) != 1 {
		t.Errorf("env.json: want only the CloseOrderFunction key, got %d keys", len(env))
	}
	for k, v := range fn {
		if _, ok := declared[k]; !ok {
			t.Errorf("env.json sets %s, which template.yaml does not declare", k)
		}
		if _, ok := v.(string); !ok {
			t.Errorf("env.json %s is %T, want a string", k, v)
		}
	}
	if u := getString(t, fn, "PAYJS_BASE_URL"); !strings.HasPrefix(u, "https://") {
		t.Errorf("env.json PAYJS_BASE_URL = %q; the container is not loopback, so it must be https", u)
	}
}

// readJSON decodes one file from events/.
func readJSON(t *testing.T, name string) obj {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var v obj
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("events/%s: %v", name, err)
	}
	return v
}

// eventSamples maps each sample in events/ to a check of its kind's shape.
var eventSamples = map[string]func(t *testing.T, e obj){
	"http-api.json": func(t *testing.T, e obj) {
		wantEqual(t, "version", get(t, e, "version"), "2.0")
		wantEqual(t, "routeKey", get(t, e, "routeKey"), "POST /orders/{payjs_order_id}/close")
		wantEqual(t, "rawPath", get(t, e, "rawPath"), "/orders/2026112500000000000000000001/close")
		wantEqual(t, "requestContext.http.method", get(t, e, "requestContext", "http", "method"), "POST")
		wantEqual(t, "requestContext.http.path", get(t, e, "requestContext", "http", "path"), get(t, e, "rawPath"))
		wantEqual(t, "pathParameters", get(t, e, "pathParameters"), obj{"payjs_order_id": "2026112500000000000000000001"})
		wantEqual(t, "isBase64Encoded", get(t, e, "isBase64Encoded"), false)
		getString(t, e, "requestContext", "requestId")
	},
	"rest-api.json": func(t *testing.T, e obj) {
		wantEqual(t, "resource", get(t, e, "resource"), "/close")
		wantEqual(t, "httpMethod", get(t, e, "httpMethod"), "POST")
		wantEqual(t, "requestContext.resourcePath", get(t, e, "requestContext", "resourcePath"), "/close")
		wantEqual(t, "Content-Type", get(t, e, "headers", "Content-Type"), "application/x-www-form-urlencoded")
		wantEqual(t, "body", get(t, e, "body"), "payjs_order_id=2026112500000000000000000002")
		wantEqual(t, "isBase64Encoded", get(t, e, "isBase64Encoded"), false)
		if _, ok := e["version"]; ok {
			t.Errorf("a payload 1.0 event has no version field")
		}
	},
	"function-url.json": func(t *testing.T, e obj) {
		wantEqual(t, "version", get(t, e, "version"), "2.0")
		wantEqual(t, "routeKey", get(t, e, "routeKey"), "$default")
		wantEqual(t, "rawPath", get(t, e, "rawPath"), "/close")
		wantEqual(t, "requestContext.http.method", get(t, e, "requestContext", "http", "method"), "POST")
		wantEqual(t, "content-type", get(t, e, "headers", "content-type"), "application/json")
		wantEqual(t, "isBase64Encoded", get(t, e, "isBase64Encoded"), true)
		body, err := base64.StdEncoding.DecodeString(getString(t, e, "body"))
		if err != nil {
			t.Fatalf("body is not base64: %v", err)
		}
		var req obj
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("decoded body is not JSON: %v", err)
		}
		wantEqual(t, "decoded body", req, obj{"payjs_order_id": "2026112500000000000000000003"})
	},
	"eventbridge.json": func(t *testing.T, e obj) {
		checkEventBridge(t, e, "2026112500000000000000000004")
	},
	"sqs.json": func(t *testing.T, e obj) {
		records := getList(t, e, "Records")
		var ids []string
		for i, r := range records {
			wantEqual(t, "eventSource", get(t, r, "eventSource"), "aws:sqs")
			if arn := getString(t, r, "eventSourceARN"); !strings.HasPrefix(arn, "arn:aws:sqs:") {
				t.Errorf("record %d eventSourceARN = %q", i, arn)
			}
			body := getString(t, r, "body")
			sum := md5.Sum([]byte(body)) //nolint:gosec // G401: recomputing SQS's md5OfBody, not protecting anything.
			wantEqual(t, "md5OfBody", get(t, r, "md5OfBody"), hex.EncodeToString(sum[:]))
			getString(t, r, "receiptHandle")
			getString(t, r, "attributes", "ApproximateReceiveCount")
			ids = append(ids, getString(t, r, "messageId"))

			var msg obj
			if err := json.Unmarshal([]byte(body), &msg); err != nil {
				t.Errorf("record %d body is not JSON: %v", i, err)
			}
		}
		wantEqual(t, "messageIds", ids, []string{"msg-0005", "msg-0010", "msg-bad", "msg-0503", "msg-0006"})

		bodies := map[string]obj{}
		for _, r := range records {
			var msg obj
			_ = json.Unmarshal([]byte(getString(t, r, "body")), &msg)
			bodies[getString(t, r, "messageId")] = msg
		}
		wantEqual(t, "msg-0005", bodies["msg-0005"], obj{"payjs_order_id": "2026112500000000000000000005"})
		wantEqual(t, "msg-0010", bodies["msg-0010"], obj{"payjs_order_id": "2026112500000000000000000010"})
		wantEqual(t, "msg-bad", bodies["msg-bad"], obj{"payjs_order_id": "bad-id!"})
		wantEqual(t, "msg-0503", bodies["msg-0503"], obj{"payjs_order_id": "2026112500000000000000000503"})
		checkEventBridge(t, bodies["msg-0006"], "2026112500000000000000000006")
	},
	"direct.json": func(t *testing.T, e obj) {
		wantEqual(t, "direct request", e, obj{"payjs_order_id": "2026112500000000000000000007", "mchid": "1528140051"})
	},
	"schedule.json": func(t *testing.T, e obj) {
		wantEqual(t, "scheduled close", e, obj{"payjs_order_id": "2026112500000000000000000009", "close_after": "15m"})
	},
}

// checkEventBridge checks an EventBridge event that asks to close orderID.
func checkEventBridge(t *testing.T, e obj, orderID string) {
	t.Helper()
	wantEqual(t, "version", get(t, e, "version"), "0")
	wantEqual(t, "detail-type", get(t, e, "detail-type"), "Close PAYJS Order")
	wantEqual(t, "source", get(t, e, "source"), "com.example.shop")
	wantEqual(t, "detail", get(t, e, "detail"), obj{"payjs_order_id": orderID})
	wantEqual(t, "resources", get(t, e, "resources"), []any{})
	for _, k := range []string{"id", "account", "region"} {
		getString(t, e, k)
	}
	if _, err := time.Parse(time.RFC3339, getString(t, e, "time")); err != nil {
		t.Errorf("time: %v", err)
	}
}

func TestEventSamplesHaveTheShapeOfTheirKind(t *testing.T) {
	for name, check := range eventSamples {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			check(t, readJSON(t, name))
		})
	}
}

func TestEventsDirectoryHoldsOneSamplePerKindAndTheEnvFile(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "events"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"env.json"}
	for name := range eventSamples {
		want = append(want, name)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("events/ holds %v, want %v", got, want)
	}
}
