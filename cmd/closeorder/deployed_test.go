package main

// Checks on template.yaml as CloudFormation receives it: after the SAM transform, which adds
// roles, policies, event source mappings, aliases and deployment groups the template does not
// spell out. The transform is samtranslator's, as cfn-lint runs it.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// samTransform prints template.yaml (argv[1]) after the SAM transform, as JSON. It uses
// cfn-lint's own wrapper around samtranslator: the managed-policy map cfn-lint ships, a fake
// S3 location for the local CodeUri, and the region in argv[2].
const samTransform = `
import json, sys
from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform

tpl, matches = decode(sys.argv[1])
if matches:
    sys.exit("decode: " + "; ".join(str(m) for m in matches))
tr = Transform(sys.argv[1], tpl, sys.argv[2])
matches = tr.transform_template()
if matches:
    sys.exit("transform: " + "; ".join(str(m) for m in matches))
json.dump(tr.template(), sys.stdout)
`

// deployedJSON is the transformed template.
var deployedJSON cachedJSON

// loadDeployedTemplate returns template.yaml after the SAM transform.
func loadDeployedTemplate(t *testing.T) obj {
	t.Helper()
	return deployedJSON.load(t, func(t *testing.T) []byte {
		python := requireTool(t, python3)
		requireTool(t, cfnLint) // the transform is cfn-lint's samtranslator
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(t.Context(), python, "-c", samTransform, filepath.Join(repoRoot, "template.yaml"), "us-east-1")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("SAM transform of template.yaml: %v\n%s", err, stderr.String())
		}
		return stdout.Bytes()
	})
}

// scopedWildcards are the only resources with a "*" an Allow statement may name: each lies
// inside one of the stack's own resources.
var scopedWildcards = map[string]string{
	"arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${CloseScheduleGroup}/*": "schedules in the stack's group",
	"${CloseOrderFunction.Arn}:*": "versions and aliases of the stack's function",
	"arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" + alarmNamePrefix + "*": "the stack's alarms",
}

// unscopableActions are the actions that cannot name a resource, and so may be granted on
// "*". None is needed today: no X-Ray, no cloudwatch:PutMetricData (metrics are EMF log lines).
var unscopableActions = map[string]bool{}

// outsideParameters are the parameters that name a resource outside the stack, which the
// function is meant to use: the one secret, the key that encrypts it, and the shop's event bus
// that outcome events go to.
var outsideParameters = map[string]bool{"PayjsSecretArn": true, "SecretKmsKeyArn": true, "OutcomeBusName": true}

// checkResourceInStack fails the test unless r, one Resource of an Allow statement, names a
// resource of this stack (or one of outsideParameters).
func checkResourceInStack(t *testing.T, where string, actions []string, r any, resources obj) {
	t.Helper()
	if s, ok := r.(string); ok {
		if s == "*" && !slices.ContainsFunc(actions, func(a string) bool { return !unscopableActions[a] }) {
			return
		}
		t.Errorf("%s: allows %v on %q; name a resource of the stack", where, actions, s)
		return
	}
	refs := map[string]bool{}
	references(r, refs)
	var named bool
	for n := range refs {
		_, isResource := resources[n]
		switch {
		case isResource || outsideParameters[n]:
			named = true
		case strings.HasPrefix(n, "AWS::"):
		default:
			t.Errorf("%s: allows %v on %v, which names %s: neither a resource of the stack nor one of outsideParameters", where, actions, r, n)
		}
	}
	if sub, ok := asObj(t, r)["Fn::Sub"].(string); ok && strings.Contains(sub, "*") {
		if _, ok := scopedWildcards[sub]; !ok {
			t.Errorf("%s: allows %v on %q", where, actions, sub)
		}
		named = true // the stack's alarms are named after it
	}
	if !named {
		t.Errorf("%s: allows %v on %v, which names no resource of the stack", where, actions, r)
	}
}

