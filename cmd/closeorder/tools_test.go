package main

import (
	"os/exec"
	"testing"
)

// tool is a command some tests of this package run.
type tool struct {
	name string
	hint string // how to install it
}

var (
	// python3 reads template.yaml and samconfig.toml as CloudFormation and
	// SAM read them (PyYAML, and tomllib of Python 3.11+).
	python3 = tool{"python3", "Python 3.11+ and PyYAML: pip install pyyaml, or apt-get install python3 python3-yaml"}
	cfnLint = tool{"cfn-lint", "pip install cfn-lint"}
	awsCLI  = tool{"aws", "pip install awscli, or apt-get install awscli"}
)

// requireTool sorts a test that runs tl into its tier. Under go test
// -short, which needs nothing but Go, it skips the test, saying why.
// Otherwise it returns tl's path, and fails the test with an install hint
// when tl is not on PATH; it never skips.
func requireTool(t *testing.T, tl tool) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s: skipped under -short; the full tier (`make test`, or go test without -short) runs it", tl.name)
	}
	p, err := exec.LookPath(tl.name)
	if err != nil {
		t.Fatalf("%s is required but not on PATH: %v\ninstall it with: %s (`make test` installs it before it runs the tests)", tl.name, err, tl.hint)
	}
	return p
}
