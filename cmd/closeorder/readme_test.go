package main

// The README's "The day after deploy" commands, run as a merchant would
// copy them, with bash, against stand-ins: the outputs they read exist in
// template.yaml, the signed curl is valid SigV4 for execute-api, the
// EventBridge event matches the rule, and the caller's policy covers every
// route.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var bashTool = tool{"bash", "apt-get install bash"}

// dayAfterDeploy returns the README's section "The day after deploy".
func dayAfterDeploy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## The day after deploy\n")
	if !ok {
		t.Fatal(`README.md has no section "## The day after deploy"`)
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}

// shellBlock returns the ```sh block of section that contains marker, as
// a reader copies it: without the indentation of its list item.
func shellBlock(t *testing.T, section, marker string) string {
	t.Helper()
	fence := regexp.MustCompile("(?ms)^( *)```sh\n(.*?)^ *```$")
	for _, m := range fence.FindAllStringSubmatch(section, -1) {
		if !strings.Contains(m[2], marker) {
			continue
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(m[2], "\n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, m[1]))
		}
		return strings.Join(lines, "\n") + "\n"
	}
	t.Fatalf("the README's day after deploy has no sh block with %q", marker)
	return ""
}

// runBash runs script with bash in a temporary directory, with env added
// to the environment, and returns its stdout.
func runBash(t *testing.T, script string, env ...string) string {
	t.Helper()
	bash := requireTool(t, bashTool)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v\nscript:\n%s\nstderr:\n%s", err, script, stderr.String())
	}
	return string(out)
}

func TestDayAfterDeployReadsOutputsTheTemplateHas(t *testing.T) {
	section := dayAfterDeploy(t)
	tpl := loadTemplate(t)
	outputs, params := getObj(t, tpl, "Outputs"), getObj(t, tpl, "Parameters")
	named := map[string]bool{}
	// `out ApiUrl` in a command, and outputs named in the text.
	for _, m := range regexp.MustCompile(`\bout ([A-Z][a-z][A-Za-z0-9]*)`).FindAllStringSubmatch(section, -1) {
		named[m[1]] = true
	}
	for _, m := range regexp.MustCompile("`([A-Z][A-Za-z0-9]+(?:Url|Arn|Name))`").FindAllStringSubmatch(section, -1) {
		if _, isParam := params[m[1]]; !isParam {
			named[m[1]] = true
		}
	}
	for _, want := range []string{"ApiUrl", "CloseQueueUrl", "CloseOrderFunctionAliasArn", "DashboardUrl", "AlarmTopicArn", "ScheduleGroupName"} {
		if !named[want] {
			t.Errorf("the section does not read the output %s; it reads %v", want, named)
		}
	}
	for name := range named {
		if _, ok := outputs[name]; !ok {
			t.Errorf("the README's day after deploy reads the output %s, which template.yaml does not declare", name)
		}
	}
	for _, want := range []string{"make smoke", "describe-stacks", "--aws-sigv4", "put-events", "sqs send-message", "lambda invoke", "DashboardUrl", "sam logs", "sam delete"} {
		if !strings.Contains(section, want) {
			t.Errorf("the README's day after deploy lacks %s", want)
		}
	}
}

// The signed curl, with long-term keys and with temporary credentials,
// sends what the AWS SDK's own SigV4 signer signs for execute-api: the
// same signed headers and the same signature.
func TestDayAfterDeployCurlSignsForExecuteAPI(t *testing.T) {
	requireTool(t, tool{"curl", "apt-get install curl (7.75 or later: --aws-sigv4)"})
	script := shellBlock(t, dayAfterDeploy(t), "--aws-sigv4")
	const order, region = "2026112500000000000000000001", "ap-east-1"

	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Clone(context.Background()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	for _, token := range []string{"", "FQoGZXIvYXdzEXAMPLETOKEN"} {
		creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: token}
		runBash(t, `out() { [ "$1" = ApiUrl ] && echo "$TEST_API_URL"; }`+"\n"+script,
			"TEST_API_URL="+srv.URL, "ORDER="+order, "REGION="+region,
			"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_SESSION_TOKEN="+token)
		mu.Lock()
		if len(got) != 1 {
			mu.Unlock()
			t.Fatalf("token %q: the server got %d requests, want 1", token, len(got))
		}
		r := got[0]
		got = nil
		mu.Unlock()

		if r.Method != http.MethodPost || r.URL.Path != "/orders/"+order+"/close" {
			t.Errorf("token %q: curl sent %s %s, want POST /orders/%s/close", token, r.Method, r.URL.Path, order)
		}
		if r.Header.Get("X-Amz-Security-Token") != token {
			t.Errorf("token %q: x-amz-security-token = %q", token, r.Header.Get("X-Amz-Security-Token"))
		}
		signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			t.Fatalf("token %q: X-Amz-Date %q: %v", token, r.Header.Get("X-Amz-Date"), err)
		}
		want, err := http.NewRequestWithContext(t.Context(), r.Method, srv.URL+r.URL.RequestURI(), http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		empty := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, want, hex.EncodeToString(empty[:]), "execute-api", region, signingTime); err != nil {
			t.Fatal(err)
		}
		if g, w := r.Header.Get("Authorization"), want.Header.Get("Authorization"); g != w {
			t.Errorf("token %q: curl's Authorization\n  %s\nthe SDK's signer\n  %s", token, g, w)
		}
	}
}

