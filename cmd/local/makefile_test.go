package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readMakefile returns the lines of the repository's Makefile.
func readMakefile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

// make help lists the rules whose line matches its grep; every target a
// user types (a plain word, not a file or a variable) must.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	t.Parallel()
	rule := regexp.MustCompile(`^([A-Za-z0-9_.-]+):([^=]|$)`)
	listed := regexp.MustCompile(`^[a-zA-Z_-]+:.*## \S`) // the help recipe's grep
	var targets []string
	for _, line := range readMakefile(t) {
		m := rule.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(m[1], ".") { // .PHONY and the like
			continue
		}
		targets = append(targets, m[1])
		if !listed.MatchString(line) {
			t.Errorf("make help leaves out %s: give its rule a ## description\n%s", m[1], line)
		}
	}
	for _, want := range []string{"help", "run", "invoke", "test", "clean", "build-CloseOrderFunction"} {
		if !strings.Contains(" "+strings.Join(targets, " ")+" ", " "+want+" ") {
			t.Errorf("no rule for %s among %v", want, targets)
		}
	}
}

// make run and make invoke say they are building before the build, which
// prints nothing for a while with an empty build cache; then they run the
// binary built.
func TestMakeRunSaysItIsBuildingFirst(t *testing.T) {
	t.Parallel()
	lines := readMakefile(t)
	recipe := func(start *regexp.Regexp, end string) []string {
		t.Helper()
		for i, line := range lines {
			if start.MatchString(line) {
				var out []string
				for _, l := range lines[i+1:] {
					if l == end || (end == "" && !strings.HasPrefix(l, "\t")) {
						return out
					}
					out = append(out, strings.TrimPrefix(l, "\t"))
				}
				return out
			}
		}
		t.Fatalf("no %s in the Makefile", start)
		return nil
	}
	build := recipe(regexp.MustCompile(`^define build-local$`), "endef")
	if len(build) != 2 || !strings.HasPrefix(build[0], "@echo ") || !strings.Contains(build[0], "building") ||
		!strings.HasPrefix(build[1], "$(GO) build -o $(LOCAL) ./cmd/local") {
		t.Errorf("build-local = %q, want an @echo that says it is building, then the go build", build)
	}
	for _, target := range []string{"run", "invoke"} {
		r := recipe(regexp.MustCompile(`^`+target+`:`), "")
		if len(r) != 2 || r[0] != "$(build-local)" || !strings.HasPrefix(r[1], "@exec $(LOCAL)") {
			t.Errorf("make %s runs %q, want $(build-local), then the binary built", target, r)
		}
	}
}
