package devstack

import "testing"

func TestFunctionErrorIsToldApartByShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body     string
		wantType string // "" for no FunctionError
	}{
		{`{"errorMessage":"{\"ok\":false}","errorType":"payjs_unavailable"}`, "payjs_unavailable"},
		{`{"errorMessage":"boom","errorType":"runtime.Error","stackTrace":[]}`, "runtime.Error"},
		{`Task timed out after 10.00 seconds`, "Sandbox.Timedout"},
		{`{"ok":true,"status":"closed"}`, ""},
		{`{"statusCode":503,"body":"{\"errorType\":\"x\"}"}`, ""},
		{`{"batchItemFailures":[{"itemIdentifier":"msg-0503"}]}`, ""},
		{`{"errorMessage":"x","errorType":"y","ok":false}`, ""}, // a result that happens to hold the names
		{`{"errorType":"y"}`, ""},
		{`{"errorMessage":1,"errorType":"y"}`, ""},
		{`[]`, ""},
		{`null`, ""},
	}
	for _, tt := range tests {
		fe := functionError([]byte(tt.body))
		switch {
		case tt.wantType == "" && fe != nil:
			t.Errorf("%s: a FunctionError %+v, want none", tt.body, fe)
		case tt.wantType != "" && (fe == nil || fe.Type != tt.wantType):
			t.Errorf("%s: %+v, want a FunctionError of type %s", tt.body, fe, tt.wantType)
		}
	}
}