// The put-events entry matches the rule's pattern in template.yaml, with
// the source read from the stack's EventSource parameter.
func TestDayAfterDeployEventMatchesTheRule(t *testing.T) {
	tpl := loadTemplate(t)
	script := shellBlock(t, dayAfterDeploy(t), "put-events")
	source := getString(t, tpl, "Parameters", "EventSource", "Default")
	const order = "2026112500000000000000000004"
	// aws answers the EventSource query with the parameter's value, and
	// prints the entries put-events would send.
	stub := `aws() {
  case "$1 $2" in
  "cloudformation describe-stacks") [[ "$*" == *"ParameterKey=='EventSource'"* ]] && echo "$TEST_SOURCE" ;;
  "events put-events") [ "$3" = --entries ] && cat "${4#file://}" ;;
  *) echo "unexpected: aws $*" >&2; return 1 ;;
  esac
}
`
	out := runBash(t, stub+script, "STACK=payjs-close", "ORDER="+order, "TEST_SOURCE="+source)
	var entries []struct {
		Source, DetailType, Detail, EventBusName string
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 1 {
		t.Fatalf("put-events entries %q: %v, want one entry", out, err)
	}
	e := entries[0]
	pattern := getObj(t, tpl, "Resources", "CloseOrderRule", "Properties", "EventPattern")
	if want := get(t, pattern, "source"); !jsonEqual(want, []any{ref("EventSource")}) || e.Source != source {
		t.Errorf("Source = %q; the rule matches %v, the EventSource parameter (default %q)", e.Source, want, source)
	}
	if types, _ := get(t, pattern, "detail-type").([]any); len(types) != 1 || types[0] != e.DetailType {
		t.Errorf("DetailType = %q; the rule matches %v", e.DetailType, types)
	}
	var detail map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil || detail["payjs_order_id"] != order || len(detail) != 1 {
		t.Errorf("Detail = %q (%v), want {\"payjs_order_id\": %q}", e.Detail, err, order)
	}
	if e.EventBusName != "" && e.EventBusName != getString(t, tpl, "Parameters", "EventBusName", "Default") {
		t.Errorf("EventBusName = %q", e.EventBusName)
	}
}

// The caller's policy allows execute-api:Invoke on every route of the
// HTTP API, in the API the stack's ApiUrl names, and on nothing else.
func TestDayAfterDeployCallerPolicyCoversEveryRoute(t *testing.T) {
	tpl := loadTemplate(t)
	script := shellBlock(t, dayAfterDeploy(t), "put-role-policy")
	const apiID, account, region = "a1b2c3d4e5", "123456789012", "ap-east-1"
	stub := `out() { [ "$1" = ApiUrl ] && echo "https://` + apiID + `.execute-api.` + region + `.amazonaws.com"; }
aws() {
  case "$1 $2" in
  "sts get-caller-identity") echo ` + account + ` ;;
  "iam put-role-policy") while [ $# -gt 0 ]; do [ "$1" = --policy-document ] && printf '%s' "$2"; shift; done ;;
  *) echo "unexpected: aws $*" >&2; return 1 ;;
  esac
}
`
	out := runBash(t, stub+script, "REGION="+region)
	var doc struct {
		Version   string
		Statement []struct {
			Effect, Action string
			Resource       []string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Statement) != 1 {
		t.Fatalf("policy %q: %v, want one statement", out, err)
	}
	st := doc.Statement[0]
	if doc.Version != "2012-10-17" || st.Effect != "Allow" || st.Action != "execute-api:Invoke" {
		t.Errorf("policy %+v, want 2012-10-17, Allow execute-api:Invoke", doc)
	}
	// IAM's wildcard: * is any run of characters, / included.
	allows := func(arn string) bool {
		for _, r := range st.Resource {
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(r), `\*`, ".*") + "$"
			if regexp.MustCompile(re).MatchString(arn) {
				return true
			}
		}
		return false
	}
	prefix := "arn:aws:execute-api:" + region + ":" + account + ":" + apiID + "/$default/"
	routes := 0
	for name, e := range functionEvents(t, tpl) {
		if getString(t, e, "Type") != "HttpApi" {
			continue
		}
		routes++
		path := strings.ReplaceAll(getString(t, e, "Properties", "Path"), "{payjs_order_id}", "2026112500000000000000000001")
		if arn := prefix + getString(t, e, "Properties", "Method") + path; !allows(arn) {
			t.Errorf("the policy does not allow %s (route %s)", arn, name)
		}
	}
	if routes == 0 {
		t.Error("template.yaml has no HttpApi route")
	}
	for _, arn := range []string{
		prefix + "GET/orders/2026112500000000000000000001/close",
		"arn:aws:execute-api:" + region + ":" + account + ":otherapi/$default/POST/close",
	} {
		if allows(arn) {
			t.Errorf("the policy allows %s, which is no route of this API", arn)
		}
	}
}