// eachAllowedResource calls fn with every resource an Allow statement of sts grants, after
// failing the test for a wildcard action, NotAction or NotResource (a Deny may be as wide as
// it likes).
func eachAllowedResource(t *testing.T, where string, sts []obj, fn func(actions []string, r any)) {
	t.Helper()
	for _, st := range sts {
		if getString(t, st, "Effect") != "Allow" {
			continue
		}
		if _, ok := st["NotAction"]; ok {
			t.Errorf("%s: NotAction allows everything else", where)
		}
		if _, ok := st["NotResource"]; ok {
			t.Errorf("%s: NotResource allows everything else", where)
		}
		actions := stringList(t, get(t, st, "Action"))
		for _, a := range actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: allows %s", where, a)
			}
		}
		res := get(t, st, "Resource")
		list, ok := res.([]any)
		if !ok {
			list = []any{res}
		}
		for _, r := range list {
			fn(actions, r)
		}
	}
}

func TestDeployedTemplateGrantsNothingOutsideTheStack(t *testing.T) {
	tpl := loadDeployedTemplate(t)
	resources := getObj(t, tpl, "Resources")
	check := func(where string, sts []obj) {
		eachAllowedResource(t, where, sts, func(actions []string, r any) {
			checkResourceInStack(t, where, actions, r, resources)
		})
	}
	roles := resourcesOfType(t, tpl, "AWS::IAM::Role")
	if len(roles) == 0 {
		t.Fatal("no roles")
	}
	for name, r := range roles {
		// A managed policy is a document the stack does not control; AWS's grant on "*".
		if m, ok := getObj(t, r, "Properties")["ManagedPolicyArns"]; ok {
			t.Errorf("%s carries managed policies %v", name, m)
		}
		check(name, roleStatements(t, r))
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"} {
		for name, r := range resourcesOfType(t, tpl, typ) {
			check(name, statements(t, get(t, r, "Properties", "PolicyDocument")))
		}
	}

	// The function runs with its role, and that role grants exactly what the function does.
	wantEqual(t, "function Role", get(t, resources, "CloseOrderFunction", "Properties", "Role"), getAtt(functionRole, "Arn"))
	grants := map[string][]any{}
	for _, st := range functionStatements(t, tpl) {
		for _, a := range stringList(t, get(t, st, "Action")) {
			grants[a] = append(grants[a], get(t, st, "Resource"))
		}
	}
	for action, want := range map[string]any{
		"logs:CreateLogStream":          getAtt("CloseOrderLogGroup", "Arn"),
		"logs:PutLogEvents":             getAtt("CloseOrderLogGroup", "Arn"),
		"secretsmanager:GetSecretValue": ref("PayjsSecretArn"),
		"sqs:ReceiveMessage":            getAtt("CloseQueue", "Arn"),
		"sqs:DeleteMessage":             getAtt("CloseQueue", "Arn"),
		"sqs:GetQueueAttributes":        getAtt("CloseQueue", "Arn"),
		"sqs:SendMessage":               getAtt("AsyncFailureQueue", "Arn"),
		"iam:PassRole":                  getAtt("CloseScheduleRole", "Arn"),
		"kms:Decrypt":                   ref("SecretKmsKeyArn"),
		"scheduler:CreateSchedule":      obj{"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${CloseScheduleGroup}/*"},
		"scheduler:GetScheduleGroup":    obj{"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/${CloseScheduleGroup}"},
	} {
		wantEqual(t, action+" on", grants[action], []any{want})
	}
	// The function writes to the log group its LoggingConfig names, which the role's grant is.
	wantEqual(t, "LoggingConfig.LogGroup", get(t, resources, "CloseOrderFunction", "Properties", "LoggingConfig", "LogGroup"), ref("CloseOrderLogGroup"))
}

