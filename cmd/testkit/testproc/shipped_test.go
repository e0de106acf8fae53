package testproc_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestTheBootstrapShipsNoTestTooling: the test tooling of cmd/testkit
// (this package, testlog, mototest), the simulator and package
// testing stay out of the function's bootstrap, which only tests and
// local tools may pull them into.
func TestTheBootstrapShipsNoTestTooling(t *testing.T) {
	t.Parallel()
	const module = "github.com/payjs-close/payjs-close"
	out, err := exec.CommandContext(context.Background(), "go", "list", "-deps", module+"/cmd/closeorder").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	shipped := false
	for _, p := range deps {
		shipped = shipped || p == module+"/cmd/closeorder"
		ours := strings.HasPrefix(p, module+"/")
		if p == "testing" || ours && (strings.HasPrefix(p, module+"/cmd/testkit/") || strings.HasSuffix(p, "test")) {
			t.Errorf("the bootstrap imports %s", p)
		}
	}
	if !shipped {
		t.Fatalf("go list -deps did not list the bootstrap itself:\n%s", out)
	}
}
