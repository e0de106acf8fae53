package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/payjs-close/payjs-close/cmd/closeorder/wire"
)

// events/env.json is the environment of `sam local invoke` and `sam local
// start-api`. A variable the template declares and env.json leaves out
// gets what SAM makes of the template's value: for a Ref or GetAtt of a
// resource, a placeholder (the resource's logical id, or a Lambda ARN
// named after it), which the function would take for a real group or
// role. So env.json sets every declared variable, to a value that works
// under sam local, and the function starts with exactly that environment.
func TestEnvFileSetsEveryVariableTheTemplateDeclares(t *testing.T) {
	tpl := loadTemplate(t)
	declared := getObj(t, tpl, "Resources", "CloseOrderFunction", "Properties", "Environment", "Variables")
	fn := getObj(t, readJSON(t, "env.json"), "CloseOrderFunction")
	env := map[string]string{}
	for name := range declared {
		v, ok := fn[name].(string)
		if !ok {
			t.Errorf("env.json lacks %s, which template.yaml declares: under sam local it would get SAM's placeholder for %v", name, declared[name])
			continue
		}
		env[name] = v
	}

	// No value is a placeholder for a resource of the template.
	var logicalIDs []string
	for id := range getObj(t, tpl, "Resources") {
		logicalIDs = append(logicalIDs, regexp.QuoteMeta(id))
	}
	placeholder := regexp.MustCompile(`(^|[:/])(` + strings.Join(logicalIDs, "|") + `)$`)
	for name, v := range env {
		if placeholder.MatchString(v) {
			t.Errorf("env.json %s = %q: a placeholder for a template resource, which does not exist under sam local", name, v)
		}
	}

	// The function starts with it, scheduling off or wholly configured.
	cfg, err := wire.LoadConfig(func(name string) string { return env[name] })
	if err != nil {
		t.Fatalf("the function refuses env.json: %v", err)
	}
	if cfg.SecretID != "payjs-close" {
		t.Errorf("env.json PAYJS_SECRET_ID = %q, want payjs-close, the secret the README creates", cfg.SecretID)
	}
	schedule := []string{env["PAYJS_SCHEDULE_GROUP"], env["PAYJS_SCHEDULE_ROLE_ARN"], env["PAYJS_SCHEDULE_DLQ_ARN"]}
	if set := len(nonEmpty(schedule)); set != 0 && set != len(schedule) {
		t.Errorf("env.json schedule group, role and DLQ = %q: set all three (from the stack's outputs) or none (scheduling off)", schedule)
	}
}

// nonEmpty returns the values of s that are not empty.
func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