// TestDeployedTemplateSendsEveryEventSourceToTheLiveAlias: a rollback moves the alias, so
// whatever invokes the unqualified function would keep running a bad version.
func TestDeployedTemplateSendsEveryEventSourceToTheLiveAlias(t *testing.T) {
	tpl := loadDeployedTemplate(t)
	var aliases []string
	for name, a := range resourcesOfType(t, tpl, "AWS::Lambda::Alias") {
		wantEqual(t, name+" FunctionName", get(t, a, "Properties", "FunctionName"), ref("CloseOrderFunction"))
		wantEqual(t, name+" Name", get(t, a, "Properties", "Name"), "live")
		// CodeDeploy shifts it: the deploy, not the stack update, moves traffic.
		getObj(t, a, "UpdatePolicy", "CodeDeployLambdaAliasUpdate")
		aliases = append(aliases, name)
	}
	if len(aliases) != 1 {
		t.Fatalf("want one alias, got %v", aliases)
	}
	alias := ref(aliases[0])
	for name, m := range resourcesOfType(t, tpl, "AWS::Lambda::EventSourceMapping") {
		wantEqual(t, name+" FunctionName", get(t, m, "Properties", "FunctionName"), alias)
	}
	for name, p := range resourcesOfType(t, tpl, "AWS::Lambda::Permission") {
		wantEqual(t, name+" FunctionName", get(t, p, "Properties", "FunctionName"), alias)
	}
	rules := resourcesOfType(t, tpl, "AWS::Events::Rule")
	if len(rules) == 0 {
		t.Fatal("no EventBridge rule")
	}
	for name, r := range rules {
		for _, target := range getList(t, r, "Properties", "Targets") {
			arn := get(t, target, "Arn")
			refs := map[string]bool{}
			references(arn, refs)
			if refs["CloseOrderFunction"] && !refs[aliases[0]] {
				t.Errorf("%s targets the function itself (%v), not its alias", name, arn)
			}
		}
	}
	raw, err := json.Marshal(getObj(t, tpl, "Resources", "CloseApi", "Properties", "Body"))
	if err != nil {
		t.Fatal(err)
	}
	uris := regexp.MustCompile(`functions/\$\{(\w+)\}/invocations`).FindAllStringSubmatch(string(raw), -1)
	if len(uris) != 3 {
		t.Errorf("want 3 API integrations, got %d", len(uris))
	}
	for _, u := range uris {
		if u[1] != aliases[0] {
			t.Errorf("an API integration invokes %s, not the alias", u[1])
		}
	}
	configs := map[string]bool{}
	for name, c := range resourcesOfType(t, tpl, "AWS::Lambda::EventInvokeConfig") {
		wantEqual(t, name+" FunctionName", get(t, c, "Properties", "FunctionName"), ref("CloseOrderFunction"))
		configs[getString(t, c, "Properties", "Qualifier")] = true
	}
	wantEqual(t, "async invoke configs", configs, map[string]bool{"live": true, "$LATEST": true})
}

