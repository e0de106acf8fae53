package main

import (
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/handler"
)

// TestTemplatePublishesOutcomesOnlyWhenABusIsNamed: OutcomeBusName is off
// by default; with a bus, the function's role may put events with the
// function's source on that bus only, through a policy that exists only
// then; publish failures raise an alarm.
func TestTemplatePublishesOutcomesOnlyWhenABusIsNamed(t *testing.T) {
	tpl := loadTemplate(t)
	p := getObj(t, tpl, "Parameters", "OutcomeBusName")
	wantEqual(t, "OutcomeBusName Default", get(t, p, "Default"), "")
	for _, v := range []string{"shop-events", "default"} {
		if why := parameterRefuses(t, p, v); why != "" {
			t.Errorf("OutcomeBusName refuses %q: %s", v, why)
		}
	}
	for _, v := range []string{"arn:aws:events:us-east-1:123456789012:event-bus/shop", "shop events"} {
		if parameterRefuses(t, p, v) == "" {
			t.Errorf("OutcomeBusName takes %q; the policy's ARN is built from a name", v)
		}
	}
	wantEqual(t, "HasOutcomeBus", get(t, tpl, "Conditions", "HasOutcomeBus"),
		obj{"Fn::Not": []any{obj{"Fn::Equals": []any{ref("OutcomeBusName"), ""}}}})

	env := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Environment", "Variables")
	wantEqual(t, "PAYJS_OUTCOME_BUS", get(t, env, "PAYJS_OUTCOME_BUS"), ref("OutcomeBusName"))
	// PAYJS_OUTCOME_ALL without a bus would stop the function at init.
	wantEqual(t, "PAYJS_OUTCOME_ALL", get(t, env, "PAYJS_OUTCOME_ALL"), obj{"Fn::If": []any{"HasOutcomeBus", ref("OutcomeAllRequests"), "false"}})

	pol := getObj(t, tpl, "Resources", "OutcomePublishPolicy")
	wantEqual(t, "OutcomePublishPolicy Type", get(t, pol, "Type"), "AWS::IAM::RolePolicy")
	wantEqual(t, "OutcomePublishPolicy Condition", get(t, pol, "Condition"), "HasOutcomeBus")
	wantEqual(t, "OutcomePublishPolicy RoleName", get(t, pol, "Properties", "RoleName"), ref("CloseOrderFunctionRole"))
	sts := statements(t, get(t, pol, "Properties", "PolicyDocument"))
	if len(sts) != 1 {
		t.Fatalf("OutcomePublishPolicy has %d statements, want 1", len(sts))
	}
	st := sts[0]
	wantEqual(t, "Effect", get(t, st, "Effect"), "Allow")
	wantEqual(t, "Action", stringList(t, get(t, st, "Action")), []string{"events:PutEvents"})
	wantEqual(t, "Resource", get(t, st, "Resource"),
		obj{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${OutcomeBusName}"})
	wantEqual(t, "Condition", get(t, st, "Condition"), obj{"StringEquals": obj{"events:source": handler.OutcomeSource}})

	// Nothing else grants EventBridge actions to the function.
	for _, st := range functionStatements(t, tpl) {
		for _, a := range stringList(t, get(t, st, "Action")) {
			if strings.HasPrefix(a, "events:") {
				t.Errorf("the function's Policies grant %s; OutcomePublishPolicy is the one place", a)
			}
		}
	}

	alarms := alarmOn(t, tpl, emittedNamespace, "OutcomePublishFailures")
	if len(alarms) != 1 {
		t.Fatalf("want one alarm on OutcomePublishFailures, got %d", len(alarms))
	}
	for name, p := range alarms {
		wantEqual(t, name+" Threshold", get(t, p, "Threshold"), 0)
		wantEqual(t, name+" Statistic", get(t, p, "Statistic"), "Sum")
		// Like every metric of the function, it carries the stack's name and nothing else.
		wantEqual(t, name+" Dimensions", get(t, p, "Dimensions"), []any{obj{"Name": "Stack", "Value": ref("AWS::StackName")}})
	}
}
