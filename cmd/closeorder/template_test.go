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
	"testing"
	"time"
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

// loadTemplate reads template.yaml with the intrinsic functions in their long form.
func loadTemplate(t *testing.T) obj {
	t.Helper()
	return runPython(t, cfnToJSON, filepath.Join(repoRoot, "template.yaml"))
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

func TestTemplatePassesCfnLintWithNoFindings(t *testing.T) {
	lint := requireTool(t, cfnLint)
	// Informational checks too: the template must be silent at every level.
	cmd := exec.CommandContext(t.Context(), lint, "--include-checks", "I", "--", "template.yaml")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
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
	wantEqual(t, "LoggingConfig.ApplicationLogLevel", get(t, p, "LoggingConfig", "ApplicationLogLevel"), ref("LogLevel"))
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
	wantEqual(t, "HTTP routes", routes, []string{"POST /close", "POST /orders/{payjs_order_id}/close"})

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
	policies := getList(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Policies")
	wantEqual(t, "Policies", policies, []any{
		obj{"AWSSecretsManagerGetSecretValuePolicy": obj{"SecretArn": ref("PayjsSecretArn")}},
	})
	if _, ok := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")["Role"]; ok {
		t.Errorf("CloseOrderFunction sets Role; SAM must generate the least-privilege role from Policies")
	}
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

	// A dead-letter queue SAM would create itself (DeadLetterConfig.Type or an on-failure
	// destination without Destination) would not be encrypted by this template.
	for name, e := range eventsOfType(t, tpl, "EventBridgeRule") {
		if _, ok := getObj(t, e, "Properties", "DeadLetterConfig")["Type"]; ok {
			t.Errorf("%s: DeadLetterConfig.Type makes SAM create an unencrypted queue; use Arn", name)
		}
	}
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

func TestTemplateEventBridgeRuleRetriesAndDeadLetters(t *testing.T) {
	tpl := loadTemplate(t)
	events := eventsOfType(t, tpl, "EventBridgeRule")
	for name, e := range events {
		p := getObj(t, e, "Properties")
		wantEqual(t, name+" detail-type", get(t, p, "Pattern", "detail-type"), []any{"Close PAYJS Order"})
		wantEqual(t, name+" source", get(t, p, "Pattern", "source"), []any{ref("EventSource")})
		if n := getNumber(t, p, "RetryPolicy", "MaximumRetryAttempts"); n < 1 {
			t.Errorf("%s RetryPolicy.MaximumRetryAttempts = %v", name, n)
		}
		getNumber(t, p, "RetryPolicy", "MaximumEventAgeInSeconds")
		wantEqual(t, name+" DeadLetterConfig", get(t, p, "DeadLetterConfig"), obj{"Arn": getAtt("EventDeadLetterQueue", "Arn")})

		// The dead-letter queue accepts messages from this rule only.
		stmts := getList(t, tpl, "Resources", "EventDeadLetterQueuePolicy", "Properties", "PolicyDocument", "Statement")
		if len(stmts) != 1 {
			t.Fatalf("EventDeadLetterQueuePolicy: want one statement, got %d", len(stmts))
		}
		wantEqual(t, "DLQ policy principal", get(t, stmts[0], "Principal"), obj{"Service": "events.amazonaws.com"})
		wantEqual(t, "DLQ policy action", get(t, stmts[0], "Action"), "sqs:SendMessage")
		wantEqual(t, "DLQ policy source", get(t, stmts[0], "Condition", "ArnEquals", "aws:SourceArn"), getAtt("CloseOrderFunction"+name, "Arn"))
	}
	wantEqual(t, "EventSource default", get(t, tpl, "Parameters", "EventSource", "Default"), "com.example.shop")
}

func TestTemplateAsyncInvokeFailuresLandInAnEncryptedQueue(t *testing.T) {
	tpl := loadTemplate(t)
	cfg := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "EventInvokeConfig")
	wantEqual(t, "MaximumRetryAttempts", get(t, cfg, "MaximumRetryAttempts"), 2)
	wantEqual(t, "OnFailure", get(t, cfg, "DestinationConfig", "OnFailure"), obj{"Type": "SQS", "Destination": getAtt("AsyncFailureQueue", "Arn")})
}

func TestTemplateConfiguresTheFunctionAsDesignSays(t *testing.T) {
	tpl := loadTemplate(t)
	p := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	wantEqual(t, "Environment", get(t, p, "Environment", "Variables"), obj{
		"PAYJS_SECRET_ID":         ref("PayjsSecretArn"),
		"PAYJS_BASE_URL":          ref("PayjsBaseUrl"),
		"PAYJS_TIMEOUT":           ref("PayjsTimeout"),
		"PAYJS_SECRET_TTL":        ref("PayjsSecretTtl"),
		"PAYJS_REQUIRE_SIGNATURE": ref("RequireSignature"),
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
		"ApiUrl", "CloseOrderFunctionName", "CloseOrderFunctionArn", "CloseQueueUrl",
		"CloseDeadLetterQueueUrl", "EventDeadLetterQueueUrl", "AsyncFailureQueueUrl",
	} {
		get(t, outputs, name, "Value")
	}
	wantEqual(t, "CloseQueueUrl", get(t, outputs, "CloseQueueUrl", "Value"), ref("CloseQueue"))
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
	for _, k := range []string{"region", "parameter_overrides", "s3_bucket"} {
		if _, ok := deploy[k]; ok {
			t.Errorf("deploy parameters set %s; leave it to sam deploy --guided", k)
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