func TestDeployedTemplateShiftsTrafficGraduallyAndRollsBackOnTheFunctionsAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	param := getObj(t, tpl, "Parameters", "DeploymentType")
	wantEqual(t, "DeploymentType default", get(t, param, "Default"), "Canary10Percent5Minutes")
	allowed := stringList(t, get(t, param, "AllowedValues"))
	if !slices.Contains(allowed, "AllAtOnce") {
		t.Errorf("DeploymentType does not allow AllAtOnce: %v", allowed)
	}
	for _, v := range allowed {
		if !regexp.MustCompile(`^(Canary10Percent(5|10|15|30)Minutes|Linear10PercentEvery(1Minute|[23]Minutes|10Minutes)|AllAtOnce)$`).MatchString(v) {
			t.Errorf("DeploymentType allows %q, which is no CodeDeployDefault.Lambda configuration", v)
		}
	}
	fn := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties")
	wantEqual(t, "AutoPublishAlias", get(t, fn, "AutoPublishAlias"), "live")
	wantEqual(t, "DeploymentPreference Type", get(t, fn, "DeploymentPreference", "Type"), ref("DeploymentType"))

	// Every alarm on the function's own health rolls a deploy back; the queue alarms do not
	// (old messages would block every deploy), nor PaidOrder (the customer's doing).
	want := []string{}
	for name, a := range resourcesOfType(t, tpl, "AWS::CloudWatch::Alarm") {
		p := getObj(t, a, "Properties")
		ns := getString(t, p, "Namespace")
		if ns == emittedNamespace && p["MetricName"] != "PaidOrders" || ns == "AWS/Lambda" {
			want = append(want, name)
		}
	}
	sort.Strings(want)
	deployed := loadDeployedTemplate(t)
	groups := resourcesOfType(t, deployed, "AWS::CodeDeploy::DeploymentGroup")
	if len(groups) != 1 {
		t.Fatalf("want one deployment group, got %d", len(groups))
	}
	for name, g := range groups {
		p := getObj(t, g, "Properties")
		wantEqual(t, name+" AlarmConfiguration.Enabled", get(t, p, "AlarmConfiguration", "Enabled"), true)
		var got []string
		for _, a := range getList(t, p, "AlarmConfiguration", "Alarms") {
			got = append(got, asString(t, get(t, a, "Name", "Ref")))
		}
		sort.Strings(got)
		wantEqual(t, name+" alarms", got, want)
		if events := stringList(t, get(t, p, "AutoRollbackConfiguration", "Events")); !slices.Contains(events, "DEPLOYMENT_STOP_ON_ALARM") {
			t.Errorf("%s does not roll back on alarm: %v", name, events)
		}
		// Its own role, not SAM's with AWSCodeDeployRoleForLambda.
		wantEqual(t, name+" ServiceRoleArn", get(t, p, "ServiceRoleArn"), getAtt("CloseOrderDeployRole", "Arn"))
	}
}

// TestTemplatePassesCfnLintInEveryPartition: silent at every level, informational checks
// included, in the commercial, China and GovCloud partitions.
func TestTemplatePassesCfnLintInEveryPartition(t *testing.T) {
	lint := requireTool(t, cfnLint)
	cmd := exec.CommandContext(t.Context(), lint, "--include-checks", "I", "--regions", "us-east-1", "cn-north-1", "us-gov-west-1", "--", "template.yaml")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("cfn-lint --regions us-east-1 cn-north-1 us-gov-west-1 template.yaml: %v\n%s", err, out)
	}
}

// TestTemplateNamesNoPartitionOrDomain: every ARN takes ${AWS::Partition}, every AWS domain
// ${AWS::URLSuffix} or the partition mapping. Service principals (x.amazonaws.com) are the
// same in every partition.
func TestTemplateNamesNoPartitionOrDomain(t *testing.T) {
	tpl := loadTemplate(t)
	hardCoded := regexp.MustCompile(`arn:aws(-cn|-us-gov)?:|amazonaws\.com|amazon\.com|amazonaws\.cn`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case obj:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			if !hardCoded.MatchString(x) {
				return
			}
			switch {
			case strings.HasPrefix(path, ".Mappings.Partition."),
				strings.HasSuffix(path, ".Principal.Service"),
				strings.HasSuffix(path, ".Condition.StringEquals.iam:PassedToService"):
				return
			}
			t.Errorf("%s = %q names a partition or domain", path, x)
		}
	}
	walk("", tpl)
}

// TestTemplateAlarmsWhereACloseCanBeLostOutsideTheFunction: the deliveries that have no queue
// left to fall back on.
func TestTemplateAlarmsWhereACloseCanBeLostOutsideTheFunction(t *testing.T) {
	tpl := loadTemplate(t)
	rule := "CloseOrderRule" // the rule SAM generates for the CloseOrderRule event
	ruleName := func(i int) obj {
		return obj{"Fn::Select": []any{i, obj{"Fn::Split": []any{"/", getAtt(rule, "Arn")}}}}
	}
	// arn:...:rule/NAME on the default bus, arn:...:rule/BUS/NAME on another, where the
	// metrics carry EventBusName too.
	ruleDims := obj{"Fn::If": []any{"IsDefaultEventBus",
		[]any{obj{"Name": "RuleName", "Value": ruleName(1)}},
		[]any{obj{"Name": "EventBusName", "Value": ref("EventBusName")}, obj{"Name": "RuleName", "Value": ruleName(2)}},
	}}
	wantEqual(t, "IsDefaultEventBus", get(t, tpl, "Conditions", "IsDefaultEventBus"), obj{"Fn::Equals": []any{ref("EventBusName"), "default"}})
	group := []any{obj{"Name": "ScheduleGroup", "Value": ref("CloseScheduleGroup")}}
	fn := []any{obj{"Name": "FunctionName", "Value": ref("CloseOrderFunction")}}
	for _, c := range []struct {
		namespace, metric string
		dims              any
	}{
		{"AWS/Events", "FailedInvocations", ruleDims},
		{"AWS/Events", "InvocationsFailedToBeSentToDlq", ruleDims},
		{"AWS/Scheduler", "InvocationDroppedCount", group},
		{"AWS/Scheduler", "TargetErrorCount", group}, // e.g. schedules that still target the function after an upgrade
		{"AWS/Scheduler", "InvocationsFailedToBeSentToDeadLetterCount", group},
		{"AWS/Lambda", "DestinationDeliveryFailures", fn},
	} {
		alarms := alarmOn(t, tpl, c.namespace, c.metric)
		if len(alarms) != 1 {
			t.Errorf("want one alarm on %s %s, got %d", c.namespace, c.metric, len(alarms))
		}
		for name, p := range alarms {
			wantEqual(t, name+" Dimensions", get(t, p, "Dimensions"), c.dims)
			wantEqual(t, name+" Statistic", get(t, p, "Statistic"), "Sum")
			wantEqual(t, name+" Threshold", get(t, p, "Threshold"), 0)
		}
	}
}

// TestReadmeHasARunbookLineForEveryAlarm: the Operations table names every alarm.
func TestReadmeHasARunbookLineForEveryAlarm(t *testing.T) {
	tpl := loadTemplate(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "\n## Operations")
	if i < 0 {
		t.Fatal("README has no Operations section")
	}
	ops := readme[i+1:]
	if j := strings.Index(ops, "\n## "); j >= 0 {
		ops = ops[:j]
	}
	rows := map[string]bool{}
	for line := range strings.Lines(ops) {
		if m := regexp.MustCompile("^\\| `([A-Za-z]+)` \\|[^|]+\\|[^|]+\\|").FindStringSubmatch(line); m != nil {
			rows[m[1]] = true
		}
	}
	for name := range resourcesOfType(t, tpl, "AWS::CloudWatch::Alarm") {
		if short := strings.TrimSuffix(name, "Alarm"); !rows[short] {
			t.Errorf("README Operations has no runbook row for %s", short)
		}
	}
}

// TestReadmeSaysWhatTheChinaRegionsLackAndNeed: no Function URLs there (the template uses
// none: TestTemplateHTTPAPIRoutesRequireIAMAuth), and an ICP filing only for an API without
// authentication, which the stack has none of.
func TestReadmeSaysWhatTheChinaRegionsLackAndNeed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	deploy, _, _ := strings.Cut(readme[strings.Index(readme, "\n## Deploy")+1:], "\n## Operations")
	for _, want := range []string{"China", "GovCloud", "Function URLs", "ICP", "cn-north-1", "us-gov-west-1"} {
		if !strings.Contains(deploy, want) {
			t.Errorf("README Deploy does not mention %s", want)
		}
	}
}
